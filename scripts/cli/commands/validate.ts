import { need } from "../args.js";
import { emit, EXIT, type Command } from "../command.js";
import { flags } from "../flags.js";
import { loadCluster } from "../../state/load.js";
import { loadApps, shippedDefinitionNames } from "../../apps/index.js";

export const validate: Command = {
  usage: "--spec FILE [--json]",
  flags: [flags.spec],
  details: "Exit 0 when valid; exit 2 with every invalid field named otherwise.",
  async run(args, ctx) {
    const { cluster } = loadCluster(need(args, "spec", "the cluster spec to check, e.g. --spec cluster.yaml"), { cwd: ctx.cwd, env: ctx.env, persist: false });
    // Applications are checked with the job server's own parser: a bad definition names its file and field.
    const apps = loadApps(cluster, shippedDefinitionNames());
    const summary = {
      ok: true,
      name: cluster.name,
      target: cluster.target,
      nodes: cluster.nodes.map((n) => ({ name: n.name, role: n.role, image: n.image, flavor: n.flavor, cpus: n.cpus, memoryMb: n.memoryMb, privateIp: n.privateIp ?? null })),
      network: cluster.network.mode,
      volume: cluster.volume.mode,
      serverGroup: cluster.serverGroup?.policy ?? "none",
      expiresAt: cluster.expiresAt,
      apps: apps.map((a) => ({ name: a.name, version: a.version, packages: a.packages, definitions: a.definitions.map((d) => d.name) })),
    };
    emit(ctx, summary, `${cluster.name}: valid (${cluster.target}, 1 head + ${cluster.computes.length} compute, network ${cluster.network.mode}, volume ${cluster.volume.mode}${apps.length ? `; apps ${apps.map((a) => `${a.name} (${a.definitions.map((d) => d.name).join(", ")})`).join(", ")}` : ""})`);
    return EXIT.ok;
  },
};
