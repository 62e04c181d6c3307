// Provenance records (runtime/provenance/): one row per job that reached a final phase (the record
// as JSON, hashes taken at completion), and the cross-job links (job B used a result of job A) that
// DIRECTION=FORTH queries walk.
//
// They live in their own SQLite file next to the job database (provenance.sqlite, WAL), written
// only by the provenance worker thread: a second writer on the job database would make the event
// loop wait on its lock whenever the two write at once. The job database is attached read-only
// (schema `jobs_db`) for the checks that need it: a record is stored only for a job that still
// exists (or, from the worker, whose row it had a moment ago), and `gc` drops the rows of deleted
// jobs (the worker runs it at start and every few minutes; the request path never serves a
// deleted job, so a row that outlives its job for a while is invisible). With a job database in memory (no file to share), the tables live in it and a
// trigger deletes rows with their job. Same style as jobs-db.ts: the schema is idempotent.
import Database from "better-sqlite3";
import { dirname, join } from "node:path";
import { FINAL_PHASES } from "./jobs-db.js";

const TABLES = `
CREATE TABLE IF NOT EXISTS provenance (
  job_id TEXT PRIMARY KEY,
  record TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS provenance_links (
  source_job TEXT NOT NULL,
  job_id TEXT NOT NULL,
  PRIMARY KEY (source_job, job_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS provenance_links_job ON provenance_links(job_id);
`;
const SAME_FILE_GC = `
CREATE TRIGGER IF NOT EXISTS provenance_gc AFTER DELETE ON jobs BEGIN
  DELETE FROM provenance WHERE job_id = OLD.id;
  DELETE FROM provenance_links WHERE job_id = OLD.id;
END;
`;

export interface StoredRecord {
  jobId: string;
  /** The record as JSON. */
  record: string;
  /** Jobs whose results it used. */
  sources: string[];
  /** A record made after the fact: kept only if the job still has none (a live one wins). */
  rebuilt?: boolean;
  /**
   * Its job's final row was read in the same batch or sent by the event loop, a moment ago: stored
   * without checking that the job still exists, which would read the job database, its page cache
   * made cold by the event loop's writes (a job deleted in that moment leaves a row that `gc`
   * removes; a deleted job is never served).
   */
  justRead?: boolean;
}

/** provenance.sqlite beside the job database file. */
export function provenanceFile(jobsFile: string): string {
  return join(dirname(jobsFile), "provenance.sqlite");
}

export class ProvenanceDb {
  private readonly st: Record<string, Database.Statement>;
  private readonly storeBatch: (items: StoredRecord[]) => void;
  /** The schema holding the jobs table, as SQL ("main" or the attached job database). */
  private readonly jobs: string;

