import { bool, need, str } from "../args.js";
import { EXIT, type Command } from "../command.js";
import { loadCluster } from "../load.js";
import { curlExample, preflight, upLocal } from "../../deploy/local.js";
import { fmtMs, Progress, StepError } from "../../deploy/progress.js";

export const up: Command = {
  name: "up",
  summary: "create a cluster, configure it over SSH and wait until it runs jobs",
  usage: "--spec FILE [--name NAME] [--install-deps] [--json]",
  flags: [
    { name: "spec", type: "string", help: "cluster spec (YAML or JSON)" },
    { name: "name", type: "string", help: "cluster name overriding the spec's (e.g. one per CI run)" },
    { name: "install-deps", type: "boolean", help: "local target: install missing Debian packages (as root)" },
  ],
  details: [
    "Ready means: every Slurm node idle, the job server healthy, and a canary UWS job COMPLETED on a compute node.",
    "Exit 3 when a prerequisite is missing (root, packages), 4 when the cluster came up but is not ready",
    "(it is left as is for inspection: uws-cluster status / ssh; remove it with uws-cluster down).",
    "--json prints one JSON object per step, then a final object with url, nodes and timings.",
  ].join("\n"),
  async run(args, ctx) {
    const loaded = loadCluster(need(args, "spec", "the cluster spec, e.g. --spec examples/local.yaml"), { cwd: ctx.cwd, env: ctx.env, persist: true, name: str(args, "name") });
    const { cluster, state } = loaded;
    if (cluster.target !== "local") {
      throw Object.assign(new Error(`the ${cluster.target} target is not wired yet in up; use target: local for now`), { exitCode: EXIT.failure });
    }
    const progress = Progress.for(ctx.stdout as NodeJS.WritableStream & { isTTY?: boolean }, ctx.json);
    preflight({ installDeps: bool(args, "install-deps"), log: (s) => progress.info(s) });
    progress.info(`Creating local cluster ${cluster.name} (1 head + ${cluster.computes.length} compute)`);
    try {
      const r = await upLocal(cluster, state, { progress, env: ctx.env });
      const curl = curlExample(r.url, r.adminTokenFile);
      progress.emit({ ok: true, name: cluster.name, url: r.url, nodes: r.nodes, canary: r.readiness.canary, timings: r.timings, totalMs: r.totalMs, adminTokenFile: r.adminTokenFile, curl });
      progress.info([
        "",
        `Cluster ${cluster.name} is ready in ${fmtMs(r.totalMs)}; canary job ran on ${r.readiness.canary.node}.`,
        `Job server: ${r.url}`,
        "Submit a job (the admin token is read from the cluster's state dir):",
        `  ${curl}`,
        `Shell on the head: uws-cluster ssh head --spec ...   Remove: uws-cluster down --name ${cluster.name}`,
      ].join("\n"));
      return EXIT.ok;
    } catch (e) {
      if (e instanceof StepError) {
        progress.info(`\nThe cluster is left as it is for inspection: uws-cluster status --name ${cluster.name}; uws-cluster ssh NODE --name ${cluster.name}; node logs in ${state.path("nodes")}.\nRemove it with: uws-cluster down --name ${cluster.name}`);
      }
      throw e;
    }
  },
};
