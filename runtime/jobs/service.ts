// The job service: the UWS phase machine over the database and an executor. It enforces execution
// durations (overrun aborts) and destruction times (job and files removed), wakes WAIT clients
// through in-process listeners, and reconciles active jobs with the executor at start.
import { randomBytes } from "node:crypto";
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, realpathSync, rmSync, statSync } from "node:fs";
import { basename, join, sep } from "node:path";
import type { Executor, ExecUpdate, LaunchSpec, WorkDirFiles } from "../executors/executor.js";
import type { JobDefinition } from "../jobdefs/definition.js";
import { buildLaunch, type ParamValue } from "../jobdefs/params.js";
import { ACTIVE_PHASES, FINAL_PHASES, type Job, type JobsDb, type Phase, type ResultRef } from "../store/jobs-db.js";

export class UwsError extends Error {
  constructor(readonly status: 400 | 403 | 404 | 409 | 413 | 500, message: string) {
    super(message);
  }
}

export interface ServiceOptions {
  workDir: string;
  /** Seconds added to the creation time for the default destruction time. */
  defaultLifetimeSec: number;
  /** Upper bound of the destruction time, seconds after creation. */
  maxLifetimeSec: number;
  sweepMs?: number;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
  /** Absolute URL the jobs can call back (per-job secret), when known. */
  callbackUrl?: (jobId: string) => string | undefined;
  callbackSecret?: (jobId: string) => string;
}

const ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789";
let idPool = Buffer.alloc(0);
let idPos = 0;
/** 12 random characters (60 bits); bytes come from a pool so creation stays cheap. */
export function newJobId(): string {
  if (idPos + 12 > idPool.length) {
    idPool = randomBytes(12 * 1024);
    idPos = 0;
  }
  let s = "";
  for (let i = 0; i < 12; i++) s += ID_ALPHABET[idPool[idPos++]! & 31];
  return s;
}

type Waiter = () => void;
/** A job's change: its row now, or the row it had when `removed` (deleted). */
export type ChangeWatcher = (job: Job, removed: boolean) => void;
/** Start and end times an executor knows better than the moment the server learnt of them. */
type Times = Pick<ExecUpdate, "startedAt" | "endedAt">;

export class JobService {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly watchers = new Set<ChangeWatcher>();
  private readonly overrun = new Map<string, NodeJS.Timeout>();
  private sweeper?: NodeJS.Timeout;
  executor!: Executor;
  /**
   * Called synchronously when a job reaches a final phase, before the phase, times and `results`
   * are stored (`job` is the row before; with `final` and `results` it is the row after); a hook
   * may add result entries. A hook that throws never keeps the job from finishing.
   */
  readonly finalHooks: Array<(job: Job, final: { phase: Phase; started: number | null; ended: number; error: string | null }, results: ResultRef[]) => void> = [];
  /**
   * Entries listed among a job's results when they are served but never stored in its row (the
   * provenance plugin lists `provenance` for every final job): the row a finished job writes, and
   * every later read of it, stay as small as without them.
   */
  readonly resultListers: Array<(job: Job) => ResultRef | undefined> = [];

  /** A job's results as served: the stored ones, then the listers' (an id already stored wins). */
  servedResults(job: Job): ResultRef[] {
    if (!this.resultListers.length) return job.results;
    const out = job.results.slice();
    for (const list of this.resultListers) {
      const r = list(job);
      if (r && !out.some((x) => x.id === r.id)) out.push(r);
    }
    return out;
  }

  constructor(
    readonly db: JobsDb,
    readonly definitions: Map<string, JobDefinition>,
    private readonly opts: ServiceOptions,
  ) {
    mkdirSync(opts.workDir, { recursive: true, mode: 0o755 });
  }

  setExecutor(e: Executor): void {
    this.executor = e;
  }

  jobDir(id: string): string {
    return join(this.opts.workDir, id);
  }

  async create(def: JobDefinition, owner: string | null, params: ParamValue[], opts: { runId?: string | null; duration?: number; destruction?: number; id?: string }): Promise<Job> {
    const now = Date.now();
    const id = opts.id ?? newJobId();
    const duration = this.clampDuration(def, opts.duration ?? def.maxDuration);
    const destruction = this.clampDestruction(now, opts.destruction ?? now + this.opts.defaultLifetimeSec * 1000);
    await this.db.insertBatched({ id, definition: def.name, owner, runId: opts.runId ?? null, phase: "PENDING", created: now, duration, destruction, params });
    return { id, definition: def.name, owner, runId: opts.runId ?? null, phase: "PENDING", created: now, started: null, ended: null, duration, destruction, quote: null, params, results: [], error: null, errorType: null, execRef: null };
  }

