/**
 * The machines target's infrastructure: booted Debian nodes (systemd-nspawn --boot, systemd as PID
 * 1, cloud-init from a NoCloud seed holding the cluster's rendered user-data) on a per-cluster
 * bridge with no route out, and the apt proxy that is their only way to packages. What a cloud's
 * apply gives the OpenStack target — machines booting the user-data, with an address, a console
 * log and no host key known yet — this gives the same cloud path on one host.
 *
 *   provisionMachines()  bridge + isolation rule → apt proxy → per node: overlay, seed, cgroups, nspawn
 *   destroyMachines(store)  nodes powered off by PID, overlays unmounted, cgroups, proxy, rule, bridge, folders
 *   sweepMachines(cluster)  the same from the cluster's names alone (state dir lost)
 *
 *   image.ts    the image (mmdebstrap, cached) and the download mirror
 *   network.ts  bridge + iptables isolation      proxy.ts  apt-cacher-ng by PID
 *   nodes.ts    one node (overlay, seed, nspawn)  record.ts  machines.json
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Cluster } from "../model/index.js";
import { isAlive, procStartTime, stopAll, type Proc } from "../local/sys.js";
import { imagePaths, imageReady } from "./image.js";
import { createNetwork, hasRule, isolationRule, removeNetwork } from "./network.js";
import { bootNode, cgroupsByPrefix, isMounted, nodePlan, stopNode, type NodePlan } from "./nodes.js";
import { proxyDir, startProxy } from "./proxy.js";
import { MachinesRecord, type MachinesRecordData, type RecordStore } from "./record.js";

export { MachinesRecord, RECORD_FILE, type MachinesRecordData } from "./record.js";
export { buildImage, imagePaths, imageReady, ensureMirror, mirrorDir, cacheRoot, RELEASES, type BuildResult } from "./image.js";
export { nodePlan, isMounted, cgroupPids, type NodePlan } from "./nodes.js";
export { isolationRule, hasRule } from "./network.js";
export { proxyDir } from "./proxy.js";

/** Runs one titled action (the caller shows progress). */
export type StepRunner = <T>(title: string, fn: () => Promise<T>) => Promise<T>;

export interface ProvisionInput {
  store: RecordStore;
  /** Rendered user-data by node name (the same text the cloud engines give Nova). */
  userData: Record<string, string>;
  publicKey: string;
  /** The download mirror folder (ensureMirror) the proxy serves. */
  mirror: string;
  step: StepRunner;
  env?: NodeJS.ProcessEnv;
}

export interface ProvisionedMachine {
  plan: NodePlan;
  launcher: Proc;
}

/** Creates the cluster's machines; fails if it already has a record (run down first). */
export async function provisionMachines(cluster: Cluster, i: ProvisionInput): Promise<ProvisionedMachine[]> {
  if (cluster.target !== "machines") throw new Error(`cluster ${cluster.name} has target ${cluster.target}, not machines`);
  const rec = MachinesRecord.open(i.store, cluster.name);
  if (rec.data.bridge || Object.keys(rec.data.nodes).length) {
    throw new Error(`machines cluster ${cluster.name} already exists (or a previous up failed): run \`uws-cluster down --name ${cluster.name}\` first`);
  }
  const m = cluster.machines;
  const release = m.release;
  if (!imageReady(release, i.env)) throw new Error(`no ${release} image: run uws-cluster image build --target machines --release ${release}`);
  const base = imagePaths(release, i.env).base;
  const sharedDir = cluster.sharedFs.kind === "host-bind" ? cluster.sharedFs.hostDir : join(m.root, "shared");
  rec.update((d) => { if (!d.dirs.includes(m.root)) d.dirs.push(m.root); });
  mkdirSync(sharedDir, { recursive: true, mode: 0o755 });

  await i.step(`Creating network ${m.bridge} (${m.subnet}, no route out) and the apt proxy on ${m.hostIp}:${m.proxyPort}`, async () => {
    await createNetwork(cluster, rec);
    await startProxy(cluster, rec, i.mirror, i.env);
  });
  return i.step(`Booting ${cluster.nodes.length} Debian ${release} machines (systemd-nspawn, cloud-init NoCloud)`, () => Promise.all(cluster.nodes.map(async (node) => {
    const plan = nodePlan(cluster, node);
    const userData = i.userData[node.name];
    if (!userData) throw new Error(`no user-data rendered for ${node.name}`);
    const launcher = await bootNode(cluster, plan, { userData, publicKey: i.publicKey, instanceId: `${cluster.id}-${node.name}` }, { base, sharedDir, rec });
    return { plan, launcher };
  })));
}

