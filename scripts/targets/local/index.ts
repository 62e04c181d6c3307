/**
 * The local target end to end: preflight (root, Debian packages, job server bundle), machines from
 * stacks/local, then the shared deploy pipeline over SSH, then the readiness gate. Also down and
 * status for local clusters. The CLI verbs are thin wrappers around these.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Cluster } from "../../stacks/model/index.js";
import { destroyLocal, isAlive, LocalRecord, LocalTarget, sweepLocal, type ProvisionedNode } from "../../stacks/local/index.js";
import { parseSpec, resolveCluster } from "../../stacks/model/index.js";
import { renderCluster } from "../render/index.js";
import { slurmStates, type ReadinessLimits } from "../readiness/index.js";
import { ensureSecrets, ensureSshKey, knownHosts, recordKnownHosts } from "../secrets/index.js";
import { shCommand, shq, SshPool, type SshHost } from "../ssh/index.js";
import { ClusterState, stateRoot } from "../state/store.js";
import { UsageError } from "../cli/args.js";
import { loadCluster } from "../cli/load.js";
import { deploy, type DeployResult } from "./index.js";
import type { Progress } from "./progress.js";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const JOB_SERVER_BUNDLE = resolve(REPO_ROOT, "dist/runtime/uws-server.mjs");

/** The executables the local target runs, and the Debian package of each. */
export const SYSTEM_DEPS: { bin: string; pkg: string }[] = [
  { bin: "/usr/sbin/slurmctld", pkg: "slurmctld" },
  { bin: "/usr/sbin/slurmd", pkg: "slurmd" },
  { bin: "/usr/bin/sinfo", pkg: "slurm-client" },
  { bin: "/usr/sbin/munged", pkg: "munge" },
  { bin: "/usr/sbin/sshd", pkg: "openssh-server" },
  { bin: "/usr/sbin/ip", pkg: "iproute2" },
  { bin: "/usr/bin/nsenter", pkg: "util-linux" },
  { bin: "/usr/bin/setpriv", pkg: "util-linux" },
];

export class PreflightError extends Error {
  readonly exitCode = 3;
  readonly kind = "preflight";
  constructor(message: string) {
    super(message);
    this.name = "PreflightError";
  }
}

export function missingPackages(exists: (p: string) => boolean = existsSync): string[] {
  return [...new Set(SYSTEM_DEPS.filter((d) => !exists(d.bin)).map((d) => d.pkg))];
}

