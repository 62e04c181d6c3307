/**
 * Where each local node lives: its namespace and interface names (from the model's local layout)
 * and its folders under the cluster's state dir. The only place these names are formed.
 */
import { join } from "node:path";
import type { Cluster, ClusterNode } from "../model/index.js";

export interface NodeLayout {
  node: ClusterNode;
  netns: string;
  /** Host side of the node's veth pair (the node side is `eth0`). */
  veth: string;
  ip: string;
  /** Per-node folder in the state dir. */
  dir: string;
  /** Upper and work dirs of the node's private /etc overlay. */
  etcUpper: string;
  etcWork: string;
  /** Per-node folders bind-mounted over the same path in the node. */
  binds: { source: string; target: string }[];
  /** stdout/stderr of the daemons started in the node. */
  consoleDir: string;
}

/** Host paths bind-mounted per node; each gets the owner and mode of the host's own folder. */
export const PRIVATE_DIRS = ["/root", "/var/lib/slurm", "/var/lib/munge", "/var/log/slurm", "/var/log/munge"] as const;

export function nodeLayout(cluster: Cluster, node: ClusterNode, stateDir: string): NodeLayout {
  if (!node.privateIp) throw new Error(`node ${node.name} has no private IP: the local target needs the model's local subnet`);
  const suffix = node.name.slice(cluster.name.length + 1); // "head", "compute-1"
  const dir = join(stateDir, "nodes", node.name);
  return {
    node,
    netns: cluster.local.netnsPrefix + suffix,
    veth: `${cluster.local.vethPrefix}-${node.index}`,
    ip: node.privateIp,
    dir,
    etcUpper: join(dir, "etc"),
    etcWork: join(dir, ".etc-work"),
    binds: PRIVATE_DIRS.map((target) => ({ source: join(dir, target.slice(1)), target })),
    consoleDir: join(dir, "console"),
  };
}

export function prefixLength(cidr: string): number {
  return Number(cidr.split("/")[1]);
}