/** The console log of a node (cloud-init prints the SSH host keys there at first boot). */
export function consoleLog(cluster: Cluster, nodeName: string): string {
  const node = cluster.nodes.find((n) => n.name === nodeName);
  if (!node) throw new Error(`no node ${nodeName} in cluster ${cluster.name}`);
  const f = nodePlan(cluster, node).consoleLog;
  return existsSync(f) ? readFileSync(f, "utf8") : "";
}

/** True while the node's launcher (and so systemd-nspawn) runs. */
export function machineRunning(store: RecordStore, nodeName: string): boolean {
  const r = MachinesRecord.read(store)?.data.nodes[nodeName];
  return !!r?.launcher && isAlive(r.launcher);
}

/** Removes everything the record lists; idempotent (absent things are skipped). */
export async function destroyMachines(store: RecordStore): Promise<{ removed: boolean }> {
  const rec = MachinesRecord.read(store);
  if (!rec) return { removed: false };
  await destroyRecorded(rec);
  return { removed: true };
}

async function destroyRecorded(rec: MachinesRecord): Promise<void> {
  // The nodes' disks are deleted next, as a cloud deletes a server: a short chance to power off
  // cleanly, then everything left in their cgroups is killed by PID.
  await Promise.all(Object.values(rec.data.nodes).map((n) => stopNode(n, 5_000)));
  if (rec.data.proxy) await stopAll([rec.data.proxy], 5000);
  await removeNetwork(rec);
  for (const dir of [...rec.data.dirs].sort((a, b) => b.length - a.length)) {
    // Never through a mounted node root (a node that could not be unmounted keeps its folder).
    const mounted = readFileSync("/proc/self/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "").filter((p) => p.startsWith(dir + "/"));
    if (mounted.length) throw new Error(`still mounted under ${dir}: ${mounted.join(", ")}; run down again`);
    rmSync(dir, { recursive: true, force: true });
    try { rmdirSync(dirname(dir)); } catch { /* another cluster's folder is there */ }
  }
}

/**
 * Removes a machines cluster found by its names alone (state dir lost): node cgroups with its
 * machine prefix (their processes by PID as the cgroups list them), mounts under its folder, the
 * proxy whose command line names its folder, its isolation rule and bridge, its folder.
 */
export async function sweepMachines(cluster: Cluster): Promise<{ removed: string[] }> {
  const m = cluster.machines;
  const removed: string[] = [];
  const nodes: MachinesRecordData["nodes"] = {};
  for (const c of cgroupsByPrefix(m.machinePrefix)) {
    const node = cluster.nodes.find((n) => `${m.machinePrefix}${n.index}` === c.machine);
    const dir = node ? nodePlan(cluster, node).dir : join(m.root, "nodes", c.machine);
    nodes[c.machine] = { machine: c.machine, ip: "", dir, cgroups: c.cgroups };
    removed.push(`machine ${c.machine}`);
  }
  for (const n of cluster.nodes) {
    const plan = nodePlan(cluster, n);
    if (isMounted(plan.merged)) {
      const r = nodes[plan.machine] ?? { machine: plan.machine, ip: "", dir: plan.dir, cgroups: [] };
      r.mount = plan.merged;
      nodes[plan.machine] = r;
      removed.push(`mount ${plan.merged}`);
    }
  }
  const proxy = proxyByConfig(proxyDir(cluster));
  if (proxy) removed.push(`apt proxy pid ${proxy.pid}`);
  const rule = isolationRule(m.bridge);
  const ruleThere = await hasRule(rule);
  const bridgeThere = existsSync(`/sys/class/net/${m.bridge}`);
  if (ruleThere) removed.push("iptables rule");
  if (bridgeThere) removed.push(`bridge ${m.bridge}`);
  if (existsSync(m.root)) removed.push(m.root);
  const data: MachinesRecordData = {
    version: 1, cluster: cluster.name, rules: ruleThere ? [rule] : [], dirs: existsSync(m.root) ? [m.root] : [], nodes, startedAt: "",
    ...(bridgeThere ? { bridge: m.bridge } : {}), ...(proxy ? { proxy } : {}),
  };
  await destroyRecorded(MachinesRecord.open({ readJson: <T>() => data as T, writeJson: () => {} }, cluster.name));
  return { removed };
}

/** The apt-cacher-ng process started with this cluster's configuration folder, if one runs. */
function proxyByConfig(dir: string): Proc | undefined {
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    let cmd: string[];
    try { cmd = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0"); } catch { continue; }
    if (cmd[0]?.endsWith("apt-cacher-ng") && cmd[1] === "-c" && cmd[2] === dir) {
      const pid = Number(e);
      const startTime = procStartTime(pid);
      if (startTime !== undefined) return { pid, startTime };
    }
  }
  return undefined;
}
