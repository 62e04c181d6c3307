/**
 * The nodes' only way out: apt-cacher-ng on the bridge address, started per cluster in the
 * foreground and recorded by PID. It proxies Debian's archive for apt (its cache shared by every
 * cluster of this host, so packages are downloaded once), serves the download mirror (Node.js
 * release, prebuilt native module) as /uws-mirror/, and tunnels HTTPS to the npm registry alone.
 * Its configuration lives in the cluster's folder, never in /etc/apt-cacher-ng.
 */
import { mkdirSync, openSync, closeSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import type { Cluster } from "../model/index.js";
import { procStartTime, sleep, type Proc } from "../local/sys.js";
import { cacheRoot } from "./image.js";
import type { MachinesRecord } from "./record.js";

export const ACNG = "/usr/sbin/apt-cacher-ng";

/** Hosts (and ports) the proxy tunnels HTTPS to: the npm registry only. */
export const TUNNEL_HOSTS = ["registry.npmjs.org:443"];

export function proxyDir(cluster: Cluster): string {
  return join(cluster.machines.root, "proxy");
}

export function proxyConfig(cluster: Cluster, mirror: string, env: NodeJS.ProcessEnv = process.env): string {
  const m = cluster.machines;
  const dir = proxyDir(cluster);
  // prebuild-install tunnels even its plain-HTTP mirror through the proxy (CONNECT to the proxy itself).
  const allowed = [...TUNNEL_HOSTS, `${m.hostIp}:${m.proxyPort}`].map((h) => h.replace(/\./g, "\\."));
  return [
    `# apt-cacher-ng of machines cluster ${cluster.name}, written by uws-cluster (a plain proxy: no Remap lines).`,
    `CacheDir: ${join(cacheRoot(env), "apt-cacher-ng")}`,
    `LogDir: ${join(dir, "log")}`,
    `Port: ${m.proxyPort}`,
    `BindAddress: ${m.hostIp}`,
    "ReportPage: acng-report.html",
    `LocalDirs: uws-mirror ${mirror}`,
    `PassThroughPattern: ^(${allowed.join("|")})$`,
    "ExThreshold: 4",
    "",
  ].join("\n");
}

export async function startProxy(cluster: Cluster, rec: MachinesRecord, mirror: string, env: NodeJS.ProcessEnv = process.env): Promise<Proc> {
  const dir = proxyDir(cluster);
  for (const d of [dir, join(dir, "log"), join(cacheRoot(env), "apt-cacher-ng")]) mkdirSync(d, { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, "acng.conf"), proxyConfig(cluster, mirror, env));
  const out = openSync(join(dir, "proxy.out"), "a");
  const child = spawn(ACNG, ["-c", dir, "foreground=1", `pidfile=${join(dir, "pid")}`, `SocketPath=${join(dir, "socket")}`], { detached: true, stdio: ["ignore", out, out] });
  closeSync(out);
  child.unref();
  const pid = child.pid;
  if (!pid) throw new Error(`${ACNG} did not start`);
  const p: Proc = { pid, startTime: procStartTime(pid) ?? -1 };
  rec.update((d) => { d.proxy = p; });
  const m = cluster.machines;
  const deadline = Date.now() + 15_000;
  while (!(await accepts(m.hostIp, m.proxyPort))) {
    if (procStartTime(pid) === undefined) throw new Error(`apt-cacher-ng exited at start: see ${join(dir, "proxy.out")}`);
    if (Date.now() > deadline) throw new Error(`apt-cacher-ng does not listen on ${m.hostIp}:${m.proxyPort} after 15 s`);
    await sleep(100);
  }
  return p;
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
    s.setTimeout(1000, () => { s.destroy(); resolve(false); });
  });
}
