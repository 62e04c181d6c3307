/**
 * The OpenStack target end to end. up: pre-flight (nothing is created when something is missing) →
 * engine apply (terraform/tofu/pulumi) → host keys from the console log → SSH to the head's floating
 * IP and to compute nodes through it → cloud-init done → the shared deploy pipeline (push files and
 * secrets, start services, readiness gate through an SSH tunnel). down: engine destroy, then a sweep
 * of everything tagged with the cluster id (works with the engine state lost). status: by tag.
 */
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { Cluster, ClusterNode } from "../../stacks/model/index.js";
import type { BackendConfig, Engine, EngineContext, EngineEvent } from "../engines/index.js";
import { connectCloud } from "../openstack/connect.js";
import type { OpenStackClient } from "../openstack/client.js";
import { listServers } from "../openstack/compute.js";
import { waitForHostKey } from "../openstack/console.js";
import { assertPreflight, preflight } from "../openstack/preflight.js";
import { cloudStatus, type CloudStatus } from "../openstack/status.js";
import { listClusters, sweepCluster, type SweepResult } from "../openstack/sweep.js";
import type { ReadinessLimits } from "../readiness/index.js";
import { renderCluster } from "../render/index.js";
import { JOBSERVER_FILES } from "../render/paths.js";
import { ensureSecrets, recordKnownHosts } from "../secrets/index.js";
import { openTunnel, shq, SshPool, type PushFile, type SshHost } from "../ssh/index.js";
import { clusterKey } from "../state/ssh-key.js";
import type { ClusterState } from "../state/store.js";
import { deploy, type DeployResult } from "./index.js";
import { ensureJobServerBundle, JOB_SERVER_BUNDLE, MODEL_FILE } from "./local.js";
import { StepError, type Progress } from "./progress.js";

/** Where the job server bundle lands on the head (the rendered systemd unit runs it from there). */
export const REMOTE_BUNDLE_DIR = JOBSERVER_FILES.installDir;

export interface CloudOptions {
  engine: Engine;
  progress: Progress;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Cloud in clouds.yaml (default: $OS_CLOUD, else OS_* variables). */
  cloud?: string;
  parallelism?: number;
  /** Engine state backend (local in the state dir by default). */
  backend?: BackendConfig;
  limits?: Partial<ReadinessLimits>;
  /** How long to wait for first boot (host keys, SSH, cloud-init). */
  bootTimeoutMs?: number;
}

export interface CloudUpResult extends DeployResult {
  url: string;
  headPublicIp: string;
  nodes: { name: string; role: string; address: string }[];
  adminTokenFile: string;
  totalMs: number;
}

export function engineContext(cluster: Cluster, state: ClusterState, o: CloudOptions, extra: Partial<EngineContext> = {}): EngineContext {
  return {
    cluster, workDir: state.path("engine"), env: o.env, parallelism: o.parallelism, ...(o.backend ? { backend: o.backend } : {}),
    onEvent: (e: EngineEvent) => { if (e.type === "retry") o.progress.info(`${e.engine} ${e.step}: transient failure (${e.reason}), retrying in ${Math.round(e.delayMs / 1000)} s`); },
    ...extra,
  };
}

/** The public URL users reach the job server at: the DNS name when configured, else the floating IP. */
export function publicUrl(cluster: Cluster, headPublicIp: string): string {
  return cluster.jobserver.publicUrl ?? `https://${headPublicIp}`;
}

