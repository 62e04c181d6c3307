import { str } from "../args.js";
import { existsSync } from "node:fs";
import { emit, EXIT, type Command } from "../command.js";
import { downLocal, findCluster } from "../../deploy/local.js";
import { fmtMs } from "../../deploy/progress.js";
import { RECORD_FILE } from "../../../stacks/local/index.js";

export const down: Command = {
  name: "down",
  summary: "remove a cluster and everything it created (idempotent)",
  usage: "(--spec FILE | --name NAME) [--json]",
  flags: [
    { name: "spec", type: "string", help: "cluster spec (YAML or JSON)" },
    { name: "name", type: "string", help: "cluster name (alone, or overriding the spec's)" },
  ],
  details: "Local target: stops every process it started (by PID), deletes namespaces, veths, bridge, mounts, the shared folder and the local state. Works after an interrupted up. Nothing to remove is not an error.",
  async run(args, ctx) {
    const { cluster, state } = findCluster({ spec: str(args, "spec"), name: str(args, "name"), cwd: ctx.cwd, env: ctx.env, verb: "down" });
    if (!existsSync(state.path(RECORD_FILE)) && cluster?.target === "openstack") {
      throw Object.assign(new Error("the openstack target is not wired yet in down"), { exitCode: EXIT.failure });
    }
    const t0 = performance.now();
    const r = await downLocal(state, cluster);
    const ms = Math.round(performance.now() - t0);
    emit(ctx, { ok: true, name: state.name, removed: r.removed, ms }, r.removed ? `cluster ${state.name} removed (${fmtMs(ms)})` : `no local cluster ${state.name}: nothing to remove`);
    return EXIT.ok;
  },
};
