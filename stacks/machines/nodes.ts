/**
 * One booted node: an overlay on the shared read-only image, a NoCloud seed holding the rendered
 * user-data (cloud-init's datasource, as Nova's metadata is on a cloud), its own cgroups, and
 * systemd-nspawn --boot (systemd as PID 1) on the cluster's bridge with the cluster's shared folder
 * bound in. The console goes to a file, where cloud-init prints the SSH host keys as Nova's console
 * log shows them. A launcher loop restarts systemd-nspawn when the node reboots (exit 133).
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { Cluster, ClusterNode } from "../model/index.js";
import { isAlive, procStartTime, run, signal, sleep, type Proc } from "../local/sys.js";
import type { MachineRecord, MachinesRecord } from "./record.js";

/** cgroup hierarchies a node gets its own folder in (the host runs no systemd to make them). */
const CGROUP_ROOTS = ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"];
const CGROUP_PARENT = "uws-cluster-machines";
/** This host's CA bundle (Debian's, plus whatever the host's network needs). */
const HOST_CA = "/etc/ssl/certs/ca-certificates.crt";

export interface NodePlan {
  node: ClusterNode;
  machine: string;
  ip: string;
  dir: string;
  merged: string;
  consoleLog: string;
}

export function nodePlan(cluster: Cluster, node: ClusterNode): NodePlan {
  const dir = join(cluster.machines.root, "nodes", node.name);
  return {
    node, machine: `${cluster.machines.machinePrefix}${node.index}`, ip: node.privateIp!,
    dir, merged: join(dir, "root"), consoleLog: join(dir, "console.log"),
  };
}

export function cgroupsOf(machine: string): string[] {
  return CGROUP_ROOTS.filter((r) => existsSync(r)).map((r) => join(r, CGROUP_PARENT, machine));
}

export interface Seed {
  userData: string;
  /** The cluster's public key, offered as the instance's `public-keys` (Nova's keypair). */
  publicKey: string;
  instanceId: string;
}

/** Overlay, seed (first boot only), cgroups, then systemd-nspawn --boot; each recorded before it exists. */
export async function bootNode(cluster: Cluster, plan: NodePlan, seed: Seed, o: { base: string; sharedDir: string; rec: MachinesRecord }): Promise<Proc> {
  const { rec } = o;
  const upper = join(plan.dir, "upper");
  const work = join(plan.dir, "work");
  for (const d of [upper, work, plan.merged]) mkdirSync(d, { recursive: true, mode: 0o755 });
  const r: MachineRecord = { machine: plan.machine, ip: plan.ip, dir: plan.dir, mount: plan.merged, cgroups: cgroupsOf(plan.machine) };
  rec.update((d) => { d.nodes[plan.node.name] = r; });
  await run(["mount", "-t", "overlay", "overlay", "-o", `lowerdir=${o.base},upperdir=${upper},workdir=${work}`, plan.merged]);
  writeSeed(plan, seed, cluster);
  for (const c of r.cgroups) mkdirSync(c, { recursive: true });
  return launch(cluster, plan, o.sharedDir, rec);
}

/** The NoCloud seed: what Nova's metadata service gives a cloud VM (instance id, hostname, key), the user-data, a static address. */
function writeSeed(plan: NodePlan, seed: Seed, cluster: Cluster): void {
  const dir = join(plan.merged, "var/lib/cloud/seed/nocloud");
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const prefix = cluster.machines.subnet.split("/")[1];
  writeFileSync(join(dir, "meta-data"), [
    `instance-id: ${seed.instanceId}`,
    `local-hostname: ${plan.node.name}`,
    "public-keys:",
    `  - ${JSON.stringify(seed.publicKey.trim())}`,
    "",
  ].join("\n"));
  writeFileSync(join(dir, "user-data"), seed.userData);
  // No gateway and no DNS: the nodes reach each other and the proxy on the bridge address only.
  writeFileSync(join(dir, "network-config"), `version: 2\nethernets:\n  host0:\n    addresses: [${plan.ip}/${prefix}]\n`);
}