  /**
   * `jobsFile`: the job database's file (attached; the records go to provenance.sqlite beside it),
   * or a connection to an in-memory job database that holds the tables itself.
   */
  constructor(jobsFile: string | Database.Database) {
    if (typeof jobsFile === "string") {
      this.db = new Database(provenanceFile(jobsFile));
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = NORMAL");
      this.db.pragma("busy_timeout = 5000");
      this.db.exec(TABLES);
      this.db.prepare("ATTACH DATABASE ? AS jobs_db").run(jobsFile);
      this.jobs = "jobs_db";
    } else {
      this.db = jobsFile;
      this.db.exec(TABLES + SAME_FILE_GC);
      this.jobs = "main";
    }
    const db = this.db;
    // Only for a job that still exists (it may be deleted while its files were being hashed).
    const exists = `WHERE EXISTS (SELECT 1 FROM ${this.jobs}.jobs WHERE id = ?)`;
    this.st = {
      put: db.prepare(`INSERT OR REPLACE INTO provenance (job_id, record) SELECT ?, ? ${exists}`),
      putRead: db.prepare(`INSERT OR REPLACE INTO provenance (job_id, record) VALUES (?, ?)`),
      linkRead: db.prepare(`INSERT OR IGNORE INTO provenance_links (source_job, job_id) VALUES (?, ?)`),
      putMissing: db.prepare(`INSERT OR IGNORE INTO provenance (job_id, record) SELECT ?, ? ${exists}`),
      link: db.prepare(`INSERT OR IGNORE INTO provenance_links (source_job, job_id) SELECT ?, ? ${exists}`),
      get: db.prepare(`SELECT record FROM provenance WHERE job_id = ?`),
      sources: db.prepare(`SELECT source_job AS id FROM provenance_links WHERE job_id = ?`),
      consumers: db.prepare(`SELECT job_id AS id FROM provenance_links WHERE source_job = ?`),
      missing: db.prepare(
        `SELECT j.id, j.definition FROM ${this.jobs}.jobs j WHERE j.id > ? AND j.phase IN (${FINAL_PHASES.map((p) => `'${p}'`).join(",")}) AND j.ended IS NOT NULL
         AND NOT (j.started IS NULL AND j.exec_ref IS NULL AND j.results = '[]' AND instr(j.params, 'results') = 0)
         AND NOT EXISTS (SELECT 1 FROM provenance p WHERE p.job_id = j.id) ORDER BY j.id LIMIT ?`,
      ),
      gcRecords: db.prepare(`DELETE FROM provenance WHERE NOT EXISTS (SELECT 1 FROM ${this.jobs}.jobs j WHERE j.id = provenance.job_id)`),
      gcLinks: db.prepare(`DELETE FROM provenance_links WHERE NOT EXISTS (SELECT 1 FROM ${this.jobs}.jobs j WHERE j.id = provenance_links.job_id)`),
    };
    this.storeBatch = db.transaction((items: StoredRecord[]) => {
      for (const b of items) {
        if (b.justRead && !b.rebuilt) {
          this.st.putRead!.run(b.jobId, b.record);
          for (const s of b.sources) this.st.linkRead!.run(s, b.jobId);
          continue;
        }
        (b.rebuilt ? this.st.putMissing! : this.st.put!).run(b.jobId, b.record, b.jobId);
        for (const s of b.sources) this.st.link!.run(s, b.jobId, b.jobId);
      }
    });
  }

  readonly db: Database.Database;

  /** Stores records in one transaction (a no-op once the database is closed: shutdown). */
  store(items: StoredRecord[]): void {
    if (items.length && this.db.open) this.storeBatch(items);
  }

  get(jobId: string): string | undefined {
    return (this.st.get!.get(jobId) as { record: string } | undefined)?.record;
  }

  /** Jobs whose results this job used. */
  sources(jobId: string): string[] {
    return (this.st.sources!.all(jobId) as Array<{ id: string }>).map((r) => r.id);
  }

  /** Jobs that used a result of this job. */
  consumers(jobId: string): string[] {
    return (this.st.consumers!.all(jobId) as Array<{ id: string }>).map((r) => r.id);
  }

  /**
   * Final jobs without a record, in id order after `after`; not those whose record is made only when
   * asked for (never ran: provenance/record.ts recordedOnRequest, the same rule).
   */
  missing(after: string, limit: number): Array<{ id: string; definition: string }> {
    return this.st.missing!.all(after, limit) as Array<{ id: string; definition: string }>;
  }

  /** Drops the rows of jobs that no longer exist; returns how many records went. */
  gc(): number {
    const n = this.st.gcRecords!.run().changes;
    this.st.gcLinks!.run();
    return n;
  }

  /**
   * Records kept in the job database itself by earlier versions move here (once; safe to repeat
   * if interrupted: copied rows are ignored, the old tables dropped last).
   */
  migrate(): number {
    if (this.jobs === "main") return 0;
    const old = this.db.prepare(`SELECT 1 FROM jobs_db.sqlite_master WHERE type = 'table' AND name = 'provenance'`).get();
    if (!old) return 0;
    const n = this.db.prepare(`INSERT OR IGNORE INTO provenance SELECT job_id, record FROM jobs_db.provenance`).run().changes;
    this.db.exec(`INSERT OR IGNORE INTO provenance_links SELECT source_job, job_id FROM jobs_db.provenance_links`);
    this.db.exec(`DROP TRIGGER IF EXISTS jobs_db.provenance_gc; DROP TABLE IF EXISTS jobs_db.provenance_links; DROP TABLE jobs_db.provenance`);
    return n;
  }

  /** Closes a connection this object opened (not a shared in-memory job database). */
  close(): void {
    if (this.jobs !== "main" && this.db.open) this.db.close();
  }
}