export async function upCloud(cluster: Cluster, state: ClusterState, o: CloudOptions): Promise<CloudUpResult> {
  const t0 = performance.now();
  const p = o.progress;
  state.writeJson(MODEL_FILE, cluster);
  const client = await p.step("Connecting to the OpenStack API", () => connectCloud({ env: o.env, cwd: o.cwd, cloud: o.cloud }));
  const report = await p.step("Pre-flight: quotas, image, flavors, networks, name", () => preflight(client, cluster));
  assertPreflight(report); // exit 3, nothing created
  await p.step(`Checking the ${o.engine.name} engine`, () => o.engine.check({ env: o.env }));
  const secrets = ensureSecrets(cluster, state, o.env, o.cwd);
  const key = clusterKey(cluster, state);
  ensureJobServerBundle((s) => p.info(s));
  // User-data depends on the model only, so a re-run renders the same and never replaces servers.
  const userData = Object.fromEntries(renderCluster(cluster).map((b) => [b.node.name, b.userData]));
  const outputs = await p.step(`Creating cloud resources with ${o.engine.name}`, () =>
    o.engine.apply(engineContext(cluster, state, o, { publicKey: key.publicKey || undefined, userData })));
  state.writeJson("outputs.json", outputs);

  const bootMs = o.bootTimeoutMs ?? 900_000;
  const servers = await serversByName(client, cluster);
  const hostKeys = await p.step("Reading SSH host keys from the console logs", () =>
    Promise.all(cluster.nodes.map((n) => waitForHostKey(client, { id: servers[n.name]!, name: n.name }, { timeoutMs: bootMs }))));
  const address = (n: ClusterNode) => (n.role === "head" ? outputs.headPublicIp : outputs.privateIps[n.name] ?? n.privateIp!);
  const hosts: SshHost[] = cluster.nodes.map((n, i) => ({ name: n.name, host: address(n), hostKey: hostKeys[i]! }));
  recordKnownHosts(state, hosts.map((h) => ({ name: h.name, address: h.host, hostKey: h.hostKey })));

  // The deploy runs as root (user-data allows key-only root logins); compute nodes through the head.
  const pool = new SshPool({ user: "root", privateKey: readFileSync(key.privateKeyPath), jump: hosts[0]!, connectRetryMs: bootMs, readyTimeoutMs: 20_000 });
  const tunnels: { close(): Promise<void> }[] = [];
  try {
    await p.step("Waiting for cloud-init to finish on every node", () => pool.forEach(hosts, (h) => waitCloudInit(pool, h, bootMs, (s) => p.info(s))));
    await p.step("Installing the job server on the head", () => installJobServer(pool, hosts[0]!));
    const bundles = renderCluster(cluster, { addresses: Object.fromEntries(hosts.map((h, i) => [h.name, outputs.privateIps[h.name] ?? cluster.nodes[i]!.privateIp!])), headPublicIp: outputs.headPublicIp });
    const tunnel = await openTunnel(pool, hosts[0]!, cluster.jobserver.port);
    tunnels.push(tunnel);
    const adminToken = secrets.get("jobserver.admin-token")!.toString("utf8").trim();
    const result = await deploy({
      cluster, target: "openstack", pool, bundles, secrets, progress: p, jobServerUrl: tunnel.url, adminToken,
      nodes: cluster.nodes.map((n, i) => ({ node: n, ssh: hosts[i]! })),
      services: { start: (node, services) => pool.run(hosts[cluster.nodes.indexOf(node)]!, systemdStart(node, services)).then(() => undefined) },
      ...(o.limits ? { limits: o.limits } : {}),
    });
    return {
      ...result, url: publicUrl(cluster, outputs.headPublicIp), headPublicIp: outputs.headPublicIp,
      nodes: hosts.map((h, i) => ({ name: h.name, role: cluster.nodes[i]!.role, address: h.host })),
      adminTokenFile: state.path("secrets/jobserver.admin-token"), totalMs: Math.round(performance.now() - t0),
    };
  } finally {
    for (const t of tunnels) await t.close();
    pool.close();
  }
}

/** Server ids by node name, found by the cluster id in their metadata (never by name alone). */
async function serversByName(client: OpenStackClient, cluster: Cluster): Promise<Record<string, string>> {
  const all = await listServers(client);
  const mine = all.filter((s) => s.metadata?.["uws-cluster-id"] === cluster.id);
  const byName = Object.fromEntries(mine.map((s) => [s.name, s.id]));
  const missing = cluster.nodes.filter((n) => !byName[n.name]).map((n) => n.name);
  if (missing.length) throw new StepError("Finding the cluster's servers", undefined, `servers not found after apply: ${missing.join(", ")}`);
  return byName;
}

/**
 * What `cloud-init status --wait` exit code means. Since cloud-init 23.4 (Debian 13, upstream
 * builds) 2 is "done, with recoverable errors" (a warning or deprecated key is enough); only 1
 * (and anything that is not an exit code) means first boot failed. 22.4 (Debian 12) knows 0 and 1.
 */
export function cloudInitVerdict(code: number | null): "done" | "degraded" | "failed" {
  return code === 0 ? "done" : code === 2 ? "degraded" : "failed";
}

/** cloud-init's own verdict; its detail is reported when first boot failed. */
export async function waitCloudInit(pool: SshPool, h: SshHost, timeoutMs: number, info?: (s: string) => void): Promise<void> {
  const r = await pool.exec(h, "cloud-init status --wait --long", { timeoutMs });
  const verdict = cloudInitVerdict(r.code);
  if (verdict === "degraded") info?.(`${h.name}: cloud-init finished with recoverable errors (uws-cluster ssh ${h.name} -- cloud-init status --long)`);
  if (verdict !== "failed") return;
  // `status --long` names only the failed module (scripts-user for uws-node-setup); the script's own
  // message is in the output log.
  const log = await pool.exec(h, "tail -n 12 /var/log/cloud-init-output.log", { timeoutMs: 20_000 }).catch(() => undefined);
  const lines = (s: string, n: number) => s.trim().split("\n").slice(-n).join(" | ");
  throw new Error(`cloud-init failed on ${h.name} (exit ${r.code ?? r.signal}): ${lines(r.stdout + r.stderr, 8)}`
    + (log?.code === 0 && log.stdout.trim() ? `; end of /var/log/cloud-init-output.log: ${lines(log.stdout, 12)}` : "")
    + `; full log: uws-cluster ssh ${h.name} -- cat /var/log/cloud-init-output.log`);
}

/** The job server bundle (npm run build:runtime) copied to the head, with its native dependency installed there. */
async function installJobServer(pool: SshPool, head: SshHost): Promise<void> {
  await pool.push(head, bundleFiles(join(JOB_SERVER_BUNDLE, "..")));
  await pool.run(head, jobServerInstallCommand(), { timeoutMs: 600_000 });
}

