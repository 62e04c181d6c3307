// Slurm executor: a batch script in the job's work dir, `sbatch --parsable`, tracking through
// squeue (all tracked jobs in one call), then `scontrol show job` and `sacct -c` for jobs that left
// the queue, and `scancel`. The batch script text is constant: the command and its values are
// sbatch's trailing arguments, which Slurm hands to the script as "$@".
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { EXIT_FILE, prepareWorkDir, type Executor, type ExecUpdate, type LaunchSpec, type UpdateSink } from "./executor.js";
import { readExitStatus } from "./local.js";

export interface SlurmOptions {
  partition?: string;
  /** Exported as SLURM_CONF to every Slurm command. */
  slurmConf?: string | null;
  /** Longest time between two polls, ms (1000). */
  pollMs?: number;
  /**
   * Shortest time between two polls, ms (100): after a submission or a state change the executor
   * polls this fast, doubling the interval at every poll without change up to pollMs, so a short
   * job's turnaround is not a whole poll interval behind Slurm.
   */
  minPollMs?: number;
  /** Extra environment for the Slurm commands (tests: SLURM_CONF of the loopback cluster). */
  env?: Record<string, string>;
}

export const BATCH_SCRIPT = `#!/bin/sh
# Written by the UWS job server. The job's command and values arrive as "$@" (sbatch arguments).
cd "$UWS_WORK_DIR" || exit 111
"$@"
s=$?
echo "$s" > ${EXIT_FILE}.tmp && mv ${EXIT_FILE}.tmp ${EXIT_FILE}
if [ -n "$UWS_CALLBACK_URL" ] && command -v curl >/dev/null 2>&1; then
  curl -fsS -m 5 -X POST -H @.uws-callback-header "$UWS_CALLBACK_URL" >/dev/null 2>&1 || true
fi
exit "$s"
`;

/**
 * A time as Slurm prints it (ISO 8601 without a zone, in the local time of the machine running the
 * command — this one), as epoch ms; undefined for Unknown/None/N/A.
 */
export function parseSlurmTime(text: string | undefined): number | undefined {
  if (!text || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(text)) return undefined;
  const t = new Date(text).getTime();
  return Number.isFinite(t) ? t : undefined;
}

/** The update with Slurm's start (and end, for a final state) times when Slurm knows them. */
export function withTimes(u: ExecUpdate, start?: string, end?: string): ExecUpdate {
  const startedAt = u.phase === "QUEUED" || u.phase === "HELD" ? undefined : parseSlurmTime(start);
  const final = u.phase === "COMPLETED" || u.phase === "ERROR" || u.phase === "ABORTED";
  const endedAt = final ? parseSlurmTime(end) : undefined;
  return { ...u, ...(startedAt !== undefined ? { startedAt } : {}), ...(endedAt !== undefined ? { endedAt } : {}) };
}

/** Slurm job state → UWS phase (with a message for failures). */
export function mapSlurmState(state: string, reason = "", exitCode = ""): ExecUpdate {
  const s = state.split(/[ +]/)[0]!.toUpperCase();
  switch (s) {
    case "PENDING":
    case "CONFIGURING":
    case "REQUEUED":
    case "REQUEUE_HOLD":
    case "REQUEUE_FED":
      if (/Held/i.test(reason)) return { phase: "HELD" };
      return { phase: "QUEUED" };
    case "RUNNING":
    case "COMPLETING":
    case "RESIZING":
    case "SIGNALING":
    case "STAGE_OUT":
      return { phase: "EXECUTING" };
    case "SUSPENDED":
    case "STOPPED":
      return { phase: "SUSPENDED" };
    case "COMPLETED":
      return { phase: "COMPLETED" };
    case "CANCELLED":
      return { phase: "ABORTED", message: "cancelled in Slurm" };
    case "TIMEOUT":
      return { phase: "ERROR", message: "Slurm TIMEOUT: the job exceeded its time limit" };
    case "NODE_FAIL":
      return { phase: "ERROR", message: "Slurm NODE_FAIL: the node running the job failed" };
    case "OUT_OF_MEMORY":
      return { phase: "ERROR", message: "Slurm OUT_OF_MEMORY: the job exceeded its memory limit" };
    case "FAILED":
      return { phase: "ERROR", message: `Slurm FAILED${exitCode ? ` (exit code ${exitCode})` : ""}` };
    case "BOOT_FAIL":
    case "DEADLINE":
    case "PREEMPTED":
    case "REVOKED":
      return { phase: "ERROR", message: `Slurm ${s}` };
    default:
      return { phase: "ERROR", message: `unknown Slurm state ${state}` };
  }
}

