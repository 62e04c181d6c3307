// Provenance records (runtime/provenance/) in the job database: one row per job that reached a
// final phase (the record as JSON, hashes taken at completion), and the cross-job links (job B used
// a result of job A) that DIRECTION=FORTH queries walk. Rows go with their job: a trigger deletes
// them when the job row is deleted (DELETE, destruction time). Same style as jobs-db.ts: the schema
// is idempotent and runs at every start.
import type Database from "better-sqlite3";

const SCHEMA = `
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
CREATE TRIGGER IF NOT EXISTS provenance_gc AFTER DELETE ON jobs BEGIN
  DELETE FROM provenance WHERE job_id = OLD.id;
  DELETE FROM provenance_links WHERE job_id = OLD.id;
END;
`;

export class ProvenanceDb {
  private readonly st: Record<string, Database.Statement>;
  private pending: Array<{ jobId: string; record: string; sources: string[] }> = [];

  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
    this.st = {
      // Only for a job that still exists (it may be deleted while its files were being hashed).
      put: db.prepare(`INSERT OR REPLACE INTO provenance (job_id, record) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?)`),
      link: db.prepare(`INSERT OR IGNORE INTO provenance_links (source_job, job_id) SELECT ?, ? WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?)`),
      get: db.prepare(`SELECT record FROM provenance WHERE job_id = ?`),
      sources: db.prepare(`SELECT source_job AS id FROM provenance_links WHERE job_id = ?`),
      consumers: db.prepare(`SELECT job_id AS id FROM provenance_links WHERE source_job = ?`),
    };
  }

  /** Queues a record; records queued in the same event-loop turn share one transaction. */
  put(jobId: string, record: string, sources: string[]): void {
    this.pending.push({ jobId, record, sources });
    if (this.pending.length === 1) setImmediate(() => this.flush());
  }

  flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (!batch.length || !this.db.open) return;
    this.db.transaction(() => {
      for (const b of batch) {
        this.st.put!.run(b.jobId, b.record, b.jobId);
        for (const s of b.sources) this.st.link!.run(s, b.jobId, b.jobId);
      }
    })();
  }

  get(jobId: string): string | undefined {
    const queued = this.pending.find((p) => p.jobId === jobId);
    if (queued) return queued.record;
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
}
