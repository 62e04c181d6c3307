import { spawnSync } from "node:child_process";
import { UsageError, str } from "../args.js";
import { EXIT, type Command } from "../command.js";
import { CliError } from "../../errors.js";
import { flags } from "../flags.js";
import { findCluster } from "../../state/load.js";
import { loadTarget } from "../../targets/registry.js";

export const ssh: Command = {
  usage: "NODE (--spec FILE | --name NAME) [-- COMMAND...]",
  flags: [flags.spec, flags.name],
  details: "NODE is a node name (local-demo-head) or its short form (head, compute-1). Uses the system ssh client with the cluster's key and the host keys recorded at up (strict checking).",
  async run(args, ctx) {
    const [nodeName, ...command] = args.positional;
    if (!nodeName) throw new UsageError("ssh needs a NODE, e.g. `uws-cluster ssh head --name local-demo`");
    const { cluster, state } = findCluster({ spec: str(args, "spec"), name: str(args, "name"), cwd: ctx.cwd, env: ctx.env, verb: "ssh" });
    if (!cluster) throw new CliError(`no cluster ${state.name} (nothing recorded in ${state.dir}); run up first`);
    const node = cluster.nodes.find((n) => n.name === nodeName || n.name === `${cluster.name}-${nodeName}`);
    if (!node) throw new UsageError(`no node "${nodeName}" in cluster ${cluster.name}; nodes: ${cluster.nodes.map((n) => n.name).join(", ")}`);
    const argv = (await loadTarget(cluster.target)).sshArgv({ cluster, state }, node, command);
    const interactive = command.length === 0;
    const r = spawnSync(argv[0]!, argv.slice(1), { stdio: interactive ? "inherit" : ["inherit", "pipe", "pipe"] });
    if (!interactive) {
      ctx.stdout.write(r.stdout ?? "");
      ctx.stderr.write(r.stderr ?? "");
    }
    if (r.error) throw new Error(`cannot run ssh: ${r.error.message}`);
    return r.status ?? EXIT.failure;
  },
};
