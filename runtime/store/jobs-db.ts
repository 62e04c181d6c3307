// The job table in SQLite (WAL). Statements are prepared once; list queries are prepared once per
// filter shape and cached. Times are epoch milliseconds.
import Database from "better-sqlite3";
import { Checkpointer } from "./checkpointer.js";
import type { ParamValue } from "../jobdefs/params.js";

export type Phase = "PENDING" | "QUEUED" | "EXECUTING" | "COMPLETED" | "ERROR" | "ABORTED" | "UNKNOWN" | "HELD" | "SUSPENDED" | "ARCHIVED";
export const PHASES: Phase[] = ["PENDING", "QUEUED", "EXECUTING", "COMPLETED", "ERROR", "ABORTED", "UNKNOWN", "HELD", "SUSPENDED", "ARCHIVED"];
/** Phases in which an executor holds the job. */
export const ACTIVE_PHASES: Phase[] = ["QUEUED", "EXECUTING", "HELD", "SUSPENDED"];
export const FINAL_PHASES: Phase[] = ["COMPLETED", "ERROR", "ABORTED", "ARCHIVED"];

export interface ResultRef {
  id: string;
  /** Path relative to the job's work dir. */
  file: string;
  mimeType: string;
  /** Bytes; null when not known when the job ended (its provenance, made just after). */
  size: number | null;
}

export interface Job {
  id: string;
  definition: string;
  owner: string | null;
  runId: string | null;
  phase: Phase;
  created: number;
  started: number | null;
  ended: number | null;
  /** Seconds, 0 = unlimited. */
  duration: number;
  destruction: number | null;
  quote: number | null;
  params: ParamValue[];
  results: ResultRef[];
  error: string | null;
  errorType: "transient" | "fatal" | null;
  /** Executor handle (Slurm job id, local pid record). */
  execRef: string | null;
}

export interface ListFilter {
  definition: string;
  /** undefined = every owner (admin). */
  owner?: string | null;
  phases?: Phase[];
  after?: number;
  last?: number;
}

