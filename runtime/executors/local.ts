// Local executor: child processes on this machine, a concurrency limit, one process group per job
// (killed as a whole on abort or overrun). Jobs are spawned by a launcher process (launcher.mjs),
// so fork/exec never runs on the server's event loop; each job is one process, its executable
// exec'd directly. The launcher writes each job's exit status to a file so that a job which
// outlives a server crash can be tracked again after a restart.
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EXIT_FILE, type Executor, type LaunchSpec, type UpdateSink } from "./executor.js";

interface Running {
  spec: LaunchSpec;
  /** Undefined until the launcher reports the start. */
  pid?: number;
  start?: string | null;
  timer?: NodeJS.Timeout;
}

/**
 * How long a watched job's exit status may lag behind its pid's disappearance: the launcher that
 * reaps it writes the status file just after.
 */
const EXIT_FILE_GRACE_MS = 2000;

type LauncherMessage =
  | { op: "started"; jobId: string; pid: number; start: string | null }
  | { op: "failed"; jobId: string; message: string }
  | { op: "exit"; jobId: string; code: number | null; signal: NodeJS.Signals | null };

/** Process start time from /proc (clock ticks since boot): tells a live job from a reused pid. */
function procStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z") return null;
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

export function readExitStatus(workDir: string): number | null {
  try {
    const n = Number(readFileSync(join(workDir, EXIT_FILE), "utf8").trim());
    return Number.isInteger(n) ? n : null;
  } catch {
    return null;
  }
}

/**
 * The launcher script: next to this module in the source tree (runtime/executors/) and next to
 * the bundle in dist/runtime/.
 */
export function launcherPath(): string {
  return fileURLToPath(new URL("./launcher.mjs", import.meta.url));
}

export class LocalExecutor implements Executor {
  readonly name = "local" as const;
  private readonly queue: LaunchSpec[] = [];
  private readonly running = new Map<string, Running>();
  private readonly canceled = new Set<string>();
  private launcher?: ChildProcess;
  private closed = false;

  constructor(private readonly sink: UpdateSink, private readonly concurrency = 2) {}

  /** Pid of the launcher process (tests: jobs are its children, not the server's). */
  launcherPid(): number | undefined {
    return this.ensureLauncher().pid;
  }

