import { str } from "../args.js";
import { emit, EXIT, type Command } from "../command.js";
import { flags } from "../flags.js";
import { Progress } from "../../progress/index.js";
import { findCluster } from "../../state/load.js";
import { loadTarget, targetFlags } from "../../targets/registry.js";

export const status: Command = {
  usage: "(--spec FILE | --name NAME) [--json]",
  flags: [flags.spec, flags.name, ...targetFlags("status")],
  details: "Exit 0 when the cluster exists and every node runs, 1 otherwise.",
  async run(args, ctx) {
    const { cluster, state } = findCluster({ spec: str(args, "spec"), name: str(args, "name"), cwd: ctx.cwd, env: ctx.env, verb: "status" });
    if (!cluster) {
      emit(ctx, { ok: false, name: state.name, exists: false }, `no cluster ${state.name} (nothing recorded in ${state.dir})`);
      return EXIT.failure;
    }
    const target = await loadTarget(cluster.target);
    const s = await target.status({ cluster, state, env: ctx.env, cwd: ctx.cwd, args, progress: new Progress(ctx.stderr, "quiet") });
    emit(ctx, { ok: s.ok, ...s.json }, s.text);
    return s.ok ? EXIT.ok : EXIT.failure;
  },
};
