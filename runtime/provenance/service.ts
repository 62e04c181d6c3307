// Provenance of every job that reaches a final phase. The job service calls `onFinal`
// synchronously while it stores the final phase: the record is taken then (stat calls, the step
// log), the `provenance` result is added to the job's results with the exact size of its PROV-JSON
// (pending hashes have their final length), and the files are hashed afterwards on streams; the
// record is stored once every hash is in. A request for a record still being hashed waits for it.
// Jobs that ended before the server kept records (or while it crashed) get one on first request.
import { hostname } from "node:os";
import { parse as parseYaml } from "yaml";
import type { JobService } from "../jobs/service.js";
import type { JobDefinition } from "../jobdefs/definition.js";
import { FINAL_PHASES, type Job, type Phase, type ResultRef } from "../store/jobs-db.js";
import type { ProvenanceDb } from "../store/provenance-db.js";
import { jobDocument } from "./document.js";
import { ProvDoc } from "./model.js";
import { capture, definitionFacts, hashAll, PROVENANCE_RESULT, type DefinitionFacts, type JobRecord } from "./record.js";

export interface ProvenanceOptions {
  /** The server's canonical URL (no trailing slash): the namespace of every identifier. */
  base: () => string;
  version: string;
  executor: string;
  host?: string;
  log?: (msg: string, extra?: Record<string, unknown>) => void;
}

export const PROVENANCE_MIME = "application/json";

export class ProvenanceService {
  private readonly pending = new Map<string, Promise<JobRecord | undefined>>();
  /** Per loaded definition object: a definition loaded again (changed) gets its facts again. */
  private readonly defs = new WeakMap<JobDefinition, DefinitionFacts>();
  private readonly host: string;

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
  }

  /** Job service hook: the job reaches a final phase; `results` is about to be stored. */
  onFinal = (job: Job, final: { phase: Phase; ended: number; error: string | null }, results: ResultRef[]): void => {
    const def = this.jobs.definitions.get(job.definition);
    if (!def) return;
    try {
      // Listed now (without a size: its document is made just after), captured off the path that
      // finishes the job, so a job's final phase costs no more than an entry in its result list.
      const seen = [...results];
      results.push({ id: PROVENANCE_RESULT, file: ".uws-provenance.json", mimeType: PROVENANCE_MIME, size: null });
      const done = new Promise<void>((r) => setImmediate(r))
        .then(async () => {
          const { record, tasks } = this.capture(job, final, seen, def);
          await hashAll(record, tasks);
          this.store(record);
          return record;
        })
        .catch((e) => {
          this.opts.log?.("provenance: could not record the job", { jobId: job.id, err: (e as Error).message });
          return undefined;
        })
        .finally(() => this.pending.delete(job.id));
      this.pending.set(job.id, done);
    } catch (e) {
      // Provenance must never keep a job from finishing.
      this.opts.log?.("provenance: could not capture the job", { jobId: job.id, err: (e as Error).message });
    }
  };

  private capture(job: Job, final: { phase: Phase; ended: number; error: string | null }, results: ResultRef[], def: JobDefinition) {
    return capture(job, final, results, def, {
      workDir: this.jobs.jobDir(job.id),
      jobDir: (id) => this.jobs.jobDir(id),
      lookupJob: (id) => this.jobs.db.get(id),
      definition: this.facts(def),
      server: { version: this.opts.version, host: this.host, executor: this.opts.executor },
    });
  }

  private facts(def: JobDefinition): DefinitionFacts {
    let f = this.defs.get(def);
    if (!f) this.defs.set(def, (f = definitionFacts(def, parseYaml)));
    return f;
  }

  private store(record: JobRecord): void {
    const sources = [...new Set(record.used.filter((u) => u.source).map((u) => u.source!.job))];
    this.db.put(record.job.id, JSON.stringify(record), sources);
  }

  /** PROV-JSON text of a record, as served (and as sized in the result list). */
  json(record: JobRecord): string {
    return this.document(record).toJsonText();
  }

  document(record: JobRecord): ProvDoc {
    return jobDocument(record, this.opts.base());
  }

  /** The record of a final job: stored, being hashed (waits), or built now for an older job. */
  async record(job: Job): Promise<JobRecord | undefined> {
    if (!FINAL_PHASES.includes(job.phase)) return undefined;
    const p = this.pending.get(job.id);
    if (p) return p;
    const stored = this.db.get(job.id);
    if (stored) return JSON.parse(stored) as JobRecord;
    const def = this.jobs.definitions.get(job.definition);
    if (!def || job.ended === null) return undefined;
    const results = job.results.filter((r) => r.id !== PROVENANCE_RESULT);
    const { record, tasks } = this.capture(job, { phase: job.phase, ended: job.ended, error: job.error }, results, def);
    record.notes.push("recorded after the job ended (hashes taken then)");
    await hashAll(record, tasks);
    this.store(record);
    return record;
  }

  /** Waits for every record still being hashed (tests, shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.pending.values()]);
    this.db.flush();
  }
}
