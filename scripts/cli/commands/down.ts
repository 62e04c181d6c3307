import { str } from "../args.js";
import { emit, EXIT, type Command } from "../command.js";
import { flags } from "../flags.js";
import { fmtMs, Progress } from "../../progress/index.js";
import { findCluster } from "../../state/load.js";
import { loadTarget, TARGET_NAMES, targetFlags } from "../../targets/registry.js";
import type { DeleteResult, NamedContext } from "../../targets/target.js";

export const down: Command = {
  usage: "(--spec FILE | --name NAME) [target options] [--json]",
  flags: [flags.spec, flags.name, ...targetFlags("down")],
  details: [
    "Local target: stops every process it started (by PID), deletes namespaces, veths, bridge, mounts, the shared",
    "folder and the local state. Works after an interrupted up. Nothing to remove is not an error.",
    "OpenStack target: the engine destroys what its state knows, then every resource tagged with the cluster's",
    "uws-cluster-id is deleted in dependency order (also when the engine state, the image or the flavor is gone,",
    "or no engine is installed); resources without the tag are never touched. Exit 1 if anything tagged remains.",
    "With --name alone and no saved state, every target looks for the cluster by its name.",
  ].join("\n"),
  async run(args, ctx) {
    const { cluster, state } = findCluster({ spec: str(args, "spec"), name: str(args, "name"), cwd: ctx.cwd, env: ctx.env, verb: "down" });
    const progress = Progress.for(ctx.stdout as NodeJS.WritableStream & { isTTY?: boolean }, ctx.json);
    const nctx: NamedContext = { state, env: ctx.env, cwd: ctx.cwd, progress, args, ...(cluster ? { cluster } : {}) };
    const t0 = performance.now();
    let r: DeleteResult | undefined;
    for (const name of cluster ? [cluster.target] : TARGET_NAMES) {
      r = await (await loadTarget(name)).delete(nctx);
      if (r) break;
    }
    const ms = Math.round(performance.now() - t0);
    if (!r) {
      emit(ctx, { ok: true, name: state.name, removed: false, ms }, `no cluster ${state.name}: nothing to remove`);
      return EXIT.ok;
    }
    emit(ctx, { ok: true, name: state.name, removed: r.removed, ...r.json, ms }, `${r.text ?? `cluster ${state.name} removed`} (${fmtMs(ms)})`);
    return EXIT.ok;
  },
};
