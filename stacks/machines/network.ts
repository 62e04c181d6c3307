/**
 * The cluster's network on this host: one bridge holding the host address (where the apt proxy
 * listens), each node's veth joined to it by systemd-nspawn --network-bridge, and an iptables rule
 * dropping everything the bridge would forward elsewhere: nodes reach each other and the host's
 * bridge address, nothing beyond.
 */
import type { Cluster } from "../model/index.js";
import { run, runIgnoring } from "../local/sys.js";
import type { MachinesRecord } from "./record.js";

const GONE = /Cannot find device|No such device|does not exist|not found|Bad rule|No chain|doesn't exist/i;

/** The FORWARD rule (after -I/-D/-C) that keeps the nodes' traffic on their bridge. */
export function isolationRule(bridge: string): string[] {
  return ["FORWARD", "-i", bridge, "!", "-o", bridge, "-j", "DROP", "-m", "comment", "--comment", `uws-cluster ${bridge}`];
}

export async function createNetwork(cluster: Cluster, rec: MachinesRecord): Promise<void> {
  const m = cluster.machines;
  rec.update((d) => { d.bridge = m.bridge; });
  await run(["ip", "link", "add", m.bridge, "type", "bridge"]);
  await run(["ip", "-batch", "-"], { input: `addr add ${m.hostIp}/${m.subnet.split("/")[1]} dev ${m.bridge}\nlink set ${m.bridge} up\n` });
  const rule = isolationRule(m.bridge);
  rec.update((d) => { d.rules.push(rule); });
  await run(["iptables", "-w", "-I", ...rule]);
}

export async function removeNetwork(rec: MachinesRecord): Promise<void> {
  for (const rule of rec.data.rules) {
    // Remove every copy (a rule recorded twice by a retried up is deleted twice).
    for (let i = 0; i < 10; i++) if (!(await runIgnoring(["iptables", "-w", "-D", ...rule], GONE))) break;
  }
  if (rec.data.bridge) await runIgnoring(["ip", "link", "del", rec.data.bridge], GONE);
}

/** True when the rule is in place (leftover checks, sweeps by name). */
export async function hasRule(rule: string[]): Promise<boolean> {
  return (await runIgnoring(["iptables", "-w", "-C", ...rule], GONE)) !== undefined;
}
