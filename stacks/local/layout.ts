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
  /** Every mount the node's holder makes after its /etc overlay, in a safe order (see mountOrder). */
  mounts: NodeMount[];
  /** stdout/stderr of the daemons started in the node. */
  consoleDir: string;
}

/** Host paths bind-mounted per node; each gets the owner and mode of the host's own folder. */
const PRIVATE_DIRS = ["/root", "/var/lib/slurm", "/var/lib/munge", "/var/log/slurm", "/var/log/munge"] as const;

/** A mount in the node's private mount namespace. */
export interface NodeMount {
  kind: "bind" | "ro-bind" | "tmpfs";
  /** Host path (bind mounts). */
  source?: string;
  target: string;
}

/** Where the host's application folder (job server bundle + its node_modules) appears in every node. */
export const NODE_APP_DIR = "/run/uws-cluster/app";

/**
 * The mounts in an order that cannot hide a source: a mount whose target holds another mount's
 * source (the default state dir lives under /root, which each node gets privately) comes after it,
 * and a mount inside another's target (the app folder inside the node's /run) comes after that one.
 */
export function mountOrder(mounts: NodeMount[]): NodeMount[] {
  const under = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith("/") ? dir : dir + "/");
  const mustPrecede = (b: NodeMount, a: NodeMount) => b !== a && ((b.source !== undefined && under(b.source, a.target)) || (under(a.target, b.target) && a.target !== b.target));
  const out: NodeMount[] = [];
  const left = [...mounts];
  while (left.length) {
    const i = left.findIndex((a) => !left.some((b) => mustPrecede(b, a)));
    if (i === -1) {
      throw new Error(`the node mounts ${left.map((m) => `${m.source ?? m.kind} → ${m.target}`).join(", ")} hide each other's sources; set UWS_CLUSTER_HOME to a folder outside ${left.map((m) => m.target).join(", ")}`);
    }
    out.push(left.splice(i, 1)[0]!);
  }
  return out;
}

/** `appDir`: the host folder holding the job server bundle and its node_modules, bound read-only at NODE_APP_DIR. */
export function nodeLayout(cluster: Cluster, node: ClusterNode, stateDir: string, appDir?: string): NodeLayout {
  if (!node.privateIp) throw new Error(`node ${node.name} has no private IP: the local target needs the model's local subnet`);
  const suffix = node.name.slice(cluster.name.length + 1); // "head", "compute-1"
  const dir = join(stateDir, "nodes", node.name);
  const binds = PRIVATE_DIRS.map((target) => ({ source: join(dir, target.slice(1)), target }));
  const mounts: NodeMount[] = [
    ...binds.map((b) => ({ kind: "bind" as const, ...b })),
    { kind: "tmpfs", target: "/run" },
    ...(appDir ? [{ kind: "ro-bind" as const, source: appDir, target: NODE_APP_DIR }] : []),
  ];
  return {
    node,
    netns: cluster.local.netnsPrefix + suffix,
    veth: `${cluster.local.vethPrefix}-${node.index}`,
    ip: node.privateIp,
    dir,
    etcUpper: join(dir, "etc"),
    etcWork: join(dir, ".etc-work"),
    binds,
    mounts: mountOrder(mounts),
    consoleDir: join(dir, "console"),
  };
}

export function prefixLength(cidr: string): number {
  return Number(cidr.split("/")[1]);
}

