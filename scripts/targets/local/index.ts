/**
 * The local target: a cluster's nodes as network namespaces on this machine (stacks/local builds
 * them), each with a real sshd as its SSH door. Pre-flight (root, Debian packages), create, delete
 * (also by name alone, when the state dir was lost), status and ssh; everything after the machines
 * exist is the shared deploy pipeline.
 */
import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import type { Cluster, ClusterNode, ServiceRow } from "../../../stacks/model/index.js";
import { parseSpec, resolveCluster } from "../../../stacks/model/index.js";
import { destroyLocal, isAlive, LocalRecord, LocalTarget, sweepLocal, type HostKeyPair } from "../../../stacks/local/index.js";
import { bool } from "../../cli/args.js";
import { bundleInPackage, REPO_ROOT } from "../../deploy/bundle.js";
import { CliError, PreflightError } from "../../errors.js";
import { appPackages as appPackagesOf, loadApps } from "../../apps/index.js";
import { ensureSshKey, knownHosts, type SecretValues } from "../../secrets/index.js";
import { generateEd25519, SshPool } from "../../ssh/index.js";
import type { ClusterState } from "../../state/store.js";
import { systemSshArgv } from "../ssh-argv.js";
import { startLocalAgent } from "../../elastic/local-agent.js";
import { nodePowers, type NodePower } from "../../elastic/power-state.js";
import type { Machines, NamedContext, Target, TargetContext, TargetStatus } from "../target.js";

/** The executables the local target runs, and the Debian package of each. */
const SYSTEM_DEPS: { bin: string; pkg: string }[] = [
  { bin: "/usr/sbin/slurmctld", pkg: "slurmctld" },
  { bin: "/usr/sbin/slurmd", pkg: "slurmd" },
  { bin: "/usr/bin/sinfo", pkg: "slurm-client" },
  { bin: "/usr/sbin/munged", pkg: "munge" },
  { bin: "/usr/sbin/sshd", pkg: "openssh-server" },
  { bin: "/usr/sbin/ip", pkg: "iproute2" },
  { bin: "/usr/bin/nsenter", pkg: "util-linux" },
  { bin: "/usr/bin/setpriv", pkg: "util-linux" },
];

function missingPackages(exists: (p: string) => boolean = existsSync): string[] {
  return [...new Set(SYSTEM_DEPS.filter((d) => !exists(d.bin)).map((d) => d.pkg))];
}

/** Debian packages not installed on this machine (dpkg's view). */
function missingDebianPackages(packages: string[]): string[] {
  if (!packages.length) return [];
  const r = spawnSync("dpkg-query", ["-W", "-f", "${Package} ${Status}\n", ...packages], { encoding: "utf8" });
  const installed = new Set(r.stdout.split("\n").filter((l) => l.endsWith(" install ok installed")).map((l) => l.split(" ")[0]));
  return packages.filter((p) => !installed.has(p));
}

/**
 * Root and the Debian packages (installed with installDeps): the target's own, and the ones the
 * applications declare — local nodes run their jobs with this machine's programs.
 */