export interface JobRefRow {
  id: string;
  phase: Phase;
  runId: string | null;
  owner: string | null;
  created: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  definition TEXT NOT NULL,
  owner TEXT,
  run_id TEXT,
  phase TEXT NOT NULL,
  created INTEGER NOT NULL,
  started INTEGER,
  ended INTEGER,
  duration INTEGER NOT NULL,
  destruction INTEGER,
  quote INTEGER,
  params TEXT NOT NULL,
  results TEXT NOT NULL DEFAULT '[]',
  error TEXT,
  error_type TEXT,
  exec_ref TEXT
);
CREATE INDEX IF NOT EXISTS jobs_d_o_p_c ON jobs(definition, owner, phase, created);
CREATE INDEX IF NOT EXISTS jobs_d_p_c ON jobs(definition, phase, created);
-- Every index costs a WAL frame per creation; lists without a PHASE filter are merged from the
-- per-phase ranges above (see list()), so these two are no longer needed.
DROP INDEX IF EXISTS jobs_d_o_c;
DROP INDEX IF EXISTS jobs_d_c;
CREATE INDEX IF NOT EXISTS jobs_destruction ON jobs(destruction) WHERE destruction IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_active ON jobs(phase) WHERE phase IN ('QUEUED','EXECUTING','HELD','SUSPENDED');
`;

function rowToJob(r: any): Job {
  return {
    id: r.id,
    definition: r.definition,
    owner: r.owner,
    runId: r.run_id,
    phase: r.phase,
    created: r.created,
    started: r.started,
    ended: r.ended,
    duration: r.duration,
    destruction: r.destruction,
    quote: r.quote,
    params: JSON.parse(r.params),
    results: JSON.parse(r.results),
    error: r.error,
    errorType: r.error_type,
    execRef: r.exec_ref,
  };
}

/** Every phase but ARCHIVED: what a job list shows without a PHASE filter. */
const LISTED_BY_DEFAULT: Phase[] = PHASES.filter((p) => p !== "ARCHIVED");

interface ListRow extends JobRefRow {
  seq: number;
}

/** Merges runs each sorted by (created, seq), ascending or descending, keeping at most `limit`. */
function mergeRuns(runs: ListRow[][], descending: boolean, limit?: number): ListRow[] {
  if (runs.length === 0) return [];
  if (runs.length === 1) return limit === undefined ? runs[0]! : runs[0]!.slice(0, limit);
  const before = (a: ListRow, b: ListRow) => {
    const c = a.created - b.created || a.seq - b.seq;
    return descending ? c > 0 : c < 0;
  };
  const out: ListRow[] = [];
  const pos = runs.map(() => 0);
  const max = limit ?? Infinity;
  while (out.length < max) {
    let best = -1;
    for (let i = 0; i < runs.length; i++) {
      const r = runs[i]![pos[i]!];
      if (r && (best < 0 || before(r, runs[best]![pos[best]!]!))) best = i;
    }
    if (best < 0) break;
    out.push(runs[best]![pos[best]!++]!);
  }
  return out;
}

export class JobsDb {
  readonly db: Database.Database;
  private readonly st: Record<string, Database.Statement>;
  private readonly listCache = new Map<string, Database.Statement>();

  private readonly checkpointer?: Checkpointer;

  /**
   * `backgroundCheckpoints` (the server): WAL checkpoints run on a worker thread; the inline
   * auto-checkpoint stays as a fallback at a higher threshold so the WAL stays bounded even if the
   * worker cannot keep up.
   */
  constructor(file: string, opts: { backgroundCheckpoints?: boolean; onCheckpointError?: (e: Error) => void; onBatchError?: (e: Error) => void } = {}) {
    this.onBatchError = opts.onBatchError ?? (() => {});
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    // NORMAL in WAL mode: a committed transaction survives a process crash (kill -9); only a power
    // loss can drop the last transactions.
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
    if (opts.backgroundCheckpoints) {
      this.db.pragma("wal_autocheckpoint = 10000");
      this.db.pragma("journal_size_limit = 67108864");
      this.checkpointer = new Checkpointer(file, opts.onCheckpointError ?? (() => {}));
    }
    this.st = {
      insert: this.db.prepare(
        `INSERT INTO jobs (id, definition, owner, run_id, phase, created, duration, destruction, params) VALUES (?,?,?,?,?,?,?,?,?)`,
      ),
      get: this.db.prepare(`SELECT * FROM jobs WHERE id = ?`),
      phase: this.db.prepare(`UPDATE jobs SET phase = ?, started = COALESCE(?, started), ended = COALESCE(?, ended) WHERE id = ?`),
      started: this.db.prepare(`UPDATE jobs SET phase = ?, started = ?, exec_ref = COALESCE(?, exec_ref) WHERE id = ?`),
      finish: this.db.prepare(`UPDATE jobs SET phase = ?, ended = ?, results = ?, error = ?, error_type = ? WHERE id = ?`),
      params: this.db.prepare(`UPDATE jobs SET params = ? WHERE id = ?`),
      duration: this.db.prepare(`UPDATE jobs SET duration = ? WHERE id = ?`),
      destruction: this.db.prepare(`UPDATE jobs SET destruction = ? WHERE id = ?`),
      execRef: this.db.prepare(`UPDATE jobs SET exec_ref = ? WHERE id = ?`),
      delete: this.db.prepare(`DELETE FROM jobs WHERE id = ?`),
      active: this.db.prepare(`SELECT * FROM jobs WHERE phase IN ('QUEUED','EXECUTING','HELD','SUSPENDED')`),
      expired: this.db.prepare(`SELECT id FROM jobs WHERE destruction IS NOT NULL AND destruction <= ? ORDER BY destruction LIMIT 200`),
      count: this.db.prepare(`SELECT COUNT(*) AS n FROM jobs`),
    };
  }

  // ---- executor updates: one transaction per event-loop turn ----------------------------------

  private readonly onBatchError: (e: Error) => void;
  /** A batch transaction is open (BEGIN issued, COMMIT scheduled). */
  private batchOpen = false;
  /** Inside inBatch(): writes join the open batch. */
  private batchDepth = 0;

  /**
   * Runs `fn`'s writes in the current event-loop turn's batch transaction, committed by
   * setImmediate: the phase changes and exec handles executors report (tens per turn when many
   * jobs start and end) share one commit and one WAL append instead of one each. They are written
   * for nobody's request: a crash in the sub-millisecond window loses at most the last turn's
   * updates, which the restart's reconciliation redoes (exit status file, Slurm accounting). Reads
   * on this connection see the batch at once. Every other write first commits the open batch and
   * then commits itself, so what a client is answered about is on disk when the answer is sent.
   */
  inBatch<T>(fn: () => T): T {
    // Called inside another transaction (none does today): its writes go with that one.
    if (!this.batchOpen && this.db.inTransaction) return fn();
    if (!this.batchOpen) {
      this.db.exec("BEGIN");
      this.batchOpen = true;
      setImmediate(this.commitBatch);
    }
    this.batchDepth++;
    try {
      return fn();
    } finally {
      this.batchDepth--;
    }
  }

  private readonly commitBatch = (): void => {
    if (!this.batchOpen) return;
    this.batchOpen = false;
    try {
      this.db.exec("COMMIT");
    } catch (e) {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      this.onBatchError(e as Error);
    }
  };

  /** Before a write outside inBatch(): the open batch commits first (and the write then alone). */
  private autocommit(): void {
    if (this.batchOpen && this.batchDepth === 0) this.commitBatch();
  }

  insert(j: Pick<Job, "id" | "definition" | "owner" | "runId" | "phase" | "created" | "duration" | "destruction" | "params">): void {
    this.autocommit();
    this.st.insert!.run(j.id, j.definition, j.owner, j.runId, j.phase, j.created, j.duration, j.destruction, JSON.stringify(j.params));
  }

  private pending: Array<{ row: Parameters<JobsDb["insert"]>[0]; done: (e?: Error) => void }> = [];

  /**
   * Group commit: creations arriving in the same event-loop turn share one transaction (one WAL
   * append instead of one per job). The promise resolves once the row is committed.
   */
  insertBatched(row: Parameters<JobsDb["insert"]>[0]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ row, done: (e) => (e ? reject(e) : resolve()) });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.autocommit();
    const batch = this.pending;
    this.pending = [];
    try {
      this.db.transaction(() => {
        for (const b of batch) this.insert(b.row);
      })();
      for (const b of batch) b.done();
    } catch {
      // One bad row must not fail the others: retry one by one.
      for (const b of batch) {
        try {
          this.insert(b.row);
          b.done();
        } catch (e) {
          b.done(e as Error);
        }
      }
    }
  }

  /** Inserts many rows in one transaction (bulk loads, benchmarks). */
  insertMany(rows: Array<Parameters<JobsDb["insert"]>[0]>): void {
    this.autocommit();
    this.db.transaction(() => {
      for (const r of rows) this.insert(r);
    })();
  }

  get(id: string): Job | undefined {
    const r = this.st.get!.get(id);
    return r ? rowToJob(r) : undefined;
  }

  setPhase(id: string, phase: Phase, started: number | null = null, ended: number | null = null): void {
    this.autocommit();
    this.st.phase!.run(phase, started, ended, id);
  }

  /** EXECUTING (or another phase) with its start time and, when given, a new executor handle. */
  setStarted(id: string, phase: Phase, started: number, execRef?: string): void {
    this.autocommit();
    this.st.started!.run(phase, started, execRef ?? null, id);
  }

  finish(id: string, phase: Phase, ended: number, results: ResultRef[], error: string | null, errorType: "transient" | "fatal" | null): void {
    this.autocommit();
    this.st.finish!.run(phase, ended, JSON.stringify(results), error, errorType, id);
  }

  setParams(id: string, params: ParamValue[]): void {
    this.autocommit();
    this.st.params!.run(JSON.stringify(params), id);
  }
  setDuration(id: string, seconds: number): void {
    this.autocommit();
    this.st.duration!.run(seconds, id);
  }
  setDestruction(id: string, at: number | null): void {
    this.autocommit();
    this.st.destruction!.run(at, id);
  }
  setExecRef(id: string, ref: string | null): void {
    this.autocommit();
    this.st.execRef!.run(ref, id);
  }
  delete(id: string): void {
    this.autocommit();
    this.st.delete!.run(id);
  }
  active(): Job[] {
    return this.st.active!.all().map(rowToJob);
  }
  expired(now: number): string[] {
    return this.st.expired!.all(now).map((r: any) => r.id);
  }
  count(): number {
    return (this.st.count!.get() as any).n;
  }

  /**
   * Job references for a list request; newest first when LAST is given, else oldest first.
   * One indexed range per phase (definition, [owner,] phase, created — the rowid `seq` ends every
   * index entry), merged here: a union of phases never needs a sort of every matching row, and
   * LAST=n reads at most n rows per phase.
   */
  list(f: ListFilter): JobRefRow[] {
    const phases = f.phases && f.phases.length ? [...new Set(f.phases)] : LISTED_BY_DEFAULT;
    const newest = f.last !== undefined;
    const st = this.listStatement(f.owner === undefined ? "any" : f.owner === null ? "null" : "owner", f.after !== undefined, newest);
    const runs: ListRow[][] = [];
    for (const phase of phases) {
      const args: unknown[] = [f.definition];
      if (f.owner !== undefined && f.owner !== null) args.push(f.owner);
      args.push(phase);
      if (f.after !== undefined) args.push(f.after);
      if (newest) args.push(f.last);
      const rows = st.all(...args) as ListRow[];
      if (rows.length) runs.push(rows);
    }
    return mergeRuns(runs, newest, f.last);
  }

  /** How many jobs list(f) would return without LAST: per-phase counts over the same indexes. */
  countList(f: Omit<ListFilter, "last">): number {
    const phases = f.phases && f.phases.length ? [...new Set(f.phases)] : LISTED_BY_DEFAULT;
    const where = ["definition = ?", f.owner === undefined ? "" : f.owner === null ? "owner IS NULL" : "owner = ?", "phase = ?", f.after === undefined ? "" : "created > ?"].filter(Boolean);
    const key = `count:${where.join(" AND ")}`;
    let st = this.listCache.get(key);
    if (!st) this.listCache.set(key, (st = this.db.prepare(`SELECT COUNT(*) AS n FROM jobs WHERE ${where.join(" AND ")}`)));
    let n = 0;
    for (const phase of phases) n += (st.get(...[f.definition, ...(typeof f.owner === "string" ? [f.owner] : []), phase, ...(f.after === undefined ? [] : [f.after])]) as { n: number }).n;
    return n;
  }

  private listStatement(owner: "any" | "null" | "owner", after: boolean, newest: boolean): Database.Statement {
    const key = `${owner}${after ? "a" : ""}${newest ? "l" : ""}`;
    let st = this.listCache.get(key);
    if (!st) {
      const where = ["definition = ?"];
      if (owner === "null") where.push("owner IS NULL");
      if (owner === "owner") where.push("owner = ?");
      where.push("phase = ?");
      if (after) where.push("created > ?");
      const order = newest ? "ORDER BY created DESC, seq DESC LIMIT ?" : "ORDER BY created, seq";
      st = this.db.prepare(`SELECT seq, id, phase, run_id AS runId, owner, created FROM jobs WHERE ${where.join(" AND ")} ${order}`);
      this.listCache.set(key, st);
    }
    return st;
  }

  /** WAL checkpoints the worker thread has made (0 without background checkpoints). */
  backgroundCheckpoints(): number {
    return this.checkpointer?.runs ?? 0;
  }

  /** Synchronous when there is no checkpoint worker (bulk loads); else waits for it first. */
  async close(): Promise<void> {
    this.commitBatch();
    if (this.checkpointer) await this.checkpointer.close();
    this.db.close();
  }
}
