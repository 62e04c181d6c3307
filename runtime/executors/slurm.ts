// Slurm executor: a batch script in the job's work dir, `sbatch --parsable`, tracking through
// squeue (all tracked jobs in one call), then `scontrol show job` and `sacct -c` for jobs that left
// the queue, and `scancel`. The batch script text is constant: the command and its values are
// sbatch's trailing arguments, which Slurm hands to the script as "$@".
//
// Learning of a job's end as it happens: the batch script writes .uws-exit as its command ends, and
// the executor watches the work dir for it (inotify: the head's own file system, which NFS exports
// to the nodes, so the nodes' writes reach it through the head's kernel). Where the work dir is on a
// file system without such events (a network mount on the server's host) or no watch can be had,
// the script calls back instead (UWS_CALLBACK_URL with the job's secret): that curl costs the job
// 10–180 ms of its own time in Slurm, so it is not made when the watch sees the file. Either hint
// makes the executor ask Slurm about the job every CONFIRM_MS (`show job` to a long-lived scontrol:
// one RPC, no process spawned) until Slurm says final, with Slurm's own start and end times: a hint
// never sets a phase. Without hints (events lost, callbacks blocked, a server restarted) the
// adaptive poll finds every change.
import { execFile } from "node:child_process";
import { appendFileSync, existsSync, statfsSync, watch, writeFileSync, type FSWatcher } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { EXIT_FILE, prepareWorkDir, type Executor, type ExecUpdate, type LaunchSpec, type UpdateSink } from "./executor.js";
import { readExitStatus } from "./local.js";
import { ScontrolSession } from "./scontrol-session.js";

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
  /**
   * Watch job work dirs for their exit file (default true; never on network file systems). False:
   * every job calls back at its end instead (tests of that path).
   */
  watchWorkDirs?: boolean;
}

/**
 * UWS_SLURM_TRACE=FILE: one JSON line per step of the executor (Slurm command spawned and ended,
 * callback, update reported), epoch ms with fractions, so that the turnaround benchmark can
 * decompose a job's time. Off unless set; job ids and Slurm ids only (no arguments, no secrets).
 */
const TRACE = process.env.UWS_SLURM_TRACE;
export function trace(ev: string, fields: Record<string, unknown> = {}): void {
  if (TRACE) appendFileSync(TRACE, JSON.stringify({ t: performance.timeOrigin + performance.now(), ev, ...fields }) + "\n");
}

