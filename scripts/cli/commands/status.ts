import { str } from "../args.js";
import { emit, EXIT, type Command } from "../command.js";
import { statusLocal, findCluster } from "../../deploy/local.js";
import { publicUrl, statusCloud } from "../../deploy/cloud.js";
import { formatStatus } from "../../openstack/status.js";
import type { Cluster } from "../../../stacks/model/index.js";
import type { ClusterState } from "../../state/store.js";

export const status: Command = {
  name: "status",
  summary: "show a cluster's nodes, Slurm node states, job server URL, age and TTL",
  usage: "(--spec FILE | --name NAME) [--json]",
  flags: [
    { name: "spec", type: "string", help: "cluster spec (YAML or JSON)" },
    { name: "name", type: "string", help: "cluster name (alone, or overriding the spec's)" },
    { name: "cloud", type: "string", help: "openstack target: cloud in clouds.yaml (default: $OS_CLOUD, else the OS_* variables)" },
  ],
  details: "Exit 0 when the cluster exists and every node runs, 1 otherwise.",
  async run(args, ctx) {
    const { cluster, state } = findCluster({ spec: str(args, "spec"), name: str(args, "name"), cwd: ctx.cwd, env: ctx.env, verb: "status" });
    if (!cluster) {
      emit(ctx, { ok: false, name: state.name, exists: false }, `no cluster ${state.name} (nothing recorded in ${state.dir})`);
      return EXIT.failure;
    }
    if (cluster.target === "openstack") {
      const st = await statusCloud(cluster, { env: ctx.env, cwd: ctx.cwd, cloud: str(args, "cloud") });
      const exists = st.clusters.length > 0;
      emit(ctx, { ok: exists, name: cluster.name, id: cluster.id, target: "openstack", url: exists ? savedUrl(state, cluster) : null, ...st }, formatStatus(st) + (exists ? `\njob server: ${savedUrl(state, cluster) ?? "-"}` : ""));
      return exists ? EXIT.ok : EXIT.failure;
    }
    const s = await statusLocal(cluster, state);
    const healthy = s.exists && s.nodes.every((n) => n.running);
    const dur = (sec: number | null) => (sec === null ? "-" : sec >= 3600 ? `${Math.floor(sec / 3600)}h${Math.floor((sec % 3600) / 60)}m` : sec >= 60 ? `${Math.floor(sec / 60)}m${sec % 60}s` : `${sec}s`);
    const lines = [
      `cluster ${s.name} (local): ${s.exists ? (healthy ? "running" : "DEGRADED") : "not created"}`,
      `job server: ${s.url ?? "-"}`,
      `age: ${dur(s.ageSeconds)}   ttl: ${s.ttlSeconds === null ? "none" : s.ttlSeconds < 0 ? `expired ${dur(-s.ttlSeconds)} ago` : dur(s.ttlSeconds)} (expires ${s.expiresAt ?? "never"})`,
      "",
      ...s.nodes.map((n) => `  ${n.name.padEnd(28)} ${n.role.padEnd(8)} ${n.address.padEnd(15)} ${n.running ? "up  " : "DOWN"}  slurm=${n.slurm ?? "-"}  ${Object.entries(n.daemons).map(([d, ok]) => `${d}${ok ? "" : "(stopped)"}`).join(" ")}`),
      ...(s.slurmError ? [`slurm: ${s.slurmError}`] : []),
    ];
    emit(ctx, { ok: healthy, ...s }, lines.join("\n"));
    return healthy ? EXIT.ok : EXIT.failure;
  },
};

/** The job server URL of a cloud cluster, from the outputs saved by up. */
function savedUrl(state: ClusterState, cluster: Cluster): string | null {
  const out = state.readJson<{ headPublicIp: string }>("outputs.json");
  return out ? publicUrl(cluster, out.headPublicIp) : cluster.jobserver.publicUrl ?? null;
}
