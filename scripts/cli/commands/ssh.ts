import { spawnSync } from "node:child_process";
import { UsageError, str } from "../args.js";
import { EXIT, type Command } from "../command.js";
import { sshArgv, findCluster } from "../../deploy/local.js";

export const ssh: Command = {
  name: "ssh",
  summary: "open a shell (or run a command) on a cluster node",
  usage: "NODE (--spec FILE | --name NAME) [-- COMMAND...]",
  flags: [
    { name: "spec", type: "string", help: "cluster spec (YAML or JSON)" },
    { name: "name", type: "string", help: "cluster name (alone, or overriding the spec's)" },
  ],
  details: "NODE is a node name (local-demo-head) or its short form (head, compute-1). Uses the system ssh client with the cluster's key and the host keys recorded at up (strict checking).",
  async run(args, ctx) {
    const [node, ...command] = args.positional;
    if (!node) throw new UsageError("ssh needs a NODE, e.g. `uws-cluster ssh head --name local-demo`");
    const { cluster, state } = findCluster({ spec: str(args, "spec"), name: str(args, "name"), cwd: ctx.cwd, env: ctx.env, verb: "ssh" });
    if (!cluster) throw Object.assign(new Error(`no cluster ${state.name} (nothing recorded in ${state.dir}); run up first`), { exitCode: EXIT.failure });
    const argv = sshArgv(cluster, state, node, command);
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
