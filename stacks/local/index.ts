/**
 * The local target: a cluster's nodes as network namespaces on this machine. Each node gets a
 * namespace on the cluster's bridge, its own hostname, a private /etc (overlay on the host's), its
 * own /root, Slurm and munge state and logs, a private /run, and an sshd with its own host key:
 * what a freshly booted VM offers. From there the shared deploy pipeline configures it over SSH.
 *
 *   provision()  bridge → namespaces → veths → node images → holders → sshd     (recorded as it goes)
 *   startServices(node, ["munge", ...])  daemons in the node, recorded by PID + start time
 *   destroyLocal(store)  stops by PID, removes namespaces, veths, bridge, /run/netns if ours, shared dir
 */
import { existsSync, mkdirSync, rmdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import type { Cluster, ClusterNode } from "../model/index.js";
import { daemonSpec, startDaemon } from "./daemons.js";
import { startHolder } from "./holder.js";
import { buildNodeImage } from "./image.js";
import { nodeLayout, type NodeLayout } from "./layout.js";
import { createBridge, createNamespaces, removeNetwork, wireNode } from "./network.js";
import { LocalRecord, type RecordStore } from "./record.js";
import { isAlive, procStartTime, run, signal, sleep, stopAll, waitGone, type Proc } from "./sys.js";

export { LocalRecord, RECORD_FILE, type RecordStore, type LocalRecordData } from "./record.js";
export { nodeLayout, type NodeLayout } from "./layout.js";
export { isAlive, type Proc } from "./sys.js";
export { RUN_NETNS_MARK } from "./network.js";

/** A provisioned node: where to reach it and the host key it must present. */
export interface ProvisionedNode {
  node: ClusterNode;
  address: string;
  hostKey: string;
}

/** Runs one titled action (the caller shows progress); the default just runs it. */
export type StepRunner = <T>(title: string, fn: () => Promise<T>) => Promise<T>;
const plain: StepRunner = (_t, fn) => fn();

export interface LocalTargetOptions {
  /** The cluster's state dir (per-node folders live under it) and its JSON store. */
  stateDir: string;
  store: RecordStore;
  /** Path of the job server bundle started as `uws-server` on the head. */
  jobServerBundle?: string;
}

export class LocalTarget {
  readonly layouts: NodeLayout[];
  private readonly rec: LocalRecord;

  constructor(readonly cluster: Cluster, private readonly opts: LocalTargetOptions) {
    if (cluster.target !== "local") throw new Error(`cluster ${cluster.name} has target ${cluster.target}, not local`);
    this.layouts = cluster.nodes.map((n) => nodeLayout(cluster, n, opts.stateDir));
    this.rec = LocalRecord.open(opts.store, cluster.name);
  }

  /** Creates the machines and their SSH door. Fails if the cluster already has a record (run down first). */
  async provision(authorizedKey: string, step: StepRunner = plain): Promise<ProvisionedNode[]> {
    if (this.rec.data.bridge || Object.keys(this.rec.data.nodes).length) {
      throw Object.assign(new Error(`local cluster ${this.cluster.name} already exists (or a previous up failed): run \`uws-cluster down --name ${this.cluster.name}\` first`), { exitCode: 1 });
    }
    this.rec.update(() => {});
    const c = this.cluster;
    await step(`Creating network ${c.local.bridge} (${c.local.subnet})`, async () => {
      await createBridge(c, this.rec);
      await createNamespaces(this.layouts, this.rec);
      await Promise.all(this.layouts.map((n) => wireNode(c, n)));
    });
    const images = await step(`Preparing ${this.layouts.length} nodes`, async () => {
      const root = c.local.root;
      this.rec.update((d) => { if (!d.dirs.includes(root)) d.dirs.push(root); });
      mkdirSync(root, { recursive: true, mode: 0o755 });
      const images = this.layouts.map((n) => buildNodeImage(n, authorizedKey));
      await Promise.all(this.layouts.map((n) => startHolder(n, (p) => this.rec.update((d) => { d.nodes[n.node.name]!.holder = p; }))));
      return images;
    });
    await step("Starting sshd", async () => {
      for (const n of this.layouts) this.start(n, "ssh");
    });
    return this.layouts.map((n, i) => ({ node: n.node, address: n.ip, hostKey: images[i]!.hostKey }));
  }

  /** Starts services on a node in order (restarting any this target started before). */
  async startServices(node: ClusterNode, services: string[]): Promise<void> {
    const n = this.layout(node.name);
    for (const s of services) {
      const old = this.rec.node(node.name).daemons[s];
      if (old) await stopAll([old], 2000);
      this.start(n, s);
    }
  }

  /** Stops one service by its recorded PID (fault injection, restarts). */
  async stopService(nodeName: string, service: string, sig: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const p = this.rec.node(nodeName).daemons[service];
    if (!p) throw new Error(`${service} was not started on ${nodeName}`);
    if (sig === "SIGKILL") { signal(p, "SIGKILL"); await waitGone([p], 5000); } else await stopAll([p]);
  }

  daemon(nodeName: string, service: string): Proc | undefined {
    return this.rec.data.nodes[nodeName]?.daemons[service];
  }

  holder(nodeName: string): Proc | undefined {
    return this.rec.data.nodes[nodeName]?.holder;
  }

  layout(nodeName: string): NodeLayout {
    const n = this.layouts.find((l) => l.node.name === nodeName);
    if (!n) throw new Error(`no node ${nodeName} in cluster ${this.cluster.name}; nodes: ${this.layouts.map((l) => l.node.name).join(", ")}`);
    return n;
  }

  private start(n: NodeLayout, service: string): void {
    const holder = this.rec.node(n.node.name).holder;
    if (!holder || !isAlive(holder)) throw new Error(`node ${n.node.name} is not running (its holder process is gone)`);
    startDaemon(n, holder, service, daemonSpec(service, this.opts.jobServerBundle), (p) => this.rec.update((d) => { d.nodes[n.node.name]!.daemons[service] = p; }));
  }
}

/**
 * Removes everything the record lists. Idempotent: absent things are skipped. Processes are
 * signalled by PID only: the recorded ones (checked against their start time), then whatever still
 * lives in a node's network namespace (job steps forked by slurmd), as `ip netns pids` lists them.
 */
export async function destroyLocal(store: RecordStore): Promise<{ removed: boolean }> {
  const rec = LocalRecord.read(store);
  if (!rec) return { removed: false };
  const nodes = Object.values(rec.data.nodes);
  const daemons = nodes.flatMap((n) => Object.values(n.daemons));
  await stopAll(daemons, 1500);
  const rest: Proc[] = [];
  for (const n of nodes) {
    if (n.holder && isAlive(n.holder)) rest.push(n.holder);
    for (const pid of await netnsPids(n.netns)) rest.push({ pid, startTime: -1 });
  }
  for (const p of rest) { try { process.kill(p.pid, "SIGKILL"); } catch { /* already gone */ } }
  await waitGoneByPid(rest.map((p) => p.pid), 5000);
  await removeNetwork(rec);
  for (const dir of [...rec.data.dirs].sort((a, b) => b.length - a.length)) {
    rmSync(dir, { recursive: true, force: true });
    try { rmdirSync(dirname(dir)); } catch { /* not empty: another local cluster uses it */ }
  }
  return { removed: true };
}

async function netnsPids(netns: string): Promise<number[]> {
  if (!existsSync(`/run/netns/${netns}`)) return [];
  try {
    const { stdout } = await run(["ip", "netns", "pids", netns]);
    return stdout.split(/\s+/).filter(Boolean).map(Number).filter((p) => p !== process.pid);
  } catch {
    return [];
  }
}

async function waitGoneByPid(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some((p) => procStartTime(p) !== undefined)) {
    if (Date.now() > deadline) throw new Error(`processes did not exit: ${pids.filter((p) => procStartTime(p) !== undefined).join(", ")}`);
    await sleep(5);
  }
}

