/**
 * `up` on any target: pre-flight → the target creates machines → the shared deploy pipeline
 * configures them over SSH → readiness gate. The target is asked, never named.
 */
import { loadApps, recordApps, shippedDefinitionNames } from "../apps/index.js";
import { renderCluster } from "../render/index.js";
import { ensureSecrets, recordKnownHosts } from "../secrets/index.js";
import { SshPool } from "../ssh/index.js";
import { MODEL_FILE } from "../state/load.js";
import type { Target, TargetContext } from "../targets/target.js";
import { ensureJobServerBundle } from "./bundle.js";
import { remoteSlurmVersion } from "../elastic/version.js";
import type { Progress } from "../progress/index.js";
import type { SshHost } from "../ssh/index.js";
import { deploy, type DeployResult } from "./pipeline.js";

export interface UpResult extends DeployResult {
  url: string;
  nodes: { name: string; role: string; address: string }[];
  adminTokenFile: string;
  totalMs: number;
  summary: Record<string, unknown>;
}

export async function upCluster(target: Target, ctx: TargetContext): Promise<UpResult> {
  const t0 = performance.now();
  const { cluster, state, progress: p } = ctx;
  loadApps(ctx.cluster, shippedDefinitionNames()); // every definition checked before anything exists
  await target.preflight(ctx); // exit 3, nothing created
  ensureJobServerBundle((s) => p.info(s));
  state.writeJson(MODEL_FILE, cluster);
  const apps = loadApps(cluster, shippedDefinitionNames());
  const secrets = ensureSecrets(cluster, state, ctx.env, ctx.cwd);
  const m = await target.create(ctx, secrets);
  recordKnownHosts(state, m.nodes.map((n) => ({ name: n.node.name, address: n.ssh.host, hostKey: n.ssh.hostKey })));
  const pool = new SshPool(m.ssh);
  const doors: { close(): Promise<void> }[] = [];
  try {
    await m.prepare?.(pool, p);
    // Power-saving settings differ between Slurm releases: an elastic cluster's are those of the
    // Slurm the head runs, asked once its packages are in (every target alike).
    const head = m.nodes.find((n) => n.node.role === "head");
    const slurmVersion = cluster.elastic && head ? await headSlurmVersion(pool, head.ssh, p) : undefined;
    const bundles = renderCluster(cluster, { addresses: m.addresses, ...(m.headPublicIp ? { headPublicIp: m.headPublicIp } : {}), ...(slurmVersion ? { slurmVersion } : {}) });
    const door = await m.jobServer(pool);
    doors.push(door);
    const adminToken = secrets.get("jobserver.admin-token")!.toString("utf8").trim();
    const result = await deploy({
      cluster, pool, bundles, secrets, progress: p, jobServerUrl: door.url, adminToken, nodes: m.nodes,
      startServices: (node, rows) => m.startServices(pool, node, rows),
      apps, ...(m.installPackages ? { installPackages: m.installPackages } : {}),
      ...(ctx.limits ? { limits: ctx.limits } : {}),
    });
    recordApps(state, apps);
    return {
      ...result, url: m.url, adminTokenFile: state.path("secrets/jobserver.admin-token"),
      nodes: m.nodes.map((n) => ({ name: n.node.name, role: n.node.role, address: n.ssh.host })),
      totalMs: Math.round(performance.now() - t0), summary: { ...m.summary, ...(cluster.elastic ? { slurmVersion: slurmVersion ?? null } : {}) },
    };
  } finally {
    for (const d of doors) await d.close();
    pool.close();
  }
}

async function headSlurmVersion(pool: SshPool, head: SshHost, p: Progress): Promise<string | undefined> {
  const v = await remoteSlurmVersion(pool, head);
  p.info(v ? `Slurm ${v} on the head: power-saving settings for it` : "the head's Slurm version is unknown (slurmctld -V failed): power-saving settings for the oldest supported release, 22.05");
  return v;
}