export function preflight(opts: { installDeps: boolean; uid?: number; log?: (s: string) => void; appPackages?: string[] }): void {
  const uid = opts.uid ?? process.getuid?.() ?? 0;
  if (uid !== 0) throw new PreflightError("the local target needs root (it creates network namespaces, a bridge and mounts): run it as root, e.g. with sudo");
  const missingNow = () => [...new Set([...missingPackages(), ...missingDebianPackages(opts.appPackages ?? [])])];
  let missing = missingNow();
  if (missing.length && opts.installDeps) {
    opts.log?.(`installing Debian packages: ${missing.join(" ")}`);
    // Never slurm-wlm-emulator: its postinst replaces slurmctld/slurmd with a broken front-end build.
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    for (const argv of [["apt-get", "update", "-qq", "-o", "DPkg::Lock::Timeout=300"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300", ...missing]]) {
      const r = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
      if (r.status !== 0) throw new PreflightError(`${argv.join(" ")} failed: ${(r.stderr || "").trim().slice(-500)}`);
    }
    missing = missingNow();
  }
  if (missing.length) {
    throw new PreflightError(`missing system packages for the local target (its own, and what the applications declare): ${missing.join(" ")}. Install them with:\n  apt-get install -y ${missing.join(" ")}\nor re-run with --install-deps (as root)`);
  }
}

export function jobServerUrl(cluster: Cluster): string {
  return `http://${cluster.head.privateIp}:${cluster.jobserver.port}`;
}

/** The nodes' machinery (namespaces, holders, daemons), reading the record in the state dir. */
function localMachines(cluster: Cluster, state: ClusterState): LocalTarget {
  return new LocalTarget(cluster, { stateDir: state.dir, store: state, jobServer: { appDir: REPO_ROOT, bundle: bundleInPackage() } });
}

async function create(ctx: TargetContext, _secrets: SecretValues): Promise<Machines> {
  const { cluster, state, progress: p } = ctx;
  const key = ensureSshKey(state);
  // Host keys are made here, on the deploy side, as a cloud's first boot would make them.
  const hostKeys: Record<string, HostKeyPair> = Object.fromEntries(cluster.nodes.map((n) => [n.name, generateEd25519()]));
  const machines = localMachines(cluster, state);
  const nodes = await machines.provision(key.publicKey, hostKeys, (title, fn) => p.step(title, fn));
  const url = jobServerUrl(cluster);
  if (cluster.elastic) {
    // Slurm on the head reaches it to power on-demand nodes up and down (the canary powers the first).
    const e = cluster.elastic;
    await p.step(`Starting the power agent on ${e.agent.url} (${e.nodes.length} on-demand nodes)`, () => startLocalAgent(cluster, state, machines, ctx.env, ctx.cwd));
  }
  return {
    nodes: nodes.map((n) => ({ node: n.node, ssh: { name: n.node.name, host: n.address, hostKey: n.hostKey } })),
    ssh: { user: cluster.sshUser, privateKey: key.privateKey, connectRetryMs: 10_000 },
    addresses: Object.fromEntries(nodes.map((n) => [n.node.name, n.address])),
    url,
    jobServer: async () => ({ url, close: async () => {} }),
    startServices: (_pool: SshPool, node: ClusterNode, rows: ServiceRow[]) => machines.startServices(node, rows.map((r) => r.name)),
  };
}

/** Everything gone: processes, namespaces, links, mounts, shared folder, and the local state dir. */
async function remove(ctx: NamedContext): Promise<{ removed: boolean } | undefined> {
  const { state } = ctx;
  const r = await destroyLocal(state);
  // No record (state dir lost): find the cluster's namespaces, links and folder by its names.
  if (!r.removed) r.removed = (await sweepLocal(ctx.cluster ?? localClusterNamed(state.name))).removed.length > 0;
  const had = existsSync(state.dir);
  rmSync(state.dir, { recursive: true, force: true });
  return r.removed || had ? { removed: true } : undefined;
}

/** A local cluster known only by name: its local names derive from the name alone. */
function localClusterNamed(name: string): Cluster {
  return resolveCluster(parseSpec(JSON.stringify({ name, target: "local" }), "--name"));
}

export interface LocalStatus {
  name: string;
  exists: boolean;
  url: string | null;
  createdAt: string | null;
  expiresAt: string | null;
  ageSeconds: number | null;
  ttlSeconds: number | null;
  nodes: {
    name: string; role: string; address: string; running: boolean; slurm: string | null; daemons: Record<string, boolean>;
    /** Elastic clusters: always | on-demand, and the node's power state and Slurm's reason (powered down, powering up, idle, allocated, failed). */
    powerMode: "always" | "on-demand"; power: string | null; reason: string | null;
  }[];
  slurmError?: string;
}

async function statusLocal(cluster: Cluster, state: ClusterState, now = new Date()): Promise<LocalStatus> {
  const rec = LocalRecord.read(state);
  const ident = state.peekIdentity();
  const createdAt = ident?.createdAt ?? null;
  const ageSeconds = createdAt ? Math.round((now.getTime() - Date.parse(createdAt)) / 1000) : null;
  const ttlSeconds = cluster.expiresAt ? Math.round((Date.parse(cluster.expiresAt) - now.getTime()) / 1000) : null;
  let slurm: Record<string, string> = {};
  let powers: Record<string, NodePower> = {};
  let slurmError: string | undefined;
  const hosts = knownHosts(state);
  const headHost = hosts.find((h) => h.name === cluster.head.name);
  const headRunning = !!rec?.data.nodes[cluster.head.name]?.holder && isAlive(rec.data.nodes[cluster.head.name]!.holder!);
  if (rec && headHost && headRunning) {
    const pool = new SshPool({ user: cluster.sshUser, privateKey: ensureSshKey(state).privateKey, connectRetryMs: 0, readyTimeoutMs: 3000 });
    try {
      powers = await nodePowers(pool, { name: headHost.name, host: headHost.address, hostKey: headHost.hostKey });
      slurm = Object.fromEntries(Object.entries(powers).map(([k, v]) => [k, v.slurm]));
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
        powerMode: n.power, power: n.role === "compute" ? powers[n.name]?.power ?? null : null, reason: powers[n.name]?.reason ?? null,
      };
    }),
    ...(slurmError ? { slurmError } : {}),
  };
}

