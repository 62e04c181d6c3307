import { str } from "../args.js";
import { downCloud, findCloudClusterId } from "../../deploy/cloud.js";
import { Progress } from "../../deploy/progress.js";
import { parseBackendUrl, selectEngine, type Engine, type EngineChoice } from "../../engines/index.js";
import { existsSync, rmSync } from "node:fs";
import { emit, EXIT, type Command, type CommandContext } from "../command.js";
import type { ParsedArgs } from "../args.js";
import type { Cluster } from "../../../stacks/model/index.js";
import type { ClusterState } from "../../state/store.js";
import { downLocal, findCluster } from "../../deploy/local.js";
import { fmtMs } from "../../deploy/progress.js";
import { RECORD_FILE } from "../../../stacks/local/index.js";

export const down: Command = {
  name: "down",
  summary: "remove a cluster and everything it created (idempotent)",
  usage: "(--spec FILE | --name NAME) [--engine auto|tofu|terraform|pulumi] [--cloud NAME] [--json]",
  flags: [
    { name: "spec", type: "string", help: "cluster spec (YAML or JSON)" },
    { name: "name", type: "string", help: "cluster name (alone, or overriding the spec's)" },
    { name: "engine", type: "string", help: "openstack target: the engine that created it (auto: tofu, else terraform)", default: "auto" },
    { name: "cloud", type: "string", help: "openstack target: cloud in clouds.yaml (default: $OS_CLOUD, else the OS_* variables)" },
    { name: "backend", type: "string", help: "openstack target: the engine state backend given to up (or $UWS_CLUSTER_BACKEND)" },
  ],
  details: [
    "Local target: stops every process it started (by PID), deletes namespaces, veths, bridge, mounts, the shared",
    "folder and the local state. Works after an interrupted up. Nothing to remove is not an error.",
    "OpenStack target: the engine destroys what its state knows, then every resource tagged with the cluster's",
    "uws-cluster-id is deleted in dependency order (also when the engine state, the image or the flavor is gone,",
    "or no engine is installed); resources without the tag are never touched. Exit 1 if anything tagged remains.",
  ].join("\n"),
  async run(args, ctx) {
    const { cluster, state } = findCluster({ spec: str(args, "spec"), name: str(args, "name"), cwd: ctx.cwd, env: ctx.env, verb: "down" });
    const cloudCreds = !!(str(args, "cloud") || ctx.env.OS_CLOUD || ctx.env.OS_AUTH_URL);
    if (!existsSync(state.path(RECORD_FILE)) && (cluster?.target === "openstack" || (!cluster && cloudCreds))) {
      const code = await downOpenstack(state, cluster, args, ctx);
      // undefined: not in the cloud either, so a local cluster known by name only (its names derive from it).
      if (code !== undefined) return code;
    }
    const t0 = performance.now();
    const r = await downLocal(state, cluster);
    const ms = Math.round(performance.now() - t0);
    emit(ctx, { ok: true, name: state.name, removed: r.removed, ms }, r.removed ? `cluster ${state.name} removed (${fmtMs(ms)})` : `no local cluster ${state.name}: nothing to remove`);
    return EXIT.ok;
  },
};

async function downOpenstack(state: ClusterState, cluster: Cluster | undefined, args: ParsedArgs, ctx: CommandContext): Promise<number | undefined> {
  const progress = Progress.for(ctx.stdout as NodeJS.WritableStream & { isTTY?: boolean }, ctx.json);
  const backendUrl = str(args, "backend") ?? ctx.env.UWS_CLUSTER_BACKEND;
  const o = { env: ctx.env, cwd: ctx.cwd, cloud: str(args, "cloud"), progress, ...(backendUrl ? { backend: parseBackendUrl(backendUrl) } : {}) };
  // Without saved state the id in the spec's model is a throw-away: find the real one by the name tag.
  const known = cluster && state.peekIdentity() ? cluster : undefined;
  const id = known ? known.id : await findCloudClusterId(o, state.name);
  if (!id) {
    if (!cluster) return undefined;
    rmSync(state.dir, { recursive: true, force: true });
    emit(ctx, { ok: true, name: state.name, removed: false }, `no cluster ${state.name} in the project (no resource tagged uws-cluster=${state.name}): nothing to remove`);
    return EXIT.ok;
  }
  let engine: Engine | undefined;
  try {
    engine = selectEngine(str(args, "engine") as EngineChoice, ctx.env);
  } catch (e) {
    progress.info((e as Error).message.split("\n")[0]!);
  }
  const t0 = performance.now();
  const r = await downCloud({ id, ...(known ? { cluster: known } : {}) }, state, { ...o, ...(engine ? { engine } : {}) });
  const ms = Math.round(performance.now() - t0);
  const how = engine && known ? `${engine.name} destroy and the tag sweep` : "the tag sweep";
  emit(ctx, { ok: true, name: state.name, id, removed: r.sweep.deleted.length > 0, deleted: r.sweep.deleted, engineError: r.engineError ?? null, ms },
    `cluster ${state.name} (${id}) removed by ${how}: ${r.sweep.deleted.length} resource(s) swept (${fmtMs(ms)})`);
  return EXIT.ok;
}
