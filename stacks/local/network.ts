/**
 * The cluster's network on this host: one bridge holding the host address, one network namespace
 * per node joined to it by a veth pair. No route leaves the subnet (nodes reach only each other and
 * the host's bridge address).
 */
import { existsSync, readdirSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import type { Cluster } from "../model/index.js";
import { prefixLength, type NodeLayout } from "./layout.js";
import type { LocalRecord } from "./record.js";
import { run, runIgnoring } from "./sys.js";

export const NETWORK_GONE = /Cannot find device|No such device|No such file|does not exist|not found|Invalid argument|Cannot open network namespace/i;
/**
 * Marks that a uws-cluster created /run/netns (the first `ip netns add` on a host creates and mounts
 * it), so whichever cluster goes down last unmounts and removes it and the host is left as found.
 */
const RUN_NETNS_MARK = "/run/netns.uws-cluster";

export async function createBridge(cluster: Cluster, rec: LocalRecord): Promise<void> {
  const br = cluster.local.bridge;
  rec.update((d) => { d.bridge = br; });
  await run(["ip", "link", "add", br, "type", "bridge"]);
  await run(["ip", "-batch", "-"], { input: `addr add ${cluster.local.hostIp}/${prefixLength(cluster.local.subnet)} dev ${br}\nlink set ${br} up\n` });
}

/** Namespaces first, one at a time: the first `ip netns add` may create the /run/netns mount. */
export async function createNamespaces(nodes: NodeLayout[], rec: LocalRecord): Promise<void> {
  for (const n of nodes) {
    if (!existsSync("/run/netns")) writeFileSync(RUN_NETNS_MARK, `${process.pid}\n`);
    rec.update((d) => { d.nodes[n.node.name] = { netns: n.netns, veth: n.veth, ip: n.ip, daemons: {} }; });
    await run(["ip", "netns", "add", n.netns]);
  }
}

export async function wireNode(cluster: Cluster, n: NodeLayout): Promise<void> {
  await run(["ip", "-batch", "-"], { input: `link add ${n.veth} type veth peer name eth0 netns ${n.netns}\nlink set ${n.veth} master ${cluster.local.bridge} up\n` });
  await run(["ip", "-n", n.netns, "-batch", "-"], { input: `addr add ${n.ip}/${prefixLength(cluster.local.subnet)} dev eth0\nlink set eth0 up\nlink set lo up\n` });
}

/** Removes namespaces, veths and the bridge; tolerates each being absent. */
export async function removeNetwork(rec: LocalRecord): Promise<void> {
  const nodes = Object.values(rec.data.nodes);
  // Deleting a namespace deletes its end of the veth pair, and with it the host end.
  await Promise.all(nodes.map(async (n) => {
    await runIgnoring(["ip", "netns", "del", n.netns], NETWORK_GONE);
    await runIgnoring(["ip", "link", "del", n.veth], NETWORK_GONE);
  }));
  if (rec.data.bridge) await runIgnoring(["ip", "link", "del", rec.data.bridge], NETWORK_GONE);
  await removeRunNetnsIfOurs();
}

async function removeRunNetnsIfOurs(): Promise<void> {
  if (!existsSync(RUN_NETNS_MARK)) return;
  if (existsSync("/run/netns") && readdirSync("/run/netns").length > 0) return; // another cluster's nodes still live there
  if (existsSync("/run/netns")) {
    await runIgnoring(["umount", "/run/netns"], /not mounted|no mount point/i);
    rmdirSync("/run/netns");
  }
  rmSync(RUN_NETNS_MARK, { force: true });
}