const formatAge = (sec: number | null) => (sec === null ? "-" : sec >= 3600 ? `${Math.floor(sec / 3600)}h${Math.floor((sec % 3600) / 60)}m` : sec >= 60 ? `${Math.floor(sec / 60)}m${sec % 60}s` : `${sec}s`);

async function status(ctx: TargetContext): Promise<TargetStatus> {
  const s = await statusLocal(ctx.cluster, ctx.state);
  // On-demand nodes exist only while Slurm has them powered up.
  const healthy = s.exists && s.nodes.every((n) => n.running || n.powerMode === "on-demand");
  const lines = [
    `cluster ${s.name} (local): ${s.exists ? (healthy ? "running" : "DEGRADED") : "not created"}`,
    `job server: ${s.url ?? "-"}`,
    `age: ${formatAge(s.ageSeconds)}   ttl: ${s.ttlSeconds === null ? "none" : s.ttlSeconds < 0 ? `expired ${formatAge(-s.ttlSeconds)} ago` : formatAge(s.ttlSeconds)} (expires ${s.expiresAt ?? "never"})`,
    "",
    ...s.nodes.map((n) => `  ${n.name.padEnd(28)} ${n.role.padEnd(8)} ${n.address.padEnd(15)} ${n.running ? "up  " : n.powerMode === "on-demand" ? "-   " : "DOWN"}  slurm=${n.slurm ?? "-"}${n.power && n.powerMode === "on-demand" ? `  power=${n.power}${n.reason ? ` (${n.reason})` : ""}` : n.reason ? `  reason=${n.reason}` : ""}  ${Object.entries(n.daemons).map(([d, ok]) => `${d}${ok ? "" : "(stopped)"}`).join(" ")}`),
    ...(s.slurmError ? [`slurm: ${s.slurmError}`] : []),
  ];
  return { ok: healthy, json: { ...s }, text: lines.join("\n") };
}

export const localTarget: Target = {
  name: "local",
  async preflight(ctx) {
    const appPackages = appPackagesOf(loadApps(ctx.cluster));
    preflight({ installDeps: bool(ctx.args, "install-deps"), log: (s) => ctx.progress.info(s), appPackages });
  },
  async door({ cluster, state }) {
    const recorded = knownHosts(state);
    // On-demand nodes are reachable while they exist (the power agent records their host keys).
    const nodes = cluster.nodes.filter((node) => node.power !== "on-demand" || recorded.some((k) => k.name === node.name)).map((node) => {
      const h = recorded.find((k) => k.name === node.name);
      if (!h) throw new CliError(`no SSH host key recorded for ${node.name}: is cluster ${cluster.name} up? (uws-cluster status --name ${cluster.name})`);
      return { node, ssh: { name: node.name, host: h.address, hostKey: h.hostKey } };
    });
    const machines = localMachines(cluster, state);
    return {
      nodes, ssh: { user: cluster.sshUser, privateKey: ensureSshKey(state).privateKey, connectRetryMs: 2000 },
      startServices: (_pool, node, rows) => machines.startServices(node, rows.map((r) => r.name)),
      jobServer: async () => ({ url: jobServerUrl(cluster), close: async () => {} }),
    };
  },
  create,
  delete: remove,
  status,
  sshArgv: ({ cluster, state }, node, command) => systemSshArgv(cluster, state, node, command, { jumpThroughHead: false }),
  curlExample: (url, tokenFile) => `curl -sS -L -H "Authorization: Bearer $(cat ${tokenFile})" -d PHASE=RUN ${url}/uws/hello`,
};