/**
 * Removes a local cluster found by its names alone (when its state dir was lost): processes in its
 * namespaces (as `ip netns pids` lists them), namespaces with its prefix, links with its veth
 * prefix, its bridge and its shared folder. Never touches names outside the cluster's own prefixes.
 */
export async function sweepLocal(cluster: Cluster): Promise<{ removed: string[] }> {
  const { readdirSync } = await import("node:fs");
  const netns = existsSync("/run/netns") ? readdirSync("/run/netns").filter((n) => n.startsWith(cluster.local.netnsPrefix)) : [];
  const pids = (await Promise.all(netns.map(netnsPids))).flat();
  for (const pid of pids) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
  await waitGoneByPid(pids, 5000);
  const links = (await run(["ip", "-o", "link", "show"])).stdout.split("\n").map((l) => l.split(": ")[1]?.split("@")[0] ?? "")
    .filter((n) => n.startsWith(cluster.local.vethPrefix));
  const data = { version: 1 as const, cluster: cluster.name, bridge: cluster.local.bridge, dirs: [cluster.local.root], startedAt: "",
    nodes: Object.fromEntries(netns.map((n, i) => [n, { netns: n, veth: links[i] ?? "", ip: "", daemons: {} }])) };
  for (const l of links.slice(netns.length)) await run(["ip", "link", "del", l]).catch(() => {});
  const removed = [...netns, ...links, ...(existsSync(cluster.local.root) ? [cluster.local.root] : [])];
  await destroyLocal({ readJson: <T>() => data as T, writeJson: () => {} });
  return { removed };
}
