/**
 * The machines target: each node is a booted Debian (systemd-nspawn --boot: systemd as PID 1,
 * cloud-init from a NoCloud seed holding the same rendered user-data the cloud gets) on a
 * per-cluster bridge with no route out; packages come through an apt proxy on the bridge
 * (stacks/machines). Only creating and deleting machines is this target's own: after the machines
 * exist the OpenStack target's path runs unchanged (scripts/deploy/booted.ts: host keys from the
 * console, SSH to the head and through it, cloud-init's verdict, the job server install, systemd
 * services, nginx with TLS, the readiness gate through an SSH tunnel).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Cluster } from "../../../stacks/model/index.js";
import { parseSpec, resolveCluster } from "../../../stacks/model/index.js";
import {
  buildImage, consoleLog, destroyMachines, ensureMirror, imageReady, machineRunning, MachinesRecord, provisionMachines, RECORD_FILE, sweepMachines,
} from "../../../stacks/machines/index.js";
import { bootedDoor, bootedMachines, readHostKeys, waitForHostKey } from "../../deploy/booted.js";
import { JOB_SERVER_BUNDLE, REPO_ROOT } from "../../deploy/bundle.js";
import { JOBSERVER_FILES } from "../../render/paths.js";
import { PreflightError } from "../../errors.js";
import { renderCluster } from "../../render/index.js";
import { slurmStates } from "../../readiness/index.js";
import type { SecretValues } from "../../secrets/index.js";
import { SshPool } from "../../ssh/index.js";
import { clusterKey } from "../../secrets/cluster-key.js";
import type { ClusterState } from "../../state/store.js";
import { systemSshArgv } from "../ssh-argv.js";
import type { Machines, NamedContext, Target, TargetContext, TargetStatus } from "../target.js";

/** Host programs the target runs, and their Debian packages (scripts/setup.sh --test installs them). */
export const HOST_DEPS: { bin: string; pkg: string }[] = [
  { bin: "/usr/bin/systemd-nspawn", pkg: "systemd-container" },
  { bin: "/usr/bin/mmdebstrap", pkg: "mmdebstrap" },
  { bin: "/usr/sbin/apt-cacher-ng", pkg: "apt-cacher-ng" },
  { bin: "/usr/sbin/iptables", pkg: "iptables" },
  { bin: "/usr/bin/zstd", pkg: "zstd" },
  { bin: "/usr/bin/xz", pkg: "xz-utils" },
  { bin: "/usr/sbin/ip", pkg: "iproute2" },
];

/** How long first boot may take (SSH host keys, cloud-init with its package installs). */
const BOOT_MS = 600_000;

export function missingHostPackages(exists: (p: string) => boolean = existsSync): string[] {
  return [...new Set(HOST_DEPS.filter((d) => !exists(d.bin)).map((d) => d.pkg))];
}

/** The job server's native module as built on this machine, and the version the bundle asks for. */
function nativeModule(): { dir: string; version: string } {
  const pkg = JSON.parse(readFileSync(join(dirname(JOB_SERVER_BUNDLE), "package.json"), "utf8")) as { dependencies?: Record<string, string> };
  const version = pkg.dependencies?.["better-sqlite3"];
  if (!version) throw new PreflightError(`${dirname(JOB_SERVER_BUNDLE)}/package.json names no better-sqlite3 version`);
  const dir = dirname(createRequire(join(REPO_ROOT, "package.json")).resolve("better-sqlite3/package.json"));
  return { dir, version };
}

async function preflight(ctx: TargetContext): Promise<void> {
  const { cluster, progress: p } = ctx;
  if ((process.getuid?.() ?? 0) !== 0) throw new PreflightError("the machines target needs root (it mounts overlays, creates a bridge and boots containers): run it as root, e.g. with sudo");
  const missing = missingHostPackages();
  if (missing.length) throw new PreflightError(`missing host packages for the machines target: ${missing.join(" ")}. Install them with:\n  apt-get install -y ${missing.join(" ")}\n(or bash scripts/setup.sh --test)`);
  const major = Number(process.versions.node.split(".")[0]);
  if (major !== JOBSERVER_FILES.nodeMajor) {
    throw new PreflightError(`the machines target gives its nodes this machine's Node.js, which must be ${JOBSERVER_FILES.nodeMajor}.x like the job server's (found ${process.versions.node})`);
  }
  if (cluster.keypair.mode !== "generate") throw new PreflightError("access.keypair: the machines target generates the cluster key; remove access.keypair");
  if (existsSync(`/sys/class/net/${cluster.machines.bridge}`) && !MachinesRecord.read(ctx.state)) {
    throw new PreflightError(`bridge ${cluster.machines.bridge} of cluster ${cluster.name} already exists: run uws-cluster down --name ${cluster.name} first`);
  }
  p.info(`Creating cluster ${cluster.name} (${cluster.id}) on booted Debian ${cluster.machines.release} machines: 1 head + ${cluster.computes.length} compute`);
  if (!imageReady(cluster.machines.release, ctx.env)) {
    await p.step(`Building the ${cluster.machines.release} image (once; cached for every later cluster)`, () => buildImage(cluster.machines.release, { env: ctx.env }));
  }
}