/** The launcher: joins the node's cgroups, runs systemd-nspawn, runs it again when the node reboots, powers it off on SIGTERM. */
export function launcherScript(cluster: Cluster, plan: NodePlan, sharedDir: string, cgroups: string[]): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const nspawn = [
    "systemd-nspawn", "--boot", "--register=no", "--keep-unit", `--machine=${plan.machine}`, `--directory=${plan.merged}`,
    `--network-bridge=${cluster.machines.bridge}`, "--console=read-only", `--bind=${sharedDir}:${cluster.volume.mountPoint}`,
    // The CA bundle of this host, whose network the nodes' npm downloads go through (Cluster.downloads).
    ...(cluster.downloads.npmEnv.npm_config_cafile && existsSync(HOST_CA) ? [`--bind-ro=${HOST_CA}:${cluster.downloads.npmEnv.npm_config_cafile}`] : []),
  ].map(q).join(" ");
  return [
    `for c in ${cgroups.map(q).join(" ")}; do echo $$ > "$c/cgroup.procs"; done`,
    "stop=0; child=",
    'trap \'stop=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null\' TERM INT',
    "while :; do",
    `  ${nspawn} & child=$!`,
    '  wait "$child"; rc=$?',
    '  while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done',
    '  [ "$stop" = 1 ] && exit 0',
    '  [ "$rc" = 133 ] || exit "$rc"',
    `  echo "[uws-cluster] ${plan.node.name} rebooting" >&2`,
    "done",
  ].join("\n");
}

function launch(cluster: Cluster, plan: NodePlan, sharedDir: string, rec: MachinesRecord): Proc {
  const cgroups = rec.data.nodes[plan.node.name]!.cgroups;
  const out = openSync(plan.consoleLog, "a");
  const child = spawn("bash", ["-c", launcherScript(cluster, plan, sharedDir, cgroups)], { detached: true, stdio: ["ignore", out, out] });
  closeSync(out);
  child.unref();
  if (!child.pid) throw new Error(`systemd-nspawn for ${plan.node.name} did not start`);
  const p: Proc = { pid: child.pid, startTime: procStartTime(child.pid) ?? -1 };
  rec.update((d) => { d.nodes[plan.node.name]!.launcher = p; });
  return p;
}

/** Everything in a node's cgroups (its systemd, services, jobs), by PID. */
export function cgroupPids(cgroups: string[]): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    try {
      for (const l of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n")) if (l.trim()) pids.add(Number(l));
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    } catch { /* removed meanwhile */ }
  };
  for (const c of cgroups) walk(c);
  pids.delete(process.pid);
  // Zombies stay listed until reaped (and this host's PID 1 may never reap them): they are gone for us.
  return [...pids].filter((p) => procStartTime(p) !== undefined);
}

/**
 * Stops a node: SIGTERM to its launcher (systemd-nspawn powers the node off cleanly in a few
 * seconds), SIGKILL to whatever is left in its cgroups after `graceMs`; then its overlay is
 * unmounted and its cgroups removed. Tolerates each piece being gone already.
 */
export async function stopNode(r: MachineRecord, graceMs = 20_000): Promise<void> {
  if (r.launcher && isAlive(r.launcher)) {
    signal(r.launcher, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && (isAlive(r.launcher) || cgroupPids(r.cgroups).length)) await sleep(100);
  }
  for (let i = 0; i < 50; i++) {
    const left = [...cgroupPids(r.cgroups), ...(r.launcher && isAlive(r.launcher) ? [r.launcher.pid] : [])];
    if (!left.length) break;
    for (const pid of left) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
    await sleep(100);
  }
  if (r.mount) await unmount(r.mount);
  for (const c of r.cgroups) removeCgroup(c);
  for (const root of CGROUP_ROOTS) { try { rmdirSync(join(root, CGROUP_PARENT)); } catch { /* another node or cluster still uses it */ } }
  rmSync(`/run/systemd/nspawn/propagate/${r.machine}`, { recursive: true, force: true });
}

async function unmount(path: string): Promise<void> {
  for (let i = 0; i < 20 && isMounted(path); i++) {
    try { await run(["umount", path]); } catch { await sleep(200); }
  }
  if (isMounted(path)) await run(["umount", "-l", path]);
}

export function isMounted(path: string): boolean {
  return readFileSync("/proc/self/mounts", "utf8").split("\n").some((l) => l.split(" ")[1] === path);
}

function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroup(join(dir, e.name));
  try { rmdirSync(dir); } catch { /* still busy: reported by the leftovers check */ }
}

/** Cgroup folders of a cluster's nodes found by its machine-name prefix (sweeps by name). */
export function cgroupsByPrefix(prefix: string): { machine: string; cgroups: string[] }[] {
  const machines = new Set<string>();
  for (const r of CGROUP_ROOTS) {
    const parent = join(r, CGROUP_PARENT);
    if (existsSync(parent)) for (const e of readdirSync(parent)) if (e.startsWith(prefix)) machines.add(e);
  }
  return [...machines].map((m) => ({ machine: m, cgroups: cgroupsOf(m) }));
}
