// The provenance worker thread (started by recorder.ts): for each job that reached a final phase
// (its final row comes with it) it takes the record (stat calls, the step log), hashes the files with blocking reads (this thread
// has nothing else to do), serializes it and stores it in provenance.sqlite (store/provenance-db.ts),
// one transaction per batch; the main thread gets back only which jobs are done. It also runs the
// start-up scan, which rebuilds the record of every final job that has none (the server stopped
// between a job's final phase and its record: a crash; or a job older than provenance) — so a
// crash loses no record, only the time its hashes were taken, which the record notes — except a
// job that never ran, whose record is made when first asked for (record.ts recordedOnRequest); and
// the periodic removal of records whose job is gone.
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { join } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import { JobsDb, type Job } from "../store/jobs-db.js";
import { ProvenanceDb, type StoredRecord } from "../store/provenance-db.js";
import { captureFinal, hashAllSync, sourceJobs, type DefinitionFacts } from "./record.js";
import type { FailedRecord, FromWorker, ToWorker, WorkerConfig } from "./recorder.js";

const SCAN_CHUNK = 100;
/**
 * The main thread sends jobs in batches (recorder.ts); each batch, or FLUSH_AT records of a larger
 * one, is stored in one transaction (one per record would cost several times as much).
 */
const FLUSH_AT = 500;
const GC_EVERY_MS = 10 * 60_000;

/**
 * This thread's nice value. Provenance is bookkeeping: when the CPUs are busy, the event loop and
 * the jobs go first and records follow when there is time (a request waiting for one is served
 * from the event loop after a while: service.ts). Linux keeps a nice value per thread.
 */
const NICE = 19;
try {
  setPriority(Number(readlinkSync("/proc/thread-self").split("/").pop()), NICE);
} catch {
  /* not Linux: the same priority as the event loop */
}

const config = workerData as WorkerConfig;
const port = parentPort!;
const db = new ProvenanceDb(config.dbFile);
// Jobs are read through the job database's own code (this connection only reads).
const jobsDb = new JobsDb(config.dbFile);
const defs = new Map<string, DefinitionFacts>();
const jobDir = (id: string) => join(config.workDir, id);
const lookupJob = (id: string): Job | undefined => jobsDb.get(id);
/**
 * Rows of jobs sent without them (records rebuilt on request), a batch in one read transaction:
 * the event loop writes the job database all the time, and each read transaction after a write
 * starts with a cold page cache. Jobs finishing live come with their final rows.
 */
const readJobs = jobsDb.db.transaction((ids: string[]) => ids.map(lookupJob));

/** Made and not stored yet; `asked`: sent by the main thread (it waits), else found by the scan. */
let made: Array<StoredRecord & { asked: boolean }> = [];
let failed: FailedRecord[] = [];
let scanRebuilt = 0;
let flushQueued = false;
/** Jobs sent live while a scan runs: the scan leaves them alone (their live record is on its way). */
let live: Set<string> | undefined;
let scanning = false;
let closed = false;

/** Makes a final job's record from its row (`asked`: by the main thread, which waits for it). */
function make(job: Job | undefined, id: string, defKey: string, rebuilt: boolean, asked: boolean): void {
  try {
    if (!job) throw new Error("the job is gone");
    const definition = defs.get(defKey);
    if (!definition) throw new Error(`no definition facts for ${defKey}`);
    const { record, tasks } = captureFinal(job, { workDir: jobDir(id), jobDir, lookupJob, definition, server: config.server }, rebuilt);
    hashAllSync(record, tasks);
    made.push({ jobId: id, record: JSON.stringify(record), sources: sourceJobs(record), rebuilt, asked, justRead: asked && !rebuilt });
  } catch (e) {
    if (asked) failed.push({ jobId: id, err: (e as Error).message });
  }
  if (made.length + failed.length >= FLUSH_AT) flush();
  else if (!flushQueued) {
    flushQueued = true;
    setImmediate(flush);
  }
}

function flush(): void {
  flushQueued = false;
  if (!made.length && !failed.length) return;
  const items = made;
  made = [];
  const jobs: string[] = [];
  try {
    db.store(items);
    for (const i of items) if (i.asked) jobs.push(i.jobId);
    else scanRebuilt++;
  } catch (e) {
    for (const i of items) if (i.asked) failed.push({ jobId: i.jobId, err: `not stored: ${(e as Error).message}` });
  }
  if (jobs.length || failed.length) port.postMessage({ type: "stored", jobs, failed } satisfies FromWorker);
  failed = [];
}

function scanFrom(after: string, byName: Record<string, string>): void {
  if (closed) return;
  const rows = db.missing(after, SCAN_CHUNK);
  for (const r of rows) {
    const defKey = byName[r.definition];
    if (!defKey || live!.has(r.id)) continue;
    make(lookupJob(r.id), r.id, defKey, true, false);
  }
  // A turn between chunks: jobs finishing meanwhile are not held up by the scan.
  if (rows.length === SCAN_CHUNK) setImmediate(() => scanFrom(rows[rows.length - 1]!.id, byName));
  else {
    scanning = false;
    live = undefined;
    flush();
    port.postMessage({ type: "scanned", rebuilt: scanRebuilt, removed: db.gc() } satisfies FromWorker);
  }
}

const gcTimer = setInterval(() => {
  if (!scanning) db.gc();
}, GC_EVERY_MS);
gcTimer.unref();

port.on("message", (m: ToWorker) => {
  if (closed) return;
  switch (m.type) {
    case "defs":
      for (const d of m.defs) defs.set(d.key, d.facts);
      break;
    case "jobs":
      (m.rows ?? readJobs(m.ids)).forEach((job, i) => {
        const id = m.ids[i]!;
        if (!m.rebuilt) live?.add(id);
        make(job, id, m.defKeys[i]!, m.rebuilt, true);
      });
      break;
    case "scan":
      if (scanning) break;
      scanning = true;
      live = new Set();
      setImmediate(() => scanFrom("", m.byName));
      break;
    case "gc":
      flush();
      port.postMessage({ type: "gc", removed: db.gc() } satisfies FromWorker);
      break;
    case "pause":
      Atomics.wait(m.flag, 0, 0);
      break;
    case "close":
      closed = true;
      clearInterval(gcTimer);
      flush();
      db.close();
      void jobsDb.close();
      port.postMessage({ type: "closed" } satisfies FromWorker);
      port.close();
      break;
  }
});
