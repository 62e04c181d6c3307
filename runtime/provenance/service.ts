// Provenance of every job that reaches a final phase. The job service calls `onFinal`
// synchronously while it stores the final phase: the job is queued for the provenance worker
// thread (recorder.ts, worker.ts), which captures the record (stat calls, the step log), hashes
// the files, serializes and stores it in provenance.sqlite, off the event loop, a batch per
// transaction. A request for a record not stored yet waits for it. The `provenance` entry among
// the job's results is listed when results are served (`listResult`), not stored in the job's row.
//
// A job that never ran (a PENDING job aborted: no start, no process, no results; record.ts
// recordedOnRequest) costs nothing when it ends: its record follows from what is stored and does
// not change, so it is made when first asked for, through the same worker, and stored then.
//
// Nothing is lost that cannot be rebuilt: a job whose final phase is stored but whose record is
// not (the server crashed in between, or the job is older than provenance) gets its record from
// the worker's start-up scan, or on first request if that comes sooner — hashes taken then, and
// noted. If the worker dies, the jobs it held and every later one are recorded on this thread
// (hashing on streams), as before the worker existed; so is everything when the job database is
// in memory (there is no file for the worker to open).
import { hostname } from "node:os";
import { parse as parseYaml } from "yaml";
import type { JobService } from "../jobs/service.js";
import type { JobDefinition } from "../jobdefs/definition.js";
import { FINAL_PHASES, type Job, type Phase, type ResultRef } from "../store/jobs-db.js";
import type { ProvenanceDb } from "../store/provenance-db.js";
import { jobDocument } from "./document.js";
import { ProvDoc } from "./model.js";
import { captureFinal, definitionFacts, hashAll, PROVENANCE_RESULT, recordedOnRequest, sourceJobs, type DefinitionFacts, type JobRecord } from "./record.js";
import { ProvenanceRecorder, type FailedRecord } from "./recorder.js";

export interface ProvenanceOptions {
  /** The server's canonical URL (no trailing slash): the namespace of every identifier. */
  base: () => string;
  version: string;
  executor: string;
  host?: string;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
  /** Record on the event loop instead of a worker thread (tests of the fallback). */
  inProcess?: boolean;
}

export const PROVENANCE_MIME = "application/json";
const PROVENANCE_ENTRY: ResultRef = Object.freeze({ id: PROVENANCE_RESULT, file: ".uws-provenance.json", mimeType: PROVENANCE_MIME, size: null });
/** How long a request waits for the worker (which runs at low priority) before making the record itself. */
const WAIT_FOR_WORKER_MS = 2000;

export class ProvenanceService {
  /**
   * Jobs whose record is being made (→ definition facts key). Finishing a job allocates no more
   * than this entry: waiting is rare, so promises are made only for waiters.
   */
  private readonly pending = new Map<string, string>();
  /** Of those, the ones made after the fact (a request for a job that had no record). */
  private readonly rebuilding = new Set<string>();
  private readonly waiters = new Map<string, Array<() => void>>();
  /** Per loaded definition object: a definition loaded again (changed) gets its facts again. */
  private readonly defs = new WeakMap<JobDefinition, { key: string; facts: DefinitionFacts }>();
  private readonly factsByKey = new Map<string, DefinitionFacts>();
  private readonly host: string;
  private recorder: ProvenanceRecorder | undefined;
  private scanDone: Promise<{ rebuilt: number; removed: number }> = Promise.resolve({ rebuilt: 0, removed: 0 });

  constructor(
    private readonly jobs: JobService,
    readonly db: ProvenanceDb,
    private readonly opts: ProvenanceOptions,
  ) {
    this.host = opts.host ?? hostname();
    for (const d of jobs.definitions.values()) {
      if (d.results.some((r) => r.name === PROVENANCE_RESULT)) throw new Error(`${d.file}: results: the name '${PROVENANCE_RESULT}' is reserved for the job's provenance`);
      this.facts(d);
    }
    if (!jobs.db.db.memory && !opts.inProcess) this.startWorker(jobs.db.db.name);
  }

