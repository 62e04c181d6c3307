/**
 * Daemons a test starts: run in the foreground (so the PID we hold is the daemon's), output to a log
 * file, identified by PID + start time (the local target's own process helpers, stacks/local/sys.ts),
 * stopped by that recorded PID only (SIGTERM, then SIGKILL after a grace period). Waits for the
 * socket or port a daemon opens fail at once, with the log's tail, when the daemon exits instead.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { isAlive, procStartTime, signal, stopAll, type Proc } from "../../stacks/local/sys.js";
import { waitFor } from "./wait.js";

export interface Daemon {
  name: string;
  pid: number;
  /** Where its stdout and stderr go. */
  log: string;
  alive(): boolean;
  /** Signals it only while it is still the process we started. */
  kill(sig: NodeJS.Signals): void;
  /** SIGTERM, SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface DaemonOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** File receiving stdout and stderr (appended). */
  log: string;
}

/** Starts argv in the foreground; throws when the executable cannot be started. */
export function startDaemon(name: string, argv: string[], opts: DaemonOptions): Daemon {
  const fd = openSync(opts.log, "a");
  let child;
  try {
    child = spawn(argv[0]!, argv.slice(1), { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["ignore", fd, fd] });
  } finally {
    closeSync(fd);
  }
  child.on("error", () => { /* reported through pid/alive below */ });
  child.unref();
  const startTime = child.pid === undefined ? undefined : procStartTime(child.pid);
  if (child.pid === undefined || startTime === undefined) throw new Error(`${name}: could not start ${argv[0]}${logTail(opts.log)}`);
  const proc: Proc = { pid: child.pid, startTime };
  return {
    name,
    pid: proc.pid,
    log: opts.log,
    alive: () => isAlive(proc),
    kill: (sig) => void signal(proc, sig),
    stop: (graceMs = 5000) => stopAll([proc], graceMs),
  };
}

/** True while a process with this PID exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  return procStartTime(pid) !== undefined;
}

/** Stops daemons in reverse start order (each by its recorded PID). */
export async function stopDaemons(daemons: Daemon[]): Promise<void> {
  for (const d of [...daemons].reverse()) await d.stop();
}

/** The last lines of a log file, prefixed by a newline, for error messages. */
export function logTail(file: string, lines = 20): string {
  if (!existsSync(file)) return `\n--- ${file}: (none)`;
  return `\n--- ${file}:\n${readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n")}`;
}

/** Throws with the daemon's log when it has exited. */
export function assertAlive(d: Daemon, extraLogs: string[] = []): void {
  if (!d.alive()) throw new Error(`${d.name} (pid ${d.pid}) exited${[d.log, ...extraLogs].map((f) => logTail(f)).join("")}`);
}

/** Waits until the daemon has created `path` (a socket or file). */
export async function waitForSocket(d: Daemon, path: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => existsSync(path) || (assertAlive(d), false), { timeoutMs, what: () => `${d.name} to create ${path}${logTail(d.log)}` });
}

/** Waits until something accepts TCP connections on host:port (and the daemon is still running). */
export async function waitForPort(d: Daemon, port: number, host = "127.0.0.1", timeoutMs = 10_000): Promise<void> {
  const accepts = () => new Promise<boolean>((resolve) => {
    const s = connect({ port, host });
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
  await waitFor(async () => (assertAlive(d), accepts()), { timeoutMs, what: () => `${d.name} to listen on ${host}:${port}${logTail(d.log)}` });
}