  clampDuration(def: JobDefinition, seconds: number): number {
    if (def.maxDuration > 0 && (seconds === 0 || seconds > def.maxDuration)) return def.maxDuration;
    return seconds;
  }

  clampDestruction(created: number, at: number): number {
    return Math.min(at, created + this.opts.maxLifetimeSec * 1000);
  }

  /** PHASE=RUN: starts a PENDING job, or releases a HELD one (HELD → EXECUTING in UWS 1.1). */
  async run(job: Job): Promise<void> {
    if (job.phase === "HELD") return this.release(job);
    if (job.phase !== "PENDING") throw new UwsError(403, `cannot run a job in phase ${job.phase} (only PENDING and HELD jobs can be run)`);
    const def = this.definitions.get(job.definition);
    if (!def) throw new UwsError(500, `definition ${job.definition} is no longer loaded`);
    this.transition(job.id, "QUEUED");
    try {
      await this.executor.submit(this.launchSpec(def, job, true));
    } catch (e) {
      this.fail(job.id, `could not submit the job: ${(e as Error).message}`);
    }
  }

  /**
   * Only an executor that holds jobs can release them (Slurm: a hold put by `scontrol hold`; the
   * job then goes back to Slurm's queue, QUEUED, and runs when scheduled). The local executor never
   * holds a job. A hold the server's Slurm user may not lift (an operator's hold) answers 403 with
   * Slurm's message.
   */
  private async release(job: Job): Promise<void> {
    if (!this.executor.release) throw new UwsError(403, `job '${job.id}' is HELD and the ${this.executor.name} executor cannot release held jobs`);
    try {
      await this.executor.release(job.id, job.execRef);
    } catch (e) {
      throw new UwsError(403, `could not release held job '${job.id}': ${(e as Error).message}`);
    }
  }

