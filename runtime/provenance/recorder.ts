// The main thread's side of the provenance worker (worker.ts). Capturing a finished job (stat
// calls, the step log), hashing its files, serializing and storing the record cost more than
// finishing the job itself on the event loop; the worker thread does all of it (in its own
// database file, so the job database keeps a single writer) and answers, per batch, which jobs'
// records are stored.
//
// The worker is its own module: runtime/provenance/worker.ts from source (loaded through tsx, a
// dev dependency, only when this file itself runs as TypeScript), provenance-worker.mjs next to
// the bundled server in dist/runtime (runtime/build/bundle.mjs emits it).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Job } from "../store/jobs-db.js";
import type { DefinitionFacts, JobRecord } from "./record.js";

export interface FailedRecord {
  jobId: string;
  err: string;
}

export interface WorkerConfig {
  /** The job database (provenance.sqlite goes beside it). */
  dbFile: string;
  /** Work dirs are {workDir}/{job id}. */
  workDir: string;
  server: JobRecord["server"];
}

export type ToWorker =
  | { type: "defs"; defs: Array<{ key: string; facts: DefinitionFacts }> }
  /**
   * Jobs to record, with their definition facts' keys and, from the job service's final-phase
   * hook, their final rows (else the worker reads them). `rebuilt`: made after the fact (noted;
   * stored only if the job still has no record).
   */
  | { type: "jobs"; ids: string[]; defKeys: string[]; rows?: Job[]; rebuilt: boolean }
  /** Rebuild the records of final jobs that have none (by definition name → defKey). */
  | { type: "scan"; byName: Record<string, string> }
  /** Store what is queued, then remove the records of deleted jobs. */
  | { type: "gc" }
  /** Tests: block the thread (as one busy for seconds would be) until flag[0] is set. */
  | { type: "pause"; flag: Int32Array }
  | { type: "close" };

export type FromWorker =
  /** Jobs sent in "jobs" messages whose records are now stored, or could not be made. */
  | { type: "stored"; jobs: string[]; failed: FailedRecord[] }
  | { type: "scanned"; rebuilt: number; removed: number }
  | { type: "gc"; removed: number }
  | { type: "closed" };

/**
 * Each batch costs the worker a wake-up, a read transaction on the job database (whose page cache
 * the event loop's writes have made cold), a write transaction and a reply, whatever its size: at
 * a thousand jobs a second, 25 ms batches spent about as much on that as on the records. A request
 * for a record still queued here sends at once (ProvenanceService.record), so nobody waits this long.
 */
const SEND_EVERY_MS = 100;

/** The worker's entry point and how to start it, from TypeScript source or from the bundle. */
function workerEntry(here = import.meta.url): { code: string | URL; eval: boolean } {
  if (here.endsWith(".ts")) {
    // tsx's ESM API registers its TypeScript loader in the calling thread (its CommonJS build
    // resolves its own files wrongly from eval'd code, hence the ESM file from its export map).
    const req = createRequire(here);
    const pkgFile = req.resolve("tsx/package.json");
    const api = JSON.parse(readFileSync(pkgFile, "utf8")).exports["./esm/api"].import.default as string;
    const tsx = pathToFileURL(join(dirname(pkgFile), api)).href;
    const entry = new URL("./worker.ts", here).href;
    return { code: `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); });`, eval: true };
  }
  return { code: new URL("./provenance-worker.mjs", here), eval: false };
}

export interface RecorderEvents {
  stored: (jobs: string[], failed: FailedRecord[]) => void;
  scanned: (rebuilt: number, removed: number) => void;
  /** The worker stopped without being asked to (items sent to it may be lost). */
  died: (err: Error) => void;
}

export class ProvenanceRecorder {
  private readonly worker: Worker;
  private outIds: string[] = [];
  private outKeys: string[] = [];
  private outRows: Job[] = [];
  private sendTimer: NodeJS.Timeout | undefined;
  /** Records asked for in this turn of the event loop ([ids, defKeys], without and with the note). */
  private asked: Array<[string[], string[]]> = [
    [[], []],
    [[], []],
  ];
  private askedQueued = false;
  private readonly sentDefs = new Set<string>();
  private closing: Promise<void> | undefined;
  private dead = false;
  /** Jobs sent and not answered (and a scan running): while there are some, the worker keeps the process alive. */
  private outstanding = 0;
  private gcWaiters: Array<(removed: number) => void> = [];

