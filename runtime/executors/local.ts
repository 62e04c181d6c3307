// Local executor: child processes on this machine, a concurrency limit, one process group per job
// (killed as a whole on abort or overrun). Jobs write their exit status to a file so that a job
// which outlives a server crash can be tracked again after a restart.
import { spawn } from "node:child_process";
import { openSync, closeSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT_FILE, WRAPPER_SCRIPT, type Executor, type LaunchSpec, type UpdateSink } from "./executor.js";

interface Running {
  pid: number;
  timer?: NodeJS.Timeout;
}

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

export class LocalExecutor implements Executor {
  readonly name = "local" as const;
  private readonly queue: LaunchSpec[] = [];
  private readonly running = new Map<string, Running>();
  private readonly canceled = new Set<string>();

  constructor(private readonly sink: UpdateSink, private readonly concurrency = 2) {}

  async submit(spec: LaunchSpec): Promise<void> {
    this.sink(spec.jobId, { phase: "QUEUED" });
    this.queue.push(spec);
    this.pump();
  }

  private pump(): void {
    while (this.running.size < this.concurrency && this.queue.length) this.launch(this.queue.shift()!);
  }

  private launch(spec: LaunchSpec): void {
    const wrapper = join(spec.workDir, ".uws-run.sh");
    writeFileSync(wrapper, WRAPPER_SCRIPT, { mode: 0o700 });
    const out = openSync(join(spec.workDir, "stdout"), "a");
    const err = openSync(join(spec.workDir, "stderr"), "a");
    let child;
    try {
      child = spawn("/bin/sh", [wrapper, ...spec.argv], {
        cwd: spec.workDir,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/", LANG: "C.UTF-8", ...spec.env },
        // Own process group: abort kills the job and everything it started; it also survives a
        // server crash so a restart can track it again.
        detached: true,
        stdio: ["ignore", out, err],
      });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    const pid = child.pid;
    if (pid === undefined) {
      child.on("error", () => {});
      this.sink(spec.jobId, { phase: "ERROR", message: `could not start ${spec.argv[0]}` });
      this.pump();
      return;
    }
    child.unref();
    this.running.set(spec.jobId, { pid });
    this.sink(spec.jobId, { phase: "EXECUTING", ref: JSON.stringify({ pid, start: procStart(pid) }) });
    child.on("exit", (code, signal) => {
      this.running.delete(spec.jobId);
      this.finish(spec.jobId, spec.workDir, code, signal);
      this.pump();
    });
  }

  private finish(jobId: string, workDir: string, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.canceled.delete(jobId)) return this.sink(jobId, { phase: "ABORTED" });
    const status = code ?? readExitStatus(workDir);
    if (status === 0) this.sink(jobId, { phase: "COMPLETED" });
    else if (status !== null) this.sink(jobId, { phase: "ERROR", message: `the command exited with status ${status}` });
    else this.sink(jobId, { phase: "ERROR", message: `the command was killed by ${signal ?? "a signal"}` });
  }

  async cancel(jobId: string, ref: string | null): Promise<void> {
    const qi = this.queue.findIndex((s) => s.jobId === jobId);
    if (qi >= 0) {
      this.queue.splice(qi, 1);
      return;
    }
    const r = this.running.get(jobId);
    const pid = r?.pid ?? (ref ? (JSON.parse(ref).pid as number) : undefined);
    if (!pid) return;
    if (r) this.canceled.add(jobId);
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

  async reattach(jobId: string, ref: string | null, workDir: string, spec: () => LaunchSpec): Promise<void> {
    if (!ref) {
      // Queued but never started before the restart: queue it again.
      this.queue.push(spec());
      this.pump();
      return;
    }
    const { pid, start } = JSON.parse(ref) as { pid: number; start: string | null };
    const alive = () => start !== null && procStart(pid) === start;
    if (!alive()) {
      const status = readExitStatus(workDir);
      if (status === 0) this.sink(jobId, { phase: "COMPLETED" });
      else if (status !== null) this.sink(jobId, { phase: "ERROR", message: `the command exited with status ${status} while the server was down` });
      else this.sink(jobId, { phase: "ERROR", message: "the job's process disappeared while the server was down" });
      return;
    }
    // Not our child any more: watch the pid until it goes, then read the status file.
    const entry: Running = { pid };
    this.running.set(jobId, entry);
    entry.timer = setInterval(() => {
      if (alive()) return;
      clearInterval(entry.timer);
      this.running.delete(jobId);
      this.finish(jobId, workDir, readExitStatus(workDir), null);
      this.pump();
    }, 250);
  }

  async close(): Promise<void> {
    for (const r of this.running.values()) if (r.timer) clearInterval(r.timer);
    this.queue.length = 0;
  }
}