export const BATCH_SCRIPT = `#!/bin/sh
# Written by the UWS job server. The job's command and values arrive as "$@" (sbatch arguments).
cd "$UWS_WORK_DIR" || exit 111
"$@"
s=$?
# A shell builtin, no process (an mv cost the job 10–40 ms under load): the server reads the file
# only once Slurm says the job is final, when this script has exited.
echo "$s" > ${EXIT_FILE}
# UWS_END_CALLBACK=0: the server watches this dir and saw ${EXIT_FILE} appear.
if [ "$UWS_END_CALLBACK" != 0 ] && [ -n "$UWS_CALLBACK_URL" ] && command -v curl >/dev/null 2>&1; then
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

/** A job's Slurm state as `scontrol show job -o` prints it, with Slurm's times; undefined without JobState. */
export function parseScontrolJob(out: string): ExecUpdate | undefined {
  const state = /JobState=(\S+)/.exec(out)?.[1];
  if (!state) return undefined;
  const reason = /Reason=(\S+)/.exec(out)?.[1] ?? "";
  const exit = /ExitCode=(\S+)/.exec(out)?.[1] ?? "";
  return withTimes(mapSlurmState(state, reason, exit), /StartTime=(\S+)/.exec(out)?.[1], /EndTime=(\S+)/.exec(out)?.[1]);
}

/**
 * statfs magic numbers of file systems whose inotify events miss other hosts' writes (network and
 * user-space file systems): NFS, SMB/CIFS (three), FUSE, Ceph, 9p, Lustre, GPFS, AFS, Coda.
 */
const NO_REMOTE_EVENTS = new Set([0x6969, 0x517b, 0xff534d42, 0xfe534d42, 0x65735546, 0x00c36400, 0x01021997, 0x0bd00bd0, 0x47504653, 0x5346414f, 0x73757245]);

/** Whether a watch on `dir` sees files that jobs on other hosts write there. */
export function eventsSeeRemoteWrites(dir: string): boolean {
  try {
    return !NO_REMOTE_EVENTS.has(Number(statfsSync(dir).type));
  } catch {
    return false;
  }
}

/**
 * Time between two questions to Slurm about jobs that gave a hint of their end. Slurm marks the
 * job COMPLETED some 50–200 ms after the hint (slurmstepd ends, slurmd reports); each question is
 * one RPC through the scontrol session, and the session asks about one job at a time, which bounds
 * slurmctld's load however many jobs end together.
 */
export const CONFIRM_MS = 10;
/** How long hinted jobs are asked about that fast before the adaptive poll takes over again. */
export const CONFIRM_FOR_MS = 3000;
/**
 * Up to this many tracked jobs the regular poll asks the scontrol session about each (no process
 * spawned); beyond, one squeue spawn for all is cheaper.
 */
export const SESSION_POLL_MAX = 32;

interface Tracked {
  slurmId: string;
  workDir: string;
  last?: ExecUpdate["phase"];
  /** inotify watch on the work dir (for .uws-exit); absent when the file system refuses one. */
  watcher?: FSWatcher;
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
   * Jobs that gave a hint of their end (callback, .uws-exit appearing) → until when they are
   * confirmed fast: the hint comes just before the script exits, so Slurm still says RUNNING or
   * COMPLETING for some tens of ms.
   */
  private readonly hinted = new Map<string, number>();
  private confirmTimer?: NodeJS.Timeout;
  private confirming = false;
  private readonly session: ScontrolSession;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly sink: UpdateSink, private readonly opts: SlurmOptions = {}) {
    this.env = { ...process.env, ...(opts.slurmConf ? { SLURM_CONF: opts.slurmConf } : {}), ...(opts.env ?? {}) };
    this.session = new ScontrolSession(this.env);
  }

  /** `scontrol -o show job <id>` through the session, or spawned when the session cannot answer. */
  private async showJob(slurmId: string): Promise<{ code: number; out: string }> {
    const t0 = TRACE ? performance.now() : 0;
    const out = await this.session.showJob(slurmId);
    if (out !== undefined) {
      if (TRACE) trace("session", { what: "show job", ms: performance.now() - t0, out: out.slice(0, 300) });
      return { code: out ? 0 : 1, out };
    }
    return this.run("scontrol", ["show", "job", "-o", slurmId]);
  }

  private run(cmd: string, args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
    const t0 = TRACE ? performance.now() : 0;
    if (TRACE) trace("spawn", { cmd, what: cmd === "sbatch" ? undefined : args.slice(0, 2).join(" ") });
    return new Promise((resolve) => {
      execFile(cmd, args, { env: { ...this.env, ...extraEnv }, timeout: 30_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
        const code = error ? (typeof (error as any).code === "number" ? (error as any).code : 1) : 0;
        if (TRACE) trace("exit", { cmd, code, ms: performance.now() - t0, out: String(stdout).slice(0, 300) });
        resolve({ code, out: String(stdout), err: String(stderr) || (error && !stderr ? error.message : "") });
      });
      // How long the spawn itself held the event loop (fork of this process, exec).
      if (TRACE) trace("spawned", { cmd, sync: performance.now() - t0 });
    });
  }

  async submit(spec: LaunchSpec): Promise<void> {
    trace("submit", { job: spec.jobId });
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
    // Watching before sbatch: the job is told to call back only when nothing here sees its end.
    const watcher = this.watchExit(spec.jobId, spec.workDir);
    // The job's variables travel in sbatch's own environment (--export=ALL), never in script text.
    const r = await this.run("sbatch", args, { ...spec.env, UWS_END_CALLBACK: watcher ? "0" : "1" });
    const slurmId = r.out.trim().split(";")[0];
    if (r.code !== 0 || !slurmId || !/^\d+$/.test(slurmId)) {
      watcher?.close();
      this.sink(spec.jobId, { phase: "ERROR", message: `sbatch failed: ${(r.err || r.out).trim().slice(0, 500)}` });
      return;
    }
    this.track(spec.jobId, { slurmId, workDir: spec.workDir, last: "QUEUED", watcher });
    this.sink(spec.jobId, { phase: "QUEUED", ref: slurmId });
    this.hurry();
  }

  private schedule(): void {
    if (this.timer || this.tracked.size === 0) return;
    const max = this.opts.pollMs ?? 1000;
    const min = Math.min(max, this.opts.minPollMs ?? 100);
    const delay = Math.min(max, min * 2 ** Math.min(this.quiet, 20));
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

  /** The job's callback (authenticated by its secret): its batch script is ending. */
  poke(jobId: string): void {
    this.hint(jobId, "callback");
  }

  /**
   * A watch on the work dir for .uws-exit, which the batch script creates as the command ends;
   * undefined where events would miss the nodes' writes or the kernel refuses a watch (the inotify
   * limit): the job then calls back.
   */
  private watchExit(jobId: string, workDir: string): FSWatcher | undefined {
    if (this.opts.watchWorkDirs === false || !eventsSeeRemoteWrites(workDir)) return undefined;
    try {
      const w = watch(workDir, { persistent: false }, (_event, name) => {
        if (name === EXIT_FILE) this.hint(jobId, "exit-file");
      });
      w.on("error", () => w.close());
      return w;
    } catch {
      return undefined;
    }
  }

  /** Tracks a job (submitted, or again after a restart); an exit file already there is a hint. */
  private track(jobId: string, t: Tracked): void {
    this.tracked.set(jobId, t);
    t.watcher ??= this.watchExit(jobId, t.workDir);
    if (existsSync(join(t.workDir, EXIT_FILE))) this.hint(jobId, "exit-file");
  }

  private unwatch(t: Tracked): void {
    t.watcher?.close();
    t.watcher = undefined;
  }

  /** A sign that the job is ending: ask Slurm about it every CONFIRM_MS until Slurm says final. */
  private hint(jobId: string, source: string): void {
    if (!this.tracked.has(jobId)) return;
    trace("hint", { job: jobId, source });
    const known = this.hinted.has(jobId);
    this.hinted.set(jobId, Date.now() + CONFIRM_FOR_MS);
    if (known || this.confirming) return;
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    this.confirmTimer = undefined;
    void this.confirm();
  }

  /**
   * Asks Slurm about every hinted job in turn: a final state is reported with Slurm's times and
   * exit code; a job Slurm no longer knows is left to the regular poll (scontrol, then accounting).
   */
  private async confirm(): Promise<void> {
    this.confirmTimer = undefined;
    const now = Date.now();
    for (const [id, until] of this.hinted) if (until < now || !this.tracked.has(id)) this.hinted.delete(id);
    if (this.hinted.size === 0) return;
    this.confirming = true;
    try {
      for (const jobId of [...this.hinted.keys()]) {
        const t = this.tracked.get(jobId);
        if (!t) continue;
        const r = await this.showJob(t.slurmId);
        const u = r.code === 0 ? parseScontrolJob(r.out) : undefined;
        if (!u) {
          this.hinted.delete(jobId);
          this.hurry();
        } else if (u.phase !== "QUEUED" && u.phase !== "HELD") this.report(jobId, t, u);
      }
    } finally {
      this.confirming = false;
      if (this.hinted.size && !this.confirmTimer) {
        this.confirmTimer = setTimeout(() => void this.confirm(), CONFIRM_MS);
        this.confirmTimer.unref?.();
      }
    }
  }

  private report(jobId: string, t: Tracked, u: ExecUpdate): void {
    // The poll and the confirmation run side by side: whichever saw the end first reported it.
    if (this.tracked.get(jobId) !== t) return;
    if (u.phase === "COMPLETED") {
      // Slurm says COMPLETED for exit 0 only; the status file tells a failing command apart.
      const status = readExitStatus(t.workDir);
      if (status !== null && status !== 0) u = { phase: "ERROR", message: `the command exited with status ${status}` };
    }
    if (u.phase === "ABORTED" && !this.canceled.has(jobId)) u = { phase: "ABORTED", message: "cancelled in Slurm (scancel outside the job server)" };
    const final = u.phase === "COMPLETED" || u.phase === "ERROR" || u.phase === "ABORTED";
    if (final) {
      this.unwatch(t);
      this.tracked.delete(jobId);
      this.canceled.delete(jobId);
      this.hinted.delete(jobId);
    }
    if (u.phase !== t.last || final) {
      t.last = u.phase;
      this.quiet = 0;
      trace("report", { job: jobId, phase: u.phase });
      this.sink(jobId, u);
      trace("reported", { job: jobId, phase: u.phase });
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
      if (entries.length <= SESSION_POLL_MAX && (await this.pollBySession(entries))) return;
      const bySlurm = new Map(entries.map(([jobId, t]) => [t.slurmId, jobId]));
      // %S, %e: the start and end times (Slurm's own, in its local time).
      const q = await this.run("squeue", ["-h", "-u", userInfo().username, "--states=all", "-o", "%i|%T|%r|%S|%e"]);
      const seen = new Set<string>();
      if (q.code === 0) {
        for (const line of q.out.split("\n")) {
          const [id, state, reason, start, end] = line.trim().split("|");
          if (!id || !state) continue;
          const jobId = bySlurm.get(id);
          if (!jobId) continue;
          seen.add(id);
          const t = this.tracked.get(jobId);
          if (!t) continue;
          const u = mapSlurmState(state, reason);
          // Failures get scontrol's exit code in their message; everything else squeue's own times.
          if (u.phase === "ERROR" || u.phase === "ABORTED") {
            const g = await this.lookupGone(id);
            this.report(jobId, t, g && g.phase === u.phase ? g : u);
          } else this.report(jobId, t, withTimes(u, start, end));
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

  /** The poll through the scontrol session, one job at a time; false when the session cannot answer. */
  private async pollBySession(entries: Array<[string, Tracked]>): Promise<boolean> {
    for (const [jobId, t] of entries) {
      if (!this.tracked.has(jobId)) continue;
      const out = await this.session.showJob(t.slurmId);
      if (out === undefined) return false;
      let u = parseScontrolJob(out);
      if (!u) {
        // No answer: Slurm forgot the job (past MinJobAge), or slurmctld is unreachable, when no
        // job may be declared lost: the squeue poll then fails and skips the round, as before.
        if ((await this.session.controllerUp()) !== true) return false;
        u = await this.lookupGone(t.slurmId);
      }
      this.report(jobId, t, u);
    }
    return true;
  }

  /** A job squeue no longer lists: scontrol (within MinJobAge), then accounting (sacct -c). */
  private async lookupGone(slurmId: string): Promise<ExecUpdate> {
    const sc = await this.showJob(slurmId);
    const u = sc.code === 0 ? parseScontrolJob(sc.out) : undefined;
    if (u) return u;
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
    this.quiet = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    void this.poll();
  }

  async reattach(jobId: string, ref: string | null, workDir: string, spec: () => LaunchSpec): Promise<void> {
    if (!ref) {
      // Crashed between "QUEUED" and sbatch's answer: submit again.
      return this.submit(spec());
    }
    this.track(jobId, { slurmId: ref, workDir });
    this.schedule();
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    this.timer = this.confirmTimer = undefined;
    for (const t of this.tracked.values()) this.unwatch(t);
    this.tracked.clear();
    this.hinted.clear();
    this.session.close();
  }
}
