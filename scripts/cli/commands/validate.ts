import { need } from "../args.js";
import { emit, EXIT, type Command } from "../command.js";
import { flags } from "../flags.js";
import { loadCluster } from "../../state/load.js";

export const validate: Command = {
  usage: "--spec FILE [--json]",
  flags: [flags.spec],
  details: "Exit 0 when valid; exit 2 with every invalid field named otherwise.",
  async run(args, ctx) {
    const { cluster } = loadCluster(need(args, "spec", "the cluster spec to check, e.g. --spec cluster.yaml"), { cwd: ctx.cwd, env: ctx.env, persist: false });
    const summary = {
      ok: true,
      name: cluster.name,
      target: cluster.target,
      nodes: cluster.nodes.map((n) => ({ name: n.name, role: n.role, image: n.image, flavor: n.flavor, cpus: n.cpus, memoryMb: n.memoryMb, privateIp: n.privateIp ?? null })),
      network: cluster.network.mode,
      volume: cluster.volume.mode,
      serverGroup: cluster.serverGroup?.policy ?? "none",
      expiresAt: cluster.expiresAt,
    };
    emit(ctx, summary, `${cluster.name}: valid (${cluster.target}, 1 head + ${cluster.computes.length} compute, network ${cluster.network.mode}, volume ${cluster.volume.mode})`);
    return EXIT.ok;
  },
};