async function create(ctx: TargetContext, _secrets: SecretValues): Promise<Machines> {
  const { cluster, state, progress: p } = ctx;
  const key = clusterKey(cluster, state);
  const native = nativeModule();
  const mirror = await p.step("Preparing the nodes' download mirror (Node.js, prebuilt native module)", () =>
    ensureMirror({ nodeExec: process.execPath, nativeModuleDir: native.dir, nativeModuleVersion: native.version }, { env: ctx.env }));
  // The user-data the cloud engines give Nova, rendered from the model alone.
  const userData = Object.fromEntries(renderCluster(cluster).map((b) => [b.node.name, b.userData]));
  await provisionMachines(cluster, { store: state, userData, publicKey: key.publicKey, mirror, env: ctx.env, step: (t, fn) => p.step(t, fn) });

  const hostKeys = await readHostKeys(cluster, p, (name) => waitForHostKey(async () => {
    if (!machineRunning(state, name)) throw new Error(`${name}: systemd-nspawn exited; end of its console: ${consoleLog(cluster, name).trim().split("\n").slice(-5).join(" | ")}`);
    return consoleLog(cluster, name);
  }, name, { timeoutMs: BOOT_MS, intervalMs: 200 }));
  const headIp = cluster.head.privateIp!;
  return bootedMachines({
    cluster, privateKey: readFileSync(key.privateKeyPath), bootMs: BOOT_MS,
    hosts: cluster.nodes.map((n, i) => ({ name: n.name, host: n.privateIp!, hostKey: hostKeys[i]! })),
    addresses: Object.fromEntries(cluster.nodes.map((n) => [n.name, n.privateIp!])),
    // The head's bridge address plays its floating IP: the HTTPS endpoint and the SSH door.
    headPublicIp: headIp,
    url: publicUrl(cluster),
    summary: { id: cluster.id, release: cluster.machines.release, bridge: cluster.machines.bridge },
  });
}

export function publicUrl(cluster: Cluster): string {
  return cluster.jobserver.publicUrl ?? `https://${cluster.head.privateIp}`;
}

/** A machines cluster known only by name: its host names derive from the name alone. */
export function machinesClusterNamed(name: string): Cluster {
  return resolveCluster(parseSpec(JSON.stringify({ name, target: "machines" }), "--name"));
}

async function remove(ctx: NamedContext): Promise<{ removed: boolean; json: Record<string, unknown>; text: string } | undefined> {
  const { state } = ctx;
  const r = await destroyMachines(state);
  let swept: string[] = [];
  // No record (state dir lost): find the cluster by its names. A stale record is followed by a sweep too.
  swept = (await sweepMachines(ctx.cluster?.target === "machines" ? ctx.cluster : machinesClusterNamed(state.name))).removed;
  const had = existsSync(state.dir) && existsSync(state.path(RECORD_FILE));
  if (!r.removed && !swept.length && !had) return undefined;
  rmSync(state.dir, { recursive: true, force: true });
  return {
    removed: true, json: { swept },
    text: `cluster ${state.name} removed: machines powered off, overlays unmounted, apt proxy stopped, bridge and isolation rule deleted${swept.length ? ` (found by name: ${swept.join(", ")})` : ""}`,
  };
}

export interface MachinesStatus {
  name: string;
  exists: boolean;
  url: string | null;
  release: string;
  nodes: { name: string; role: string; address: string; running: boolean; slurm: string | null }[];
  slurmError?: string;
}

export async function statusMachines(ctx: TargetContext): Promise<MachinesStatus> {
  const { cluster, state } = ctx;
  const rec = MachinesRecord.read(state);
  let slurm: Record<string, string> = {};
  let slurmError: string | undefined;
  if (rec && machineRunning(state, cluster.head.name)) {
    const pool = new SshPool({ ...door(cluster, state).ssh, connectRetryMs: 0, readyTimeoutMs: 5000 });
    try {
      slurm = await slurmStates(pool, door(cluster, state).nodes[0]!.ssh);
    } catch (e) {
      slurmError = (e as Error).message;
    } finally {
      pool.close();
    }
  }
  return {
    name: cluster.name, exists: !!rec, url: rec ? publicUrl(cluster) : null, release: cluster.machines.release,
    nodes: cluster.nodes.map((n) => ({
      name: n.name, role: n.role, address: n.privateIp ?? "", running: !!rec && machineRunning(state, n.name),
      slurm: n.role === "compute" ? slurm[n.name] ?? null : null,
    })),
    ...(slurmError ? { slurmError } : {}),
  };
}

function door(cluster: Cluster, state: ClusterState) {
  return bootedDoor(cluster, state, readFileSync(clusterKey(cluster, state).privateKeyPath));
}

async function status(ctx: TargetContext): Promise<TargetStatus> {
  const s = await statusMachines(ctx);
  const healthy = s.exists && s.nodes.every((n) => n.running);
  const lines = [
    `cluster ${s.name} (machines, Debian ${s.release}): ${s.exists ? (healthy ? "running" : "DEGRADED") : "not created"}`,
    `job server: ${s.url ?? "-"}`,
    "",
    ...s.nodes.map((n) => `  ${n.name.padEnd(28)} ${n.role.padEnd(8)} ${n.address.padEnd(15)} ${n.running ? "up  " : "DOWN"}  slurm=${n.slurm ?? "-"}`),
    ...(s.slurmError ? [`slurm: ${s.slurmError}`] : []),
  ];
  return { ok: healthy, json: { ...s, target: "machines" }, text: lines.join("\n") };
}

export const machinesTarget: Target = {
  name: "machines",
  preflight,
  create,
  delete: remove,
  door: async ({ cluster, state }) => door(cluster, state),
  status,
  sshArgv: ({ cluster, state }, node, command) => systemSshArgv(cluster, state, node, command, { jumpThroughHead: true }),
  curlExample: (url, tokenFile) => `curl -sS -k -L -H "Authorization: Bearer $(cat ${tokenFile})" -d PHASE=RUN ${url}/uws/hello`,
};

/** Used by tests: does this host run systemd-nspawn at all (a quick check, no container started). */
export function nspawnAvailable(): boolean {
  return spawnSync("systemd-nspawn", ["--version"], { stdio: "ignore" }).status === 0;
}