  /**
   * What the executor runs, with the files its work dir needs (parameter file, callback header,
   * helper copy) when `prepare`: the executor writes them (the local one off the event loop). The
   * work dir itself is made here, so that a job destroyed before its start leaves no dir behind:
   * its preparation then fails instead of making the dir again.
   */
  private launchSpec(def: JobDefinition, job: Job, prepare: boolean): LaunchSpec {
    const dir = this.jobDir(job.id);
    const files: WorkDirFiles = { dirs: [], files: [] };
    let exe = def.executable;
    if (exe.startsWith("./")) {
      // Helper scripts are copied into the work dir, which compute nodes see (shared filesystem).
      const local = join(dir, ".uws-bin", basename(exe));
      files.dirs.push(join(dir, ".uws-bin"));
      files.files.push({ path: local, copyFrom: join(def.dir, exe) });
      exe = local;
    }
    if (prepare) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      files.files.push({ path: join(dir, ".uws-params.json"), text: JSON.stringify(Object.fromEntries(job.params.map((p) => [p.name, p.value]))), mode: 0o644 });
      const cb = this.opts.callbackSecret?.(job.id);
      if (cb) files.files.push({ path: join(dir, ".uws-callback-header"), text: `Authorization: Bearer ${cb}\n`, mode: 0o600 });
    }
    const { args, env } = buildLaunch(def, job.id, dir, job.params);
    const url = this.opts.callbackUrl?.(job.id);
    if (url) env.UWS_CALLBACK_URL = url;
    return { jobId: job.id, workDir: dir, argv: [exe, ...args], env, cpus: def.cpus, memoryMb: def.memoryMb, durationSec: job.duration, ...(prepare ? { prepare: files } : {}) };
  }

  /** PHASE=ABORT, or the execution duration ran out. */
  async abort(job: Job, message?: string): Promise<void> {
    if (FINAL_PHASES.includes(job.phase)) throw new UwsError(403, `cannot abort a job in phase ${job.phase}`);
    const wasActive = ACTIVE_PHASES.includes(job.phase);
    this.finishJob(job.id, "ABORTED", message ?? null);
    if (wasActive) await this.executor.cancel(job.id, job.execRef ?? this.db.get(job.id)?.execRef ?? null).catch(() => {});
  }

  /** DELETE: stop the job, remove its files and its record. */
  async destroy(job: Job): Promise<void> {
    if (ACTIVE_PHASES.includes(job.phase)) await this.executor.cancel(job.id, job.execRef).catch(() => {});
    this.clearOverrun(job.id);
    this.db.delete(job.id);
    rmSync(this.jobDir(job.id), { recursive: true, force: true });
    this.notify(job.id, job);
  }

  /**
   * Updates from the executor. Updates for jobs already final (aborted, deleted) are ignored. Their
   * writes share the event-loop turn's transaction (JobsDb.inBatch).
   */
  onExecUpdate = (jobId: string, u: ExecUpdate): void => {
    this.db.inBatch(() => this.applyExecUpdate(jobId, u));
  };

  private applyExecUpdate(jobId: string, u: ExecUpdate): void {
    const job = this.db.get(jobId);
    if (!job || FINAL_PHASES.includes(job.phase)) return;
    if (u.phase === "EXECUTING" && job.phase !== "EXECUTING") {
      // The executor's own record (Slurm accounting) when it has one, not when we noticed.
      // Slurm's times have whole seconds: never before the job's creation.
      const started = u.startedAt !== undefined ? Math.max(u.startedAt, job.created) : (job.started ?? Date.now());
      this.db.setStarted(jobId, "EXECUTING", started, u.ref);
      this.notify(jobId);
      this.armOverrun(jobId, job.duration, started);
      return;
    }
    if (u.ref !== undefined) this.db.setExecRef(jobId, u.ref);
    switch (u.phase) {
      case "QUEUED":
      case "HELD":
      case "SUSPENDED":
        if (job.phase !== u.phase) this.transition(jobId, u.phase);
        return;
      case "EXECUTING":
        return;
      case "COMPLETED":
        return this.finishJob(jobId, "COMPLETED", null, u, job);
      case "ABORTED":
        return this.finishJob(jobId, "ABORTED", u.message ?? null, u, job);
      case "ERROR":
        return this.fail(jobId, u.message ?? "the job failed", u, job);
    }
  }

  private fail(jobId: string, message: string, times: Times = {}, job?: Job): void {
    const said = this.lastStderrLine(jobId);
    this.finishJob(jobId, "ERROR", said ? `${message}: ${said}` : message, times, job);
  }

  /** The job's own last word on stderr (a workflow's "no spectrum could be converted"), bounded. */
  private lastStderrLine(jobId: string): string | undefined {
    try {
      const fd = openSync(join(this.jobDir(jobId), "stderr"), "r");
      try {
        const size = fstatSync(fd).size;
        const buf = Buffer.alloc(Math.min(size, 4096));
        readSync(fd, buf, 0, buf.length, size - buf.length);
        const line = buf.toString("utf8").split("\n").map((l) => l.trim()).filter(Boolean).pop();
        return line ? line.slice(0, 300) : undefined;
      } finally {
        closeSync(fd);
      }
    } catch {
      return undefined;
    }
  }

  private transition(jobId: string, phase: Phase, started: number | null = null): void {
    this.db.setPhase(jobId, phase, started);
    this.notify(jobId);
  }

  /**
   * The final phase, with the executor's start and end times when it has them (a Slurm job that
   * went QUEUED → COMPLETED between two polls still gets its real start time). A message is kept
   * for ERROR (fatal) and for an ABORTED job the server or Slurm aborted (transient: the reason,
   * e.g. its execution duration ran out); a client's own ABORT has none.
   */
  private finishJob(jobId: string, phase: "COMPLETED" | "ERROR" | "ABORTED", message: string | null, times: Times = {}, current?: Job): void {
    this.clearOverrun(jobId);
    const job = current ?? this.db.get(jobId);
    if (!job) return;
    const started = job.started ?? (times.startedAt !== undefined ? Math.max(times.startedAt, job.created) : null);
    if (job.started === null && started !== null) this.db.setPhase(jobId, job.phase, started);
    const results = this.collectResults(job);
    const ended = times.endedAt !== undefined ? Math.max(times.endedAt, started ?? job.created) : Date.now();
    for (const hook of this.finalHooks) {
      try {
        hook(job, { phase, started, ended, error: phase === "ERROR" ? message : null }, results);
      } catch (e) {
        this.opts.log?.("final-phase hook failed", { jobId, err: (e as Error).message });
      }
    }
    this.db.finish(jobId, phase, ended, results, message, message === null ? null : phase === "ERROR" ? "fatal" : "transient");
    this.notify(jobId);
  }

  /**
   * Declared results found in the work dir. A result must be a regular file inside the work dir:
   * a symlink a job planted towards another file is refused.
   */
  private collectResults(job: Job): ResultRef[] {
    const def = this.definitions.get(job.definition);
    if (!def) return [];
    const dir = this.jobDir(job.id);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return [];
    }
    let root: string;
    try {
      root = realpathSync(dir);
    } catch {
      return [];
    }
    const out: ResultRef[] = [];
    for (const r of def.results) {
      const re = new RegExp("^" + r.file.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]") + "$");
      const matches = names.filter((n) => re.test(n) && !n.startsWith("."));
      matches.forEach((n, i) => {
        try {
          const real = realpathSync(join(dir, n));
          if (!real.startsWith(root + sep)) return;
          const st = statSync(real);
          if (!st.isFile()) return;
          out.push({ id: matches.length === 1 ? r.name : `${r.name}-${i + 1}`, file: n, mimeType: r.mimeType, size: st.size });
        } catch {
          /* vanished */
        }
      });
    }
    return out;
  }

  private armOverrun(jobId: string, duration: number, started: number): void {
    this.clearOverrun(jobId);
    if (duration <= 0) return;
    const left = Math.max(0, started + duration * 1000 - Date.now());
    const t = setTimeout(() => {
      this.overrun.delete(jobId);
      const job = this.db.get(jobId);
      if (job && !FINAL_PHASES.includes(job.phase)) void this.abort(job, `execution duration of ${duration} s exceeded`).catch(() => {});
    }, left);
    t.unref();
    this.overrun.set(jobId, t);
  }

  private clearOverrun(jobId: string): void {
    const t = this.overrun.get(jobId);
    if (t) clearTimeout(t);
    this.overrun.delete(jobId);
  }

  setDuration(job: Job, seconds: number): number {
    if (FINAL_PHASES.includes(job.phase)) throw new UwsError(403, `cannot change the execution duration of a job in phase ${job.phase}`);
    const def = this.definitions.get(job.definition)!;
    const d = this.clampDuration(def, seconds);
    this.db.setDuration(job.id, d);
    if (job.phase === "EXECUTING" && job.started !== null) this.armOverrun(job.id, d, job.started);
    return d;
  }

  setDestruction(job: Job, at: number): void {
    this.db.setDestruction(job.id, this.clampDestruction(job.created, at));
  }

  // ---- WAIT ---------------------------------------------------------------------------------

  /** Resolves at the job's next change (or deletion), or after `ms`. Never blocks the event loop. */
  waitForChange(jobId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(jobId);
      if (!set) this.waiters.set(jobId, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        set!.delete(w);
        if (set!.size === 0 && this.waiters.get(jobId) === set) this.waiters.delete(jobId);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const w: Waiter = () => done();
      set.add(w);
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done);
    });
  }

  /**
   * Every job's phase changes and removals, as they happen (the portal's event streams: a job that
   * starts and ends between two looks at the live jobs is still seen). Returns the unsubscribe.
   */
  watchChanges(fn: ChangeWatcher): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  /** `removed`: the row of a job just deleted. */
  private notify(jobId: string, removed?: Job): void {
    if (this.watchers.size) {
      const job = removed ?? this.db.get(jobId);
      if (job) for (const w of [...this.watchers]) w(job, removed !== undefined);
    }
    const set = this.waiters.get(jobId);
    if (!set) return;
    for (const w of [...set]) w();
  }

  waitingClients(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }

  // ---- start-up and background ----------------------------------------------------------------

  /** Active jobs after a restart: tracked again when still running, ERROR when gone. */
  async reconcile(): Promise<number> {
    const active = this.db.active();
    for (const job of active) {
      const def = this.definitions.get(job.definition);
      if (!def) {
        this.fail(job.id, `definition ${job.definition} is no longer loaded on this server`);
        continue;
      }
      if (job.phase === "EXECUTING" && job.started !== null) this.armOverrun(job.id, job.duration, job.started);
      await this.executor.reattach(job.id, job.execRef, this.jobDir(job.id), () => this.launchSpec(def, job, job.execRef === null));
    }
    return active.length;
  }

  startSweeper(): void {
    this.sweeper = setInterval(() => void this.sweep(), this.opts.sweepMs ?? 1000);
    this.sweeper.unref();
  }

  /** Destruction time reached: the job and its files are removed. */
  async sweep(now = Date.now()): Promise<number> {
    const ids = this.db.expired(now);
    for (const id of ids) {
      const job = this.db.get(id);
      if (!job) continue;
      this.opts.log?.("destruction time reached: removing job", { jobId: id });
      await this.destroy(job);
    }
    return ids.length;
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const t of this.overrun.values()) clearTimeout(t);
    this.overrun.clear();
    for (const id of [...this.waiters.keys()]) this.notify(id);
    await this.executor?.close();
  }
}
