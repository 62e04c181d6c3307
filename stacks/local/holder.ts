/**
 * The holder: one long-lived process per node that owns the node's UTS and mount namespaces, entered
 * through `nsenter --net` (never `ip netns exec`, which remounts /sys and hides /sys/fs/cgroup).
 * It sets the hostname, lays the node's private /etc overlay, bind mounts and /run tmpfs, says
 * "ready" and becomes `sleep infinity`. Every daemon of the node is started inside it.
 */
import { spawn } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import { join } from "node:path";
import type { NodeLayout } from "./layout.js";
import { procStartTime, type Proc } from "./sys.js";

// $1 hostname, $2 etc upper, $3 etc work, then triples (kind source target) in mountOrder's order.
const SCRIPT = `set -e
hostname "$1"
mount -t overlay uws-etc -o "lowerdir=/etc,upperdir=$2,workdir=$3" /etc
shift 3
while [ $# -gt 0 ]; do
  case "$1" in
    tmpfs) mount -t tmpfs -o mode=0755,size=64m uws-run "$3" ;;
    bind) mkdir -p "$3"; mount --bind "$2" "$3" ;;
    ro-bind) mkdir -p "$3"; mount --bind "$2" "$3"; mount -o remount,bind,ro "$3" ;;
  esac
  shift 3
done
mkdir -p /run/sshd /run/munge /run/slurm /run/lock
chmod 0755 /run/sshd
chown munge:munge /run/munge
chown slurm:slurm /run/slurm
echo ready
exec sleep infinity`;

const OVERLAY_UNSAFE = /[,:\s\\]/;

/** Starts the holder; `onSpawn` records its PID before anything can fail. */
export async function startHolder(n: NodeLayout, onSpawn: (p: Proc) => void, timeoutMs = 10_000): Promise<Proc> {
  for (const p of [n.etcUpper, n.etcWork]) {
    if (OVERLAY_UNSAFE.test(p)) throw new Error(`the state dir path ${p} contains a comma, colon or space, which overlayfs options cannot carry; set UWS_CLUSTER_HOME to a plain path`);
  }
  const args = [n.node.name, n.etcUpper, n.etcWork, ...n.mounts.flatMap((m) => [m.kind, m.source ?? "-", m.target])];
  const err = openSync(join(n.consoleDir, "holder.log"), "a", 0o600);
  const child = spawn("nsenter", [`--net=/run/netns/${n.netns}`, "unshare", "--uts", "--mount", "--propagation", "private", "sh", "-c", SCRIPT, "holder", ...args], {
    detached: true, stdio: ["ignore", "pipe", err],
  });
  closeSync(err);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start the holder of ${n.node.name}`);
  const startTime = procStartTime(pid);
  if (startTime === undefined) throw new Error(`the holder of ${n.node.name} exited at once; see ${join(n.consoleDir, "holder.log")}`);
  const proc = { pid, startTime };
  onSpawn(proc);
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => done(new Error(`the holder of ${n.node.name} was not ready within ${timeoutMs} ms; see ${join(n.consoleDir, "holder.log")}`)), timeoutMs);
    const done = (e?: Error) => {
      clearTimeout(timer);
      child.stdout!.removeAllListeners();
      child.stdout!.destroy();
      child.removeAllListeners("exit");
      child.unref();
      e ? reject(e) : resolve();
    };
    child.stdout!.on("data", (b: Buffer) => { out += b.toString(); if (out.includes("ready\n")) done(); });
    child.on("exit", (code) => done(new Error(`the holder of ${n.node.name} exited (${code}) while preparing the node; see ${join(n.consoleDir, "holder.log")}`)));
  });
  return proc;
}

/** argv that runs a command inside the node (all its namespaces, as the holder sees them). */
export function inNode(holder: Proc, argv: string[]): string[] {
  return ["nsenter", "-t", String(holder.pid), "--net", "--uts", "--mount", "--", ...argv];
}
