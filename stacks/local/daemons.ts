/**
 * The daemons of a local node, started directly (no systemd here) inside the node's namespaces with
 * Debian's default paths, in the foreground so the PID we record is the daemon's own (nsenter and
 * setpriv exec, they do not fork). Their output goes to the node's console folder.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { inNode } from "./holder.js";
import { LOCAL_SSHD, serviceNamed } from "../model/index.js";
import { NODE_APP_DIR, type NodeLayout } from "./layout.js";
import { procStartTime, type Proc } from "./sys.js";

export interface DaemonSpec {
  argv: string[];
  /** Run as this user (munged refuses to run as root). */
  user?: string;
}

/**
 * How the local target runs a service of the service table, or sshd (its SSH door).
 * `jobServerBundle`: the bundle's path inside the node's read-only app folder.
 */
export function daemonSpec(service: string, jobServerBundle?: string): DaemonSpec {
  if (service === "ssh") return LOCAL_SSHD;
  const row = serviceNamed(service);
  if (!row.local) throw new Error(`the local target runs no daemon for the service "${service}"`);
  const argv = row.local.argv.map((a) => {
    if (a === "{node}") return process.execPath;
    if (a !== "{bundle}") return a;
    if (!jobServerBundle) throw new Error("the job server bundle is missing: run `npm run build:runtime` first");
    return `${NODE_APP_DIR}/${jobServerBundle}`;
  });
  return { argv, ...(row.local.user ? { user: row.local.user } : {}) };
}

const ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", HOME: "/root" };

/** Starts a daemon in the node; `onSpawn` records it before it can fail. */
export function startDaemon(n: NodeLayout, holder: Proc, name: string, spec: DaemonSpec, onSpawn: (p: Proc) => void): Proc {
  const argv = spec.user ? ["setpriv", `--reuid=${spec.user}`, `--regid=${spec.user}`, "--init-groups", "--", ...spec.argv] : spec.argv;
  const full = inNode(holder, argv);
  const log = openSync(join(n.consoleDir, `${name}.log`), "a", 0o600);
  const child = spawn(full[0]!, full.slice(1), { detached: true, stdio: ["ignore", log, log], env: { ...ENV, HOME: spec.user ? "/" : "/root" }, cwd: "/" });
  closeSync(log);
  child.on("error", () => {}); // reported through the readiness checks and the console log
  child.unref();
  const pid = child.pid;
  const startTime = pid === undefined ? undefined : procStartTime(pid);
  if (pid === undefined || startTime === undefined) throw new Error(`${name} on ${n.node.name} did not start; see ${join(n.consoleDir, `${name}.log`)}`);
  const proc = { pid, startTime };
  onSpawn(proc);
  return proc;
}