  private ensureLauncher(): ChildProcess {
    if (this.launcher && this.launcher.connected) return this.launcher;
    const l = fork(launcherPath(), [], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: [], serialization: "json" });
    l.on("message", (m: LauncherMessage) => this.onLauncher(m));
    l.on("exit", () => {
      if (this.launcher === l) this.launcher = undefined;
      if (!this.closed) this.launcherGone();
    });
    l.on("error", () => {});
    this.launcher = l;
    return l;
  }

  /**
   * The launcher died (killed by an operator, out of memory): jobs it started keep running in
   * their own process groups and are watched by pid; jobs whose start was not confirmed are
   * launched again.
   */
  private launcherGone(): void {
    for (const [jobId, r] of this.running) {
      if (r.timer) continue;
      if (r.pid === undefined) {
        this.running.delete(jobId);
        this.queue.unshift(r.spec);
      } else this.watch(jobId, r);
    }
    this.pump();
  }

  private onLauncher(m: LauncherMessage): void {
    const r = this.running.get(m.jobId);
    if (!r) return;
    switch (m.op) {
      case "started":
        r.pid = m.pid;
        r.start = m.start;
        this.sink(m.jobId, { phase: "EXECUTING", ref: JSON.stringify({ pid: m.pid, start: m.start }) });
        // Aborted while the launcher was starting it.
        if (this.canceled.has(m.jobId)) this.kill(m.pid);
        return;
      case "failed":
        this.running.delete(m.jobId);
        this.canceled.delete(m.jobId);
        this.sink(m.jobId, { phase: "ERROR", message: m.message });
        this.pump();
        return;
      case "exit":
        if (r.timer) return;
        this.running.delete(m.jobId);
        this.finish(m.jobId, r.spec.workDir, m.code, m.signal);
        this.pump();
        return;
    }
  }

  /** The job is QUEUED already (the service sets it before submitting): nothing to report yet. */
  async submit(spec: LaunchSpec): Promise<void> {
    this.queue.push(spec);
    this.pump();
  }

  private pump(): void {
    while (this.running.size < this.concurrency && this.queue.length) this.launch(this.queue.shift()!);
  }

  private launch(spec: LaunchSpec): void {
    this.running.set(spec.jobId, { spec });
    this.ensureLauncher().send({
      op: "spawn",
      jobId: spec.jobId,
      argv: spec.argv,
      cwd: spec.workDir,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/", LANG: "C.UTF-8", ...spec.env },
      prepare: spec.prepare,
    });
  }

  /** `code` and `signal` from the launcher; both null when only the status file can tell. */
  private finish(jobId: string, workDir: string, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.canceled.delete(jobId)) return this.sink(jobId, { phase: "ABORTED" });
    if (signal) return this.sink(jobId, { phase: "ERROR", message: `the command was killed by ${signal}` });
    const status = code ?? readExitStatus(workDir);
    if (status === 0) this.sink(jobId, { phase: "COMPLETED" });
    else if (status !== null) this.sink(jobId, { phase: "ERROR", message: `the command exited with status ${status}` });
    else this.sink(jobId, { phase: "ERROR", message: "the job ended without an exit status (its launcher process was gone)" });
  }

  private kill(pid: number): void {
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      return;
    }
    // Escalate when the group ignores SIGTERM.
    setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }, 2000).unref();
  }

  async cancel(jobId: string, ref: string | null): Promise<void> {
    const qi = this.queue.findIndex((s) => s.jobId === jobId);
    if (qi >= 0) {
      this.queue.splice(qi, 1);
      return;
    }
    const r = this.running.get(jobId);
    if (r) this.canceled.add(jobId);
    const pid = r ? r.pid : ref ? (JSON.parse(ref).pid as number) : undefined;
    // Still starting: killed as soon as the launcher reports its pid.
    if (pid) this.kill(pid);
  }

  /**
   * Watches a job that is not (or no longer) the current launcher's child until its pid goes, then
   * reads its status file (waiting EXIT_FILE_GRACE_MS for it: the process that reaped the job
   * writes it just after). `lost` is the message when no status ever appears.
   */
  private watch(jobId: string, r: Running, lost?: string): void {
    const alive = () => r.start !== null && r.start !== undefined && procStart(r.pid!) === r.start;
    let goneAt: number | undefined;
    r.timer = setInterval(() => {
      if (alive()) return;
      const status = readExitStatus(r.spec.workDir);
      goneAt ??= Date.now();
      if (status === null && Date.now() - goneAt < EXIT_FILE_GRACE_MS) return;
      clearInterval(r.timer);
      this.running.delete(jobId);
      if (status === null && lost && !this.canceled.has(jobId)) this.sink(jobId, { phase: "ERROR", message: lost });
      else this.finish(jobId, r.spec.workDir, status, null);
      this.pump();
    }, 250);
  }

  async reattach(jobId: string, ref: string | null, workDir: string, spec: () => LaunchSpec): Promise<void> {
    if (!ref) {
      // Queued but never started before the restart: queue it again.
      this.queue.push(spec());
      this.pump();
      return;
    }
    const { pid, start } = JSON.parse(ref) as { pid: number; start: string | null };
    const status = readExitStatus(workDir);
    if (status !== null) {
      if (status === 0) this.sink(jobId, { phase: "COMPLETED" });
      else this.sink(jobId, { phase: "ERROR", message: `the command exited with status ${status} while the server was down` });
      return;
    }
    // Not our child any more (the previous server's launcher stays until its jobs end and writes
    // their status): watch the pid until it goes, then read the status file.
    const entry: Running = { spec: { jobId, workDir, argv: [], env: {}, cpus: 0, memoryMb: 0, durationSec: 0 }, pid, start };
    this.running.set(jobId, entry);
    this.watch(jobId, entry, "the job's process disappeared while the server was down");
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.running.values()) if (r.timer) clearInterval(r.timer);
    this.queue.length = 0;
    const l = this.launcher;
    this.launcher = undefined;
    if (l && l.exitCode === null && l.signalCode === null) {
      // Idle, the launcher exits at once (awaited: nothing is left behind). With jobs running it
      // stays until they end, to write their exit status: not awaited, and not keeping this
      // process alive.
      const gone = new Promise((res) => l.once("exit", res));
      const busy = [...this.running.values()].some((r) => !r.timer);
      l.disconnect();
      if (busy) l.unref();
      else await gone;
    }
  }
}