interface Tracked {
  slurmId: string;
  workDir: string;
  last?: ExecUpdate["phase"];
}

export class SlurmExecutor implements Executor {
  readonly name = "slurm" as const;
  private readonly tracked = new Map<string, Tracked>();
  private readonly canceled = new Set<string>();
  private timer?: NodeJS.Timeout;
  private polling = false;
  private again = false;
  /** Polls since the last submission or state change (adaptive interval). */
  private quiet = 0;
  /**
   * Jobs that called back (their batch script ends), until they are seen final: the callback comes
   * just before the script exits, so Slurm may still say RUNNING; they are polled every 50 ms for
   * up to 5 s, whatever the adaptive interval.
   */
  private readonly poked = new Map<string, number>();
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly sink: UpdateSink, private readonly opts: SlurmOptions = {}) {
    this.env = { ...process.env, ...(opts.slurmConf ? { SLURM_CONF: opts.slurmConf } : {}), ...(opts.env ?? {}) };
  }

  private run(cmd: string, args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
    return new Promise((resolve) => {
      execFile(cmd, args, { env: { ...this.env, ...extraEnv }, timeout: 30_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
        const code = error ? (typeof (error as any).code === "number" ? (error as any).code : 1) : 0;
        resolve({ code, out: String(stdout), err: String(stderr) || (error && !stderr ? error.message : "") });
      });
    });
  }

  async submit(spec: LaunchSpec): Promise<void> {
    if (spec.prepare) prepareWorkDir(spec.prepare);
    const script = join(spec.workDir, ".uws-batch.sh");
    writeFileSync(script, BATCH_SCRIPT, { mode: 0o700 });
    // --no-requeue: a UWS job runs once. Requeued after a node failure it would sit in QUEUED for
    // good from the client's point of view; failing it lets the job end in ERROR with a message.
    const args = ["--parsable", "--no-requeue", `--job-name=uws-${spec.jobId}`, `--chdir=${spec.workDir}`, `--output=${join(spec.workDir, "stdout")}`, `--error=${join(spec.workDir, "stderr")}`, `--cpus-per-task=${Math.max(1, Math.ceil(spec.cpus))}`, "--export=ALL"];
    if (this.opts.partition) args.push(`--partition=${this.opts.partition}`);
    if (spec.memoryMb > 0) args.push(`--mem=${Math.ceil(spec.memoryMb)}M`);
    // Backstop only: the service aborts at the exact execution duration; Slurm's TIMEOUT catches
    // the job if the server is down at that moment.
    if (spec.durationSec > 0) args.push(`--time=${Math.ceil(spec.durationSec / 60) + 1}`);
    args.push(script, ...spec.argv);
    // The job's variables travel in sbatch's own environment (--export=ALL), never in script text.
    const r = await this.run("sbatch", args, spec.env);
    const slurmId = r.out.trim().split(";")[0];
    if (r.code !== 0 || !slurmId || !/^\d+$/.test(slurmId)) {
      this.sink(spec.jobId, { phase: "ERROR", message: `sbatch failed: ${(r.err || r.out).trim().slice(0, 500)}` });
      return;
    }
    this.tracked.set(spec.jobId, { slurmId, workDir: spec.workDir, last: "QUEUED" });
    this.sink(spec.jobId, { phase: "QUEUED", ref: slurmId });
    this.hurry();
  }

  private schedule(): void {
    if (this.timer || this.tracked.size === 0) return;
    const max = this.opts.pollMs ?? 1000;
    const min = Math.min(max, this.opts.minPollMs ?? 100);
    let delay = Math.min(max, min * 2 ** Math.min(this.quiet, 20));
    const now = Date.now();
    for (const [id, until] of this.poked) if (until < now || !this.tracked.has(id)) this.poked.delete(id);
    if (this.poked.size) delay = Math.min(delay, 50);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.quiet++;
      void this.poll();
    }, delay);
    this.timer.unref?.();
  }

  /** Something is about to change (a submission, a release): poll at the fastest pace again. */
  private hurry(): void {
    this.quiet = 0;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.schedule();
  }

  poke(jobId: string): void {
    if (!this.tracked.has(jobId)) return;
    this.poked.set(jobId, Date.now() + 5000);
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    void this.poll();
  }

  private report(jobId: string, t: Tracked, u: ExecUpdate): void {
    if (u.phase === "COMPLETED") {
      // Slurm says COMPLETED for exit 0 only; the status file tells a failing command apart.
      const status = readExitStatus(t.workDir);
      if (status !== null && status !== 0) u = { phase: "ERROR", message: `the command exited with status ${status}` };
    }
    if (u.phase === "ABORTED" && !this.canceled.has(jobId)) u = { phase: "ABORTED", message: "cancelled in Slurm (scancel outside the job server)" };
    const final = u.phase === "COMPLETED" || u.phase === "ERROR" || u.phase === "ABORTED";
    if (final) {
      this.tracked.delete(jobId);
      this.canceled.delete(jobId);
      this.poked.delete(jobId);
    }
    if (u.phase !== t.last || final) {
      t.last = u.phase;
      this.quiet = 0;
      this.sink(jobId, u);
    }
  }

  private async poll(): Promise<void> {
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = true;
    try {
      const entries = [...this.tracked.entries()];
      if (entries.length === 0) return;
      const bySlurm = new Map(entries.map(([jobId, t]) => [t.slurmId, jobId]));
      // %S: the start time (Slurm's own, in its local time) once the job runs.
      const q = await this.run("squeue", ["-h", "-u", userInfo().username, "--states=all", "-o", "%i|%T|%r|%S"]);
      const seen = new Set<string>();
      if (q.code === 0) {
        for (const line of q.out.split("\n")) {
          const [id, state, reason, start] = line.trim().split("|");
          if (!id || !state) continue;
          const jobId = bySlurm.get(id);
          if (!jobId) continue;
          seen.add(id);
          const t = this.tracked.get(jobId);
          if (!t) continue;
          const u = mapSlurmState(state, reason);
          // A job squeue still lists as finished (COMPLETING/COMPLETED) gets its times from scontrol.
          const final = u.phase === "COMPLETED" || u.phase === "ERROR" || u.phase === "ABORTED";
          if (final) {
            const g = await this.lookupGone(id);
            this.report(jobId, t, g && g.phase === u.phase ? g : u);
          }
          else this.report(jobId, t, u.phase === "EXECUTING" ? withTimes(u, start) : u);
        }
      }
      for (const [jobId, t] of entries) {
        if (seen.has(t.slurmId) || !this.tracked.has(jobId) || q.code !== 0) continue;
        const u = await this.lookupGone(t.slurmId);
        if (u) this.report(jobId, t, u);
      }
    } finally {
      this.polling = false;
      if (this.again) {
        this.again = false;
        void this.poll();
      } else this.schedule();
    }
  }

  /** A job squeue no longer lists: scontrol (within MinJobAge), then accounting (sacct -c). */
  private async lookupGone(slurmId: string): Promise<ExecUpdate | undefined> {
    const sc = await this.run("scontrol", ["show", "job", "-o", slurmId]);
    if (sc.code === 0) {
      const state = /JobState=(\S+)/.exec(sc.out)?.[1];
      const reason = /Reason=(\S+)/.exec(sc.out)?.[1] ?? "";
      const exit = /ExitCode=(\S+)/.exec(sc.out)?.[1] ?? "";
      if (state) return withTimes(mapSlurmState(state, reason, exit), /StartTime=(\S+)/.exec(sc.out)?.[1], /EndTime=(\S+)/.exec(sc.out)?.[1]);
    }
    const sa = await this.run("sacct", ["-c", "-n", "-P", "-j", slurmId, "-o", "JobID,State,ExitCode,Start,End"]);
    if (sa.code === 0) {
      for (const line of sa.out.split("\n")) {
        const [id, state, exit, start, end] = line.trim().split("|");
        if (id === slurmId && state) return withTimes(mapSlurmState(state, "", exit ?? ""), start, end);
      }
    }
    return { phase: "ERROR", message: `Slurm job ${slurmId} is unknown to squeue, scontrol and sacct` };
  }

  async cancel(jobId: string, ref: string | null): Promise<void> {
    const slurmId = this.tracked.get(jobId)?.slurmId ?? ref;
    if (!slurmId) return;
    this.canceled.add(jobId);
    await this.run("scancel", [slurmId]);
  }

  async release(jobId: string, ref: string | null): Promise<void> {
    const slurmId = this.tracked.get(jobId)?.slurmId ?? ref;
    if (!slurmId) throw new Error("the job has no Slurm job id");
    const r = await this.run("scontrol", ["release", slurmId]);
    if (r.code !== 0) throw new Error(`scontrol release ${slurmId}: ${(r.err || r.out).trim().slice(0, 300)}`);
    // Report the new Slurm state (PENDING → QUEUED, then RUNNING) without waiting for the next poll.
    this.poke(jobId);
    this.quiet = 0;
  }

  async reattach(jobId: string, ref: string | null, workDir: string, spec: () => LaunchSpec): Promise<void> {
    if (!ref) {
      // Crashed between "QUEUED" and sbatch's answer: submit again.
      return this.submit(spec());
    }
    this.tracked.set(jobId, { slurmId: ref, workDir });
    this.schedule();
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.tracked.clear();
  }
}