  private get server(): JobRecord["server"] {
    return { version: this.opts.version, host: this.host, executor: this.opts.executor };
  }

  private startWorker(dbFile: string): void {
    let scanned!: (r: { rebuilt: number; removed: number }) => void;
    this.scanDone = new Promise((resolve) => (scanned = resolve));
    try {
      this.recorder = new ProvenanceRecorder({ dbFile, workDir: this.jobs.jobDir(""), server: this.server }, (key) => this.factsByKey.get(key)!, {
        stored: (jobs, failed) => this.stored(jobs, failed),
        scanned: (rebuilt, removed) => scanned({ rebuilt, removed }),
        died: (e) => {
          scanned({ rebuilt: 0, removed: 0 });
          this.workerDied(e);
        },
      });
    } catch (e) {
      scanned({ rebuilt: 0, removed: 0 });
      this.opts.log?.("provenance: no worker thread; recording on the event loop", { err: (e as Error).message });
      return;
    }
    // Final jobs without a record (a crash between the final phase and the record, or older jobs).
    const byName: Record<string, string> = {};
    for (const d of this.jobs.definitions.values()) byName[d.name] = this.facts(d).key;
    this.recorder.scan(byName);
  }

  /**
   * Job service lister: every final job has a `provenance` entry among its results as served
   * (without a size: the document is made on request). It is not stored in the job's row, which
   * every finish writes and every later read parses.
   */
  listResult = (job: Job): ResultRef | undefined => (job.ended !== null && FINAL_PHASES.includes(job.phase) && this.jobs.definitions.has(job.definition) ? PROVENANCE_ENTRY : undefined);

  /**
   * Job service hook: the job reaches a final phase (its row is stored right after). The final row
   * goes to the worker with the job: reading it back there cost the worker a third of its time
   * (its page cache is cold after every write of the event loop).
   */
  onFinal = (job: Job, final: { phase: Phase; started: number | null; ended: number; error: string | null }, results: ResultRef[]): void => {
    // Never ran: nothing to queue, no message, no transaction (its record is made when asked for).
    if (recordedOnRequest(final.started, job.execRef, results, job.params)) return;
    const def = this.jobs.definitions.get(job.definition);
    if (!def) return;
    try {
      const row: Job = { ...job, phase: final.phase, started: final.started, ended: final.ended, error: final.error, results };
      this.queue(job.id, this.facts(def).key, false, row);
    } catch (e) {
      // Provenance must never keep a job from finishing.
      this.opts.log?.("provenance: could not queue the job", { jobId: job.id, err: (e as Error).message });
    }
  };

  /**
   * To the worker (or this thread without one), once the job's final row is stored: with its row
   * from the hook (batched), else at once (a request waits; the worker reads the row).
   */
  private queue(id: string, defKey: string, rebuilt: boolean, row?: Job): void {
    this.pending.set(id, defKey);
    if (rebuilt) this.rebuilding.add(id);
    if (!this.recorder?.alive) setImmediate(() => void this.recordHere(id));
    else if (!row) this.recorder.request(id, defKey, rebuilt);
    else this.recorder.submit(row, defKey);
  }

  /** Resolves once the job's record is stored, or could not be made. */
  private whenDone(id: string): Promise<void> {
    if (!this.pending.has(id)) return Promise.resolve();
    return new Promise((resolve) => {
      const w = this.waiters.get(id);
      if (w) w.push(resolve);
      else this.waiters.set(id, [resolve]);
    });
  }

  /** The worker stored these jobs' records (or could not make them: logged; a request rebuilds). */
  private stored(jobs: string[], failed: FailedRecord[]): void {
    for (const id of jobs) this.done(id);
    for (const f of failed) {
      this.opts.log?.("provenance: could not record the job", { jobId: f.jobId, err: f.err });
      this.done(f.jobId);
    }
  }

  private done(id: string): void {
    this.pending.delete(id);
    this.rebuilding.delete(id);
    const w = this.waiters.get(id);
    if (!w) return;
    this.waiters.delete(id);
    for (const resolve of w) resolve();
  }