  constructor(
    config: WorkerConfig,
    private readonly defs: (key: string) => DefinitionFacts,
    private readonly on: RecorderEvents,
  ) {
    const { code, eval: isEval } = workerEntry();
    this.worker = new Worker(typeof code === "string" ? code : fileURLToPath(code), { eval: isEval, workerData: config });
    this.worker.on("message", (m: FromWorker) => {
      if (m.type === "stored") {
        this.outstanding -= m.jobs.length + m.failed.length;
        if (this.outstanding === 0) this.worker.unref();
        this.on.stored(m.jobs, m.failed);
      } else if (m.type === "scanned") {
        if (--this.outstanding === 0) this.worker.unref();
        this.on.scanned(m.rebuilt, m.removed);
      }
      else if (m.type === "gc") this.gcWaiters.splice(0).forEach((w) => w(m.removed));
    });
    this.worker.on("error", (e) => this.die(e));
    this.worker.on("exit", (code) => this.die(new Error(`provenance worker exited (code ${code})`)));
    // Idle (or only scanning), it must not keep the process alive.
    this.worker.unref();
  }

  get alive(): boolean {
    return !this.dead && !this.closing;
  }

  private die(e: Error): void {
    if (this.dead) return;
    this.dead = true;
    this.gcWaiters.splice(0).forEach((w) => w(0));
    if (!this.closing) this.on.died(e);
  }

  /**
   * Queues a finished job. Jobs go to the worker at most every SEND_EVERY_MS, as one message: each
   * message wakes the worker, which on a busy machine takes the CPU from the event loop; and the
   * worker stores a message's records in one transaction.
   */
  submit(row: Job, defKey: string): void {
    this.outIds.push(row.id);
    this.outKeys.push(defKey);
    this.outRows.push(row);
    if (this.outIds.length === 1) this.sendTimer = setTimeout(() => this.send(), SEND_EVERY_MS);
  }

  /** Sends what is queued now (a request waiting, settle, shutdown). */
  send(): void {
    clearTimeout(this.sendTimer);
    const ids = this.outIds;
    const defKeys = this.outKeys;
    const rows = this.outRows;
    if (!ids.length || this.dead) return;
    this.outIds = [];
    this.outKeys = [];
    this.outRows = [];
    this.post(ids, defKeys, false, rows);
  }

  /**
   * A record to make now, the worker reading the job's row: a job that never ran, asked for the
   * first time, or one that has none (`rebuilt`: noted as made after the fact).
   */
  request(id: string, defKey: string, rebuilt: boolean): void {
    const [ids, keys] = this.asked[rebuilt ? 1 : 0]!;
    ids.push(id);
    keys.push(defKey);
    if (this.askedQueued) return;
    this.askedQueued = true;
    // Requests arriving together (a page listing jobs, ProvSAP, clients at once) share a message
    // and the worker's transactions; a request waits at most this turn.
    setImmediate(() => {
      this.askedQueued = false;
      const batches = this.asked;
      this.asked = [
        [[], []],
        [[], []],
      ];
      if (this.dead) return;
      batches.forEach(([i, k], rebuiltBatch) => i.length && this.post(i, k, rebuiltBatch === 1));
    });
  }

  private post(ids: string[], defKeys: string[], rebuilt: boolean, rows?: Job[]): void {
    this.sendDefs(defKeys);
    if (this.outstanding === 0) this.worker.ref();
    this.outstanding += ids.length;
    this.worker.postMessage({ type: "jobs", ids, defKeys, rows, rebuilt } satisfies ToWorker);
  }

  scan(byName: Record<string, string>): void {
    this.sendDefs(Object.values(byName));
    if (this.outstanding++ === 0) this.worker.ref();
    this.worker.postMessage({ type: "scan", byName } satisfies ToWorker);
  }

  /** Stores what is queued, then removes the records of deleted jobs (how many). */
  gc(): Promise<number> {
    if (this.dead) return Promise.resolve(0);
    this.send();
    return new Promise((resolve) => {
      this.gcWaiters.push(resolve);
      this.worker.postMessage({ type: "gc" } satisfies ToWorker);
    });
  }

  /**
   * Tests: holds the worker thread, as if it were busy for that long (its messages wait), until the
   * returned function is called; requests then fall back to the event loop after their wait.
   */
  pause(): () => void {
    const flag = new Int32Array(new SharedArrayBuffer(4));
    this.worker.postMessage({ type: "pause", flag } satisfies ToWorker);
    return () => {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    };
  }

  private sendDefs(keys: string[]): void {
    const defs: Array<{ key: string; facts: DefinitionFacts }> = [];
    for (const key of new Set(keys))
      if (!this.sentDefs.has(key)) {
        this.sentDefs.add(key);
        defs.push({ key, facts: this.defs(key) });
      }
    if (defs.length) this.worker.postMessage({ type: "defs", defs } satisfies ToWorker);
  }

  /** Sends what is queued, lets the worker finish it (its records arrive first), then stops it. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.dead) return;
      this.send();
      this.worker.ref();
      await new Promise<void>((resolve) => {
        const done = () => resolve();
        this.worker.on("message", (m: FromWorker) => m.type === "closed" && done());
        this.worker.once("exit", done);
        this.worker.postMessage({ type: "close" } satisfies ToWorker);
      });
      await this.worker.terminate();
    })();
    return this.closing;
  }
}
