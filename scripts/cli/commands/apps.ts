import { str, UsageError } from "../args.js";
import { emit, EXIT, type Command } from "../command.js";
import { flags } from "../flags.js";
import { deployedApps, loadApps, recordApps, shippedDefinitionNames } from "../../apps/index.js";
import { deployApps } from "../../deploy/apps.js";
import { openSession, waitHealthy } from "../../deploy/connect.js";
import { CliError } from "../../errors.js";
import { Progress } from "../../progress/index.js";
import { findCluster, loadCluster, MODEL_FILE } from "../../state/load.js";
import { serviceNamed } from "../../../stacks/model/index.js";
import { loadTarget } from "../../targets/registry.js";

export const apps: Command = {
  usage: "push|list (--spec FILE | --name NAME) [--json]",
  flags: [flags.spec, flags.name],
  details: [
    "push: checks every application of the spec (app.yaml, job definitions, scripts), installs the packages they",
    "  declare on the compute nodes (local target: checks this machine's), copies each application to a new version",
    "  folder on the head's shared filesystem, switches the applications over and restarts the job server.",
    "  New and changed definitions appear; removed ones stop accepting jobs; running jobs keep their version.",
    "  With --spec the spec's current apps list is pushed; with --name the list saved at the last up or push.",
    "list: the applications deployed on the cluster and their job definitions.",
  ].join("\n"),
  async run(args, ctx) {
    const [sub] = args.positional;
    if (sub !== "push" && sub !== "list") throw new UsageError("apps needs push or list, e.g. `uws-cluster apps push --spec cluster.yaml`");
    const { cluster: saved, state } = findCluster({ spec: str(args, "spec"), name: str(args, "name"), cwd: ctx.cwd, env: ctx.env, verb: `apps ${sub}` });
    if (!saved || !state.readJson(MODEL_FILE)) throw new CliError(`no cluster ${state.name} is up (nothing recorded in ${state.dir}); run uws-cluster up first`);
    if (sub === "list") {
      const deployed = deployedApps(state);
      emit(ctx, { ok: true, name: state.name, apps: deployed }, deployed.length
        ? deployed.map((a) => `${a.name} (version ${a.version}, pushed ${a.pushedAt}): ${a.definitions.join(", ")}${a.packages.length ? `; packages ${a.packages.join(" ")}` : ""}`).join("\n")
        : `no application deployed on ${state.name} (add apps: to the spec, then uws-cluster apps push --spec FILE)`);
      return EXIT.ok;
    }
    // The spec's current applications on the cluster as it was created (its id, nodes and addresses).
    const specApps = str(args, "spec") ? loadCluster(str(args, "spec")!, { cwd: ctx.cwd, env: ctx.env, persist: false, ...(str(args, "name") ? { name: str(args, "name")! } : {}) }).cluster.apps : saved.apps;
    const cluster = { ...saved, apps: specApps };
    const bundles = loadApps(cluster, shippedDefinitionNames());
    const progress = Progress.for(ctx.stdout as NodeJS.WritableStream & { isTTY?: boolean }, ctx.json);
    const session = await progress.step(`Connecting to ${cluster.name}`, async () => openSession(await loadTarget(cluster.target), { cluster, state, env: ctx.env, cwd: ctx.cwd, progress, args }));
    try {
      const head = session.door.nodes.find((n) => n.node.role === "head")!;
      await progress.step(`Pushing ${bundles.length ? bundles.map((b) => `${b.name} (${b.version})`).join(", ") : "no application"}`, () => deployApps(cluster, bundles, {
        pool: session.pool, head: head.ssh, computes: session.door.nodes.filter((n) => n.node.role === "compute").map((n) => n.ssh),
        ...(session.door.installPackages ? { installPackages: session.door.installPackages } : {}),
      }));
      await progress.step("Restarting the job server (running jobs go on)", async () => {
        await session.door.startServices(session.pool, head.node, [serviceNamed("uws-server")]);
        await waitHealthy(session.url);
      });
    } finally {
      await session.close();
    }
    state.writeJson(MODEL_FILE, cluster);
    const record = recordApps(state, bundles);
    progress.emit({ ok: true, name: cluster.name, apps: record });
    progress.info(`${cluster.name}: ${record.length ? record.map((a) => `${a.name} ${a.version} (${a.definitions.join(", ")})`).join("; ") : "no application"} deployed`);
    return EXIT.ok;
  },
};