  private workerDied(e: Error): void {
    this.opts.log?.("provenance: the worker thread stopped; recording on the event loop", { err: e.message });
    this.recorder = undefined;
    for (const id of [...this.pending.keys()]) void this.recordHere(id);
  }

  /** The event-loop way: capture, hash on streams, store. */
  private async recordHere(id: string): Promise<void> {
    const defKey = this.pending.get(id);
    if (!defKey) return;
    const rebuilt = this.rebuilding.has(id);
    try {
      const job = this.jobs.db.get(id);
      if (!job) throw new Error("the job is gone");
      const ctx = { workDir: this.jobs.jobDir(id), jobDir: (x: string) => this.jobs.jobDir(x), lookupJob: (x: string) => this.jobs.db.get(x), definition: this.factsByKey.get(defKey)!, server: this.server };
      const { record, tasks } = captureFinal(job, ctx, rebuilt);
      await hashAll(record, tasks);
      this.db.store([{ jobId: id, record: JSON.stringify(record), sources: sourceJobs(record), rebuilt }]);
    } catch (e) {
      this.opts.log?.("provenance: could not record the job", { jobId: id, err: (e as Error).message });
    } finally {
      this.done(id);
    }
  }

  private facts(def: JobDefinition): { key: string; facts: DefinitionFacts } {
    let f = this.defs.get(def);
    if (!f) {
      f = { key: `${def.name}#${this.factsByKey.size + 1}`, facts: definitionFacts(def, parseYaml) };
      this.defs.set(def, f);
      this.factsByKey.set(f.key, f.facts);
    }
    return f;
  }

  /** PROV-JSON text of a record, as served. */
  json(record: JobRecord): string {
    return this.document(record).toJsonText();
  }

  document(record: JobRecord): ProvDoc {
    return jobDocument(record, this.opts.base());
  }

  /**
   * The record of a final job: stored, being made (waits), or made now — for a job that never ran
   * (made when first asked for), or one that has none (older than provenance, or a crash before it
   * was stored: noted as made after the fact).
   */
  async record(job: Job): Promise<JobRecord | undefined> {
    if (!FINAL_PHASES.includes(job.phase)) return undefined;
    if (this.pending.has(job.id)) await this.made(job.id);
    let stored = this.db.get(job.id);
    if (!stored) {
      const def = this.jobs.definitions.get(job.definition);
      if (!def || job.ended === null) return undefined;
      this.queue(job.id, this.facts(def).key, !recordedOnRequest(job.started, job.execRef, job.results, job.params));
      await this.made(job.id);
      stored = this.db.get(job.id);
    }
    return stored ? (JSON.parse(stored) as JobRecord) : undefined;
  }

  /** Waits for a queued record: from the worker, or made here if the worker has not come to it. */
  private async made(id: string): Promise<void> {
    // Still in the recorder's batch, perhaps: the batch goes now rather than when its time comes.
    this.recorder?.send();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.whenDone(id), new Promise((r) => (timer = setTimeout(r, WAIT_FOR_WORKER_MS)))]);
    clearTimeout(timer);
    // The CPUs are busy and the worker yields to everything else: made here, as it would have been.
    if (this.pending.has(id)) await this.recordHere(id);
  }

  /** Waits until every record queued so far is stored (ProvSAP walks stored links; tests). */
  async settle(): Promise<void> {
    this.recorder?.send();
    await Promise.all([...this.pending.keys()].map((id) => this.whenDone(id)));
  }

  /** The start-up scan's end: records it rebuilt, records of deleted jobs it removed. */
  scanned(): Promise<{ rebuilt: number; removed: number }> {
    return this.scanDone;
  }

  /** Removes the records of deleted jobs now (the worker does it every few minutes); how many. */
  async gc(): Promise<number> {
    if (this.recorder?.alive) return this.recorder.gc();
    await this.settle();
    return this.db.gc();
  }

  /** Shutdown: every queued record is stored, then the worker stops. */
  async close(): Promise<void> {
    await this.settle();
    await this.recorder?.close();
    this.recorder = undefined;
    this.db.close();
  }
}
