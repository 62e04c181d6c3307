/** What a local cluster may leave on this host, looked up from the system itself (not from our state). */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import type { Cluster } from "../../stacks/model/index.js";
import { pidAlive } from "./daemons.js";

export interface Leftovers {
  netns: string[];
  links: string[];
  mounts: string[];
  processes: string[];
  dirs: string[];
}

/** The cluster's network namespaces as /proc/PID/ns/net shows them; take it while the cluster is up. */
export function namespaceIds(cluster: Cluster): string[] {
  if (!existsSync("/run/netns")) return [];
  return readdirSync("/run/netns").filter((n) => n.startsWith(cluster.local.netnsPrefix)).map((n) => `net:[${statSync(`/run/netns/${n}`).ino}]`);
}

export function leftovers(cluster: Cluster, stateDir: string, nsIds: string[] = []): Leftovers {
  const netns = existsSync("/run/netns") ? readdirSync("/run/netns").filter((n) => n.startsWith(cluster.local.netnsPrefix)) : [];
  const links = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).split("\n")
    .map((l) => l.split(": ")[1]?.split("@")[0] ?? "")
    .filter((n) => n === cluster.local.bridge || n.startsWith(cluster.local.vethPrefix));
  const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n")
    .filter((l) => l.includes(cluster.local.netnsPrefix) || l.includes(stateDir) || l.includes(cluster.local.root));
  // Any process whose root, cwd or namespaces point into the cluster: by its network namespace name or hostname.
  const nsInodes = new Set<string>(nsIds);
  const processes: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (!pidAlive(Number(pid))) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      const net = readlinkSync(`/proc/${pid}/ns/net`);
      if (cmd.includes(cluster.local.netnsPrefix) || cmd.includes(stateDir) || nsInodes.has(net)) processes.push(`${pid} ${cmd}`);
    } catch { /* exited meanwhile */ }
  }
  const dirs = [cluster.local.root, stateDir].filter((d) => existsSync(d));
  return { netns, links, mounts, processes, dirs };
}

export const NOTHING: Leftovers = { netns: [], links: [], mounts: [], processes: [], dirs: [] };