/** The bundle's files as pushed to the head. */
export function bundleFiles(dir: string): PushFile[] {
  return listFiles(dir).map((f) => ({
    path: `${REMOTE_BUNDLE_DIR}/${f.rel}`, content: readFileSync(f.abs), owner: "root:root",
    // Job helpers (definitions/hello.sh, node-info.sh) are copied into each job's work dir with their
    // mode and run on a compute node: without the executable bit the canary job fails (exit 126).
    mode: statSync(f.abs).mode & 0o111 ? "0755" : "0644",
  }));
}

/**
 * `npm install` of the bundle's native dependency (better-sqlite3) on the head. A root SSH exec
 * gets sshd's fixed PATH and no login profile, and install-node.sh links only `node` into
 * /usr/local/bin: npm is run by its absolute path in the unpacked tarball, with that bin folder
 * first on PATH for npm's `#!/usr/bin/env node` and the package's install script.
 */
export function jobServerInstallCommand(dir: string = REMOTE_BUNDLE_DIR, nodeHome: string = JOBSERVER_FILES.nodeHome): string {
  const bin = `${nodeHome}/bin`;
  return `cd ${shq(dir)} && PATH=${shq(bin)}:"$PATH" ${shq(`${bin}/npm`)} install --omit=dev --no-audit --no-fund --no-update-notifier --loglevel=error`;
}

function listFiles(dir: string): { abs: string; rel: string }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && !d.parentPath.includes("node_modules"))
    .map((d) => ({ abs: join(d.parentPath, d.name), rel: relative(dir, join(d.parentPath, d.name)) }));
}

/** systemd units for the deploy pipeline's service steps (VMs; the local target starts the same commands by PID). */
export function systemdStart(node: ClusterNode, services: string[]): string {
  const lines = ["set -e", "systemctl daemon-reload"];
  for (const s of services) {
    if (s === "munge") lines.push("systemctl try-reload-or-restart ssh", "systemctl enable --now munge", "systemctl restart munge");
    else if (s === "slurmctld" && node.role === "head") lines.push("exportfs -ra", "systemctl enable slurmctld", "systemctl restart slurmctld");
    else if (s === "uws-server") lines.push("systemctl enable uws-server", "systemctl restart uws-server", "systemctl reload-or-restart nginx");
    else lines.push(`systemctl enable ${shq(s)}`, `systemctl restart ${shq(s)}`);
  }
  return lines.join("\n");
}

export interface CloudDownResult {
  engineError?: string;
  sweep: SweepResult;
}

/**
 * Engine destroy, then the tag sweep — always, so resources the engine lost track of (or a destroy
 * that failed half-way) are still removed. Only resources tagged with this cluster's id are touched.
 */
export async function downCloud(ref: { id: string; cluster?: Cluster }, state: ClusterState, o: Omit<CloudOptions, "engine"> & { engine?: Engine }): Promise<CloudDownResult> {
  const p = o.progress;
  let engineError: string | undefined;
  if (o.engine && ref.cluster) {
    try {
      await p.step(`Destroying with ${o.engine.name}`, () => o.engine!.destroy(engineContext(ref.cluster!, state, { ...o, engine: o.engine! })));
    } catch (e) {
      engineError = (e as Error).message;
      p.info(`${o.engine.name} destroy failed; the tag sweep removes what is left`);
    }
  } else {
    p.info("no engine state to destroy: removing the cluster's resources by tag");
  }
  const client = await connectCloud({ env: o.env, cwd: o.cwd, cloud: o.cloud });
  const sweep = await p.step(`Sweeping resources tagged uws-cluster-id=${ref.id}`, () => sweepCluster(client, ref.id, {
    onEvent: (e) => { if (e.type === "delete") p.info(`  deleted ${e.kind} ${e.name || e.id}`); },
  }));
  if (!sweep.ok) {
    throw new StepError("Sweeping the cluster's resources", undefined, `${sweep.remaining.length} resource(s) still tagged uws-cluster-id=${ref.id}: ${sweep.remaining.map((r) => `${r.kind} ${r.name || r.id}`).join(", ")}; run down again`);
  }
  rmSync(state.dir, { recursive: true, force: true });
  return { ...(engineError ? { engineError } : {}), sweep };
}

/** The cluster id of a cloud cluster known only by name (its local state lost): from the tags in the project. */
export async function findCloudClusterId(o: Pick<CloudOptions, "env" | "cwd" | "cloud">, name: string): Promise<string | undefined> {
  const client = await connectCloud({ env: o.env, cwd: o.cwd, cloud: o.cloud });
  const { clusters } = await listClusters(client);
  return clusters.find((c) => c.name === name)?.id;
}

export async function statusCloud(cluster: Cluster, o: Pick<CloudOptions, "env" | "cwd" | "cloud">): Promise<CloudStatus> {
  const client = await connectCloud({ env: o.env, cwd: o.cwd, cloud: o.cloud });
  return cloudStatus(client, { id: cluster.id });
}
