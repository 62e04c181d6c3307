/**
 * Small process helpers for the local target: run a command and fail with its stderr, and identify
 * a process by PID + start time so a recycled PID is never signalled.
 */
import { execFile, type ExecFileOptions } from "node:child_process";
import { readFileSync } from "node:fs";

export interface RunResult {
  stdout: string;
  stderr: string;
}

class CommandError extends Error {
  constructor(readonly argv: string[], readonly code: number | string | null, readonly stderr: string) {
    super(`${argv.join(" ")} failed (${code}): ${stderr.trim() || "no output"}`);
    this.name = "CommandError";
  }
}

/** Runs argv without a shell (arguments are never interpreted). Rejects with the command's stderr. */
export function run(argv: string[], opts: ExecFileOptions & { input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0]!, argv.slice(1), { encoding: "utf8", maxBuffer: 16 << 20, ...opts }, (err, stdout, stderr) => {
      if (err) reject(new CommandError(argv, (err as NodeJS.ErrnoException & { code?: number | string }).code ?? null, String(stderr)));
      else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Like run(), but "already gone" errors (matching `ignore`) resolve to undefined. */
export async function runIgnoring(argv: string[], ignore: RegExp): Promise<RunResult | undefined> {
  try {
    return await run(argv);
  } catch (e) {
    if (e instanceof CommandError && ignore.test(e.stderr)) return undefined;
    throw e;
  }
}

/** A process we started: its PID and its start time (clock ticks since boot, /proc/PID/stat field 22). */
export interface Proc {
  pid: number;
  startTime: number;
}

export function procStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: fields restart after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const state = rest[0];
  if (state === "Z" || state === "X") return undefined; // a zombie is gone for our purposes
  return Number(rest[19]);
}

/** True while this exact process (same PID and start time) is alive. */
export function isAlive(p: Proc): boolean {
  return procStartTime(p.pid) === p.startTime;
}

/** Signals the process only if it is still the one we started. */
export function signal(p: Proc, sig: NodeJS.Signals): boolean {
  if (!isAlive(p)) return false;
  try {
    process.kill(p.pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL; resolves when every process is gone. */
export async function stopAll(procs: Proc[], graceMs = 2000): Promise<void> {
  const live = procs.filter((p) => signal(p, "SIGTERM"));
  const deadline = Date.now() + graceMs;
  let wait = 2;
  while (live.some(isAlive)) {
    if (Date.now() > deadline) {
      for (const p of live) signal(p, "SIGKILL");
      await waitGone(live, 5000);
      return;
    }
    await sleep(wait);
    wait = Math.min(wait * 2, 50);
  }
}

export async function waitGone(procs: Proc[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (procs.some(isAlive)) {
    if (Date.now() > deadline) throw new Error(`processes did not exit: ${procs.filter(isAlive).map((p) => p.pid).join(", ")}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