/** Root, packages (installed with installDeps), the job server bundle. */
export function preflight(opts: { installDeps: boolean; uid?: number; log?: (s: string) => void }): void {
  const uid = opts.uid ?? process.getuid?.() ?? 0;
  if (uid !== 0) throw new PreflightError("the local target needs root (it creates network namespaces, a bridge and mounts): run it as root, e.g. with sudo");
  let missing = missingPackages();
  if (missing.length && opts.installDeps) {
    opts.log?.(`installing Debian packages: ${missing.join(" ")}`);
    // Never slurm-wlm-emulator: its postinst replaces slurmctld/slurmd with a broken front-end build.
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    for (const argv of [["apt-get", "update", "-qq", "-o", "DPkg::Lock::Timeout=300"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300", ...missing]]) {
      const r = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
      if (r.status !== 0) throw new PreflightError(`${argv.join(" ")} failed: ${(r.stderr || "").trim().slice(-500)}`);
    }
    missing = missingPackages();
  }
  if (missing.length) {
    throw new PreflightError(`missing system packages for the local target: ${missing.join(" ")}. Install them with:\n  apt-get install -y ${missing.join(" ")}\nor re-run with --install-deps (as root)`);
  }
  ensureJobServerBundle(opts.log);
}

/**
 * The job server bundle the head runs (dist/runtime), built when missing or older than the runtime
 * sources, so `up` works straight from a checkout.
 */
export function ensureJobServerBundle(log?: (s: string) => void): void {
  const sources = resolve(REPO_ROOT, "runtime");
  const newest = Math.max(...readdirSync(sources, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile()).map((d) => statSync(join(d.parentPath, d.name)).mtimeMs));
  if (existsSync(JOB_SERVER_BUNDLE) && statSync(JOB_SERVER_BUNDLE).mtimeMs >= newest) return;
  log?.("building the job server bundle (dist/runtime)");
  const r = spawnSync(process.execPath, [resolve(REPO_ROOT, "runtime/build/bundle.mjs")], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.status !== 0 || !existsSync(JOB_SERVER_BUNDLE)) {
    throw new PreflightError(`building the job server bundle failed (npm run build:runtime): ${(r.stderr || "").trim().slice(-500)}`);
  }
}

export interface LocalUpOptions {
  progress: Progress;
  env?: NodeJS.ProcessEnv;
  limits?: Partial<ReadinessLimits>;
  /** For tests that inject faults: the target object, once created. */
  onTarget?: (t: LocalTarget) => void;
}

export interface LocalUpResult extends DeployResult {
  url: string;
  nodes: { name: string; role: string; address: string }[];
  adminTokenFile: string;
  totalMs: number;
}

export function jobServerUrl(cluster: Cluster): string {
  return `http://${cluster.head.privateIp}:${cluster.jobserver.port}`;
}

export async function upLocal(cluster: Cluster, state: ClusterState, opts: LocalUpOptions): Promise<LocalUpResult> {
  const t0 = performance.now();
  const p = opts.progress;
  state.writeJson(MODEL_FILE, cluster);
  const secrets = ensureSecrets(cluster, state, opts.env);
  const key = ensureSshKey(state);
  const target = new LocalTarget(cluster, { stateDir: state.dir, store: state, jobServerBundle: JOB_SERVER_BUNDLE });
  opts.onTarget?.(target);
  const nodes = await target.provision(key.publicKey, (title, fn) => p.step(title, fn));
  recordKnownHosts(state, nodes.map((n) => ({ name: n.node.name, address: n.address, hostKey: n.hostKey })));
  const pool = new SshPool({ user: cluster.sshUser, privateKey: key.privateKey, connectRetryMs: 10_000 });
  try {
    const bundles = renderCluster(cluster, { addresses: Object.fromEntries(nodes.map((n) => [n.node.name, n.address])) });
    const url = jobServerUrl(cluster);
    const adminToken = secrets.get("jobserver.admin-token")!.toString("utf8").trim();
    const result = await deploy({
      cluster, target: "local", pool, bundles, secrets, progress: p, jobServerUrl: url, adminToken,
      nodes: nodes.map((n) => ({ node: n.node, ssh: sshHost(n) })),
      services: { start: (node, services) => target.startServices(node, services) },
      ...(opts.limits ? { limits: opts.limits } : {}),
    });
    return {
      ...result, url, adminTokenFile: state.path("secrets/jobserver.admin-token"),
      nodes: nodes.map((n) => ({ name: n.node.name, role: n.node.role, address: n.address })),
      totalMs: Math.round(performance.now() - t0),
    };
  } finally {
    pool.close();
  }
}

function sshHost(n: ProvisionedNode): SshHost {
  return { name: n.node.name, host: n.address, hostKey: n.hostKey };
}

/** Everything gone: processes, namespaces, links, mounts, shared folder, and the local state dir. */
export async function downLocal(state: ClusterState, cluster?: Cluster): Promise<{ removed: boolean }> {
  const r = await destroyLocal(state);
  // No record (state dir lost): find the cluster's namespaces, links and folder by its names.
  if (!r.removed) r.removed = (await sweepLocal(cluster ?? localClusterNamed(state.name))).removed.length > 0;
  const had = existsSync(state.dir);
  rmSync(state.dir, { recursive: true, force: true });
  return { removed: r.removed || had };
}

export interface LocalStatus {
  name: string;
  exists: boolean;
  url: string | null;
  createdAt: string | null;
  expiresAt: string | null;
  ageSeconds: number | null;
  ttlSeconds: number | null;
  nodes: { name: string; role: string; address: string; running: boolean; slurm: string | null; daemons: Record<string, boolean> }[];
  slurmError?: string;
}

export async function statusLocal(cluster: Cluster, state: ClusterState, now = new Date()): Promise<LocalStatus> {
  const rec = LocalRecord.read(state);
  const ident = state.peekIdentity();
  const createdAt = ident?.createdAt ?? null;
  const ageSeconds = createdAt ? Math.round((now.getTime() - Date.parse(createdAt)) / 1000) : null;
  const ttlSeconds = cluster.expiresAt ? Math.round((Date.parse(cluster.expiresAt) - now.getTime()) / 1000) : null;
  let slurm: Record<string, string> = {};
  let slurmError: string | undefined;
  const hosts = knownHosts(state);
  const headHost = hosts.find((h) => h.name === cluster.head.name);
  const headRunning = !!rec?.data.nodes[cluster.head.name]?.holder && isAlive(rec.data.nodes[cluster.head.name]!.holder!);
  if (rec && headHost && headRunning) {
    const pool = new SshPool({ user: cluster.sshUser, privateKey: ensureSshKey(state).privateKey, connectRetryMs: 0, readyTimeoutMs: 3000 });
    try {
      slurm = await slurmStates(pool, { name: headHost.name, host: headHost.address, hostKey: headHost.hostKey });
    } catch (e) {
      slurmError = (e as Error).message;
    } finally {
      pool.close();
    }
  }
  return {
    name: cluster.name, exists: !!rec, url: rec ? jobServerUrl(cluster) : null, createdAt, expiresAt: cluster.expiresAt, ageSeconds, ttlSeconds,
    nodes: cluster.nodes.map((n) => {
      const r = rec?.data.nodes[n.name];
      return {
        name: n.name, role: n.role, address: n.privateIp ?? "",
        running: !!r?.holder && isAlive(r.holder),
        slurm: n.role === "compute" ? slurm[n.name] ?? null : null,
        daemons: Object.fromEntries(Object.entries(r?.daemons ?? {}).map(([k, v]) => [k, isAlive(v)])),
      };
    }),
    ...(slurmError ? { slurmError } : {}),
  };
}

/** The curl example `up` prints (the token is read from the state dir when run, never printed). */
export function curlExample(url: string, tokenFile: string): string {
  return `curl -sS -L -H "Authorization: Bearer $(cat ${tokenFile})" -d PHASE=RUN ${url}/uws/hello`;
}

/** argv of the system ssh client into a node, with the cluster key and its recorded host keys; `command` is an argv (each word quoted for the remote shell). */
export function sshArgv(cluster: Cluster, state: ClusterState, nodeName: string, command: string[] = []): string[] {
  const node = cluster.nodes.find((n) => n.name === nodeName || n.name === `${cluster.name}-${nodeName}`);
  if (!node) throw Object.assign(new Error(`no node "${nodeName}" in cluster ${cluster.name}; nodes: ${cluster.nodes.map((n) => n.name).join(", ")}`), { exitCode: 2 });
  const key = ensureSshKey(state);
  // Addresses as recorded at up: on the cloud the head is reached at its floating IP and compute
  // nodes through it (ProxyJump), with the same verified host keys.
  const recorded = knownHosts(state);
  const addressOf = (name: string) => recorded.find((h) => h.name === name)?.address ?? cluster.nodes.find((n) => n.name === name)?.privateIp;
  const address = addressOf(node.name);
  if (!address) throw Object.assign(new Error(`no address recorded for ${node.name}: is cluster ${cluster.name} up? (uws-cluster status)`), { exitCode: 1 });
  const opts = ["-i", key.privateKeyFile, "-o", `UserKnownHostsFile=${state.path("ssh/known_hosts")}`, "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"];
  const jump = cluster.target === "openstack" && node.role !== "head" ? ["-o", `ProxyCommand=ssh ${opts.map(shq).join(" ")} -W %h:%p ${cluster.sshUser}@${addressOf(cluster.head.name)}`] : [];
  return ["ssh", ...opts, ...jump, ...(command.length ? [] : ["-t"]), `${cluster.sshUser}@${address}`, ...(command.length ? ["--", shCommand(command)] : [])];
}

/** A local cluster known only by name: its local names derive from the name alone. */
export function localClusterNamed(name: string): Cluster {
  return resolveCluster(parseSpec(JSON.stringify({ name, target: "local" }), "--name"));
}

/** The resolved model `up` saved, so down/status/ssh work from the cluster name alone. */
export const MODEL_FILE = "model.json";

/**
 * The cluster a down/status/ssh means: from the spec (preferring the model saved at up, which
 * carries the real id and creation time) or from the name alone.
 */
export function findCluster(opts: { spec?: string; name?: string; cwd: string; env: NodeJS.ProcessEnv; verb: string }): { state: ClusterState; cluster?: Cluster } {
  if (opts.spec) {
    const { cluster, state } = loadCluster(opts.spec, { cwd: opts.cwd, env: opts.env, persist: false, ...(opts.name ? { name: opts.name } : {}) });
    return { cluster: state.readJson<Cluster>(MODEL_FILE) ?? cluster, state };
  }
  if (!opts.name) throw new UsageError(`${opts.verb} needs --spec FILE or --name NAME to know which cluster`);
  const state = new ClusterState(opts.name, stateRoot(opts.env));
  const cluster = state.readJson<Cluster>(MODEL_FILE);
  return cluster ? { cluster, state } : { state };
}
