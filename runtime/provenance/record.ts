// What the server keeps about a job once it reaches a final phase: enough to write its provenance
// later without touching the job's files again (hashes and sizes are taken at completion). The
// record holds no host name or URL base: identifiers are made relative and bound to the server's
// canonical URL when the document is written.
import { createHash } from "node:crypto";
import { closeSync, createReadStream, openSync, readFileSync, readSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join, normalize, relative, sep } from "node:path";
import type { JobDefinition } from "../jobdefs/definition.js";
import { FINAL_PHASES, type Job, type Phase, type ResultRef } from "../store/jobs-db.js";
import { uploadPath } from "../jobdefs/params.js";
import { parseIso } from "../uws/time.js";

export const RECORD_VERSION = 1;
/** Placeholder for a hash not computed yet: as long as a real one, so document sizes hold. */
export const PENDING_HASH = "0".repeat(64);
/** The step log a job may write in its work dir (format in runtime/README.md). */
export const STEP_LOG = "provenance-steps.jsonl";
/** Name of the provenance entry among a job's results. */
export const PROVENANCE_RESULT = "provenance";
/** Noted in a record made after its job ended (on request, or by the start-up scan after a crash). */
export const REBUILT_NOTE = "recorded after the job ended (hashes taken then)";
const STEP_LOG_MAX_BYTES = 1 << 20;
const STEP_LOG_MAX_STEPS = 1000;
const MAX_FILES = 2000;

export interface FileFacts {
  sha256?: string;
  size?: number;
}

/** Something a job or a step used or generated. */
export type Ref =
  | { kind: "result"; id: string }
  | { kind: "param"; name: string }
  | { kind: "file"; path: string }
  | { kind: "url"; url: string };

export interface UsedInput extends FileFacts {
  /** The parameter it came from (the usage role). */
  role: string;
  kind: "upload" | "url" | "result";
  /** url and result inputs: the URL as given. */
  url?: string;
  /** result inputs: the job and result on this server it names. */
  source?: { definition: string; job: string; result: string; mimeType?: string; sameOwner: boolean };
}

export interface Step {
  name: string;
  started?: number;
  ended?: number;
  used: Ref[];
  generated: Ref[];
  derivedFrom: Array<[Ref, Ref]>;
}

export interface DefinitionFacts {
  name: string;
  version: string;
  description: string;
  parameters: Array<{ name: string; type: string; required: boolean; default?: string; min?: number; max?: number; maxLength?: number; values?: string[]; pattern?: string; description?: string; unit?: string; ucd?: string }>;
}

export interface JobRecord {
  v: number;
  job: { id: string; definition: string; owner: string | null; runId: string | null; phase: Phase; created: number; started: number | null; ended: number; error: string | null };
  server: { version: string; host: string; executor: string };
  definition: DefinitionFacts;
  params: Array<{ name: string; type: string; value: string; byReference: boolean }>;
  used: UsedInput[];
  generated: Array<Omit<ResultRef, "size"> & FileFacts & { size: number }>;
  steps: Step[];
  /** Work-dir files the step log names that are not results. */
  files: Record<string, FileFacts>;
  /** Problems with the step log (bad lines are skipped, not fatal). */
  notes: string[];
  /** False until every hash is in. */
  complete: boolean;
}

/** Extra facts of a definition file the job definition loader does not keep (version, units, UCDs). */
export function definitionFacts(def: JobDefinition, parseYaml: (s: string) => any): DefinitionFacts {
  let raw: any = {};
  let text = "";
  try {
    text = readFileSync(def.file, "utf8");
    raw = parseYaml(text) ?? {};
  } catch {
    /* the definition was loaded from this file at start; keep what the loader kept */
  }
  const version = typeof raw.version === "string" || typeof raw.version === "number" ? String(raw.version) : `sha256-${createHash("sha256").update(text).digest("hex").slice(0, 12)}`;
  return {
    name: def.name,
    version,
    description: def.description,
    parameters: def.parameters.map((p) => {
      const extra = raw.parameters?.[p.name] ?? {};
      return {
        name: p.name,
        type: p.type,
        required: p.required,
        default: p.default,
        min: p.min,
        max: p.max,
        maxLength: p.maxLength,
        values: p.values,
        pattern: p.pattern?.source,
        description: p.description,
        unit: typeof extra.unit === "string" ? extra.unit : undefined,
        ucd: typeof extra.ucd === "string" ? extra.ucd : undefined,
      };
    }),
  };
}

/** A result URL of this server: /uws/{definition}/{job}/results/{result}. */
export function parseResultUrl(value: string): { definition: string; job: string; result: string } | undefined {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return undefined;
  }
  const m = /^(?:.*)\/uws\/([^/]+)\/([^/]+)\/results\/([^/]+)$/.exec(u.pathname);
  if (!m || u.search || u.hash) return undefined;
  try {
    return { definition: decodeURIComponent(m[1]!), job: decodeURIComponent(m[2]!), result: decodeURIComponent(m[3]!) };
  } catch {
    return undefined;
  }
}

export interface CaptureContext {
  workDir: string;
  /** The work dir of another job (cross-job inputs are hashed from the file itself). */
  jobDir: (id: string) => string;
  lookupJob: (id: string) => Job | undefined;
  definition: DefinitionFacts;
  server: JobRecord["server"];
}

/** A file to hash later, and where its facts go. */
export interface HashTask {
  path: string;
  into: FileFacts;
}

function statFile(path: string, root: string): { size: number } | undefined {
  try {
    const real = realpathSync(path);
    if (!real.startsWith(root + sep)) return undefined;
    const st = statSync(real);
    return st.isFile() ? { size: st.size } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The record of a job that just reached a final phase, taken synchronously (stat calls and the
 * step log only); hashes are PENDING_HASH placeholders until `hashAll` has read the files.
 */
export function capture(job: Job, final: { phase: Phase; ended: number; error: string | null }, results: ResultRef[], ctx: CaptureContext): { record: JobRecord; tasks: HashTask[] } {
  const tasks: HashTask[] = [];
  let rootCache: string | undefined;
  const rootOf = (): string => {
    if (rootCache === undefined) {
      try {
        rootCache = realpathSync(ctx.workDir);
      } catch {
        rootCache = ctx.workDir;
      }
    }
    return rootCache;
  };
  /** Sets size and a pending hash on `into` (which the record holds) and queues the file. */
  const facts = <T extends FileFacts>(abs: string, within: string, into: T): T => {
    const st = statFile(abs, within);
    if (!st) return into;
    into.size = st.size;
    into.sha256 = PENDING_HASH;
    tasks.push({ path: abs, into });
    return into;
  };

  const used: UsedInput[] = [];
  const params = job.params.map((p) => {
    const spec = ctx.definition.parameters.find((x) => x.name === p.name);
    return { name: p.name, type: spec?.type ?? "string", value: p.value, byReference: p.byReference === true };
  });
  for (const p of params) {
    if (p.type === "file" || p.byReference) {
      used.push(facts(join(ctx.workDir, uploadPath(p.name)), rootOf(), { role: p.name, kind: "upload" } as UsedInput));
    } else if (p.type === "url") {
      const src = parseResultUrl(p.value);
      const other = src && src.job !== job.id ? ctx.lookupJob(src.job) : undefined;
      const ref = other && other.definition === src!.definition ? other.results.find((r) => r.id === src!.result && r.id !== PROVENANCE_RESULT) : undefined;
      if (other && ref) {
        const otherDir = ctx.jobDir(other.id);
        let otherRoot = otherDir;
        try {
          otherRoot = realpathSync(otherDir);
        } catch {
          /* gone */
        }
        const sameOwner = other.owner === job.owner;
        const input: UsedInput = {
          role: p.name,
          kind: "result",
          url: p.value,
          source: { definition: other.definition, job: other.id, result: ref.id, mimeType: sameOwner ? ref.mimeType : undefined, sameOwner },
        };
        // Another owner's file is not read: its hash would tell about a job the owner cannot see.
        used.push(sameOwner ? facts(join(otherDir, ref.file), otherRoot, input) : input);
      } else used.push({ role: p.name, kind: "url", url: p.value });
    }
  }

  // Results were checked by the job service (a regular file inside the work dir) and carry their size.
  const generated = results
    .filter((r) => r.id !== PROVENANCE_RESULT)
    .map((r) => {
      const g: ResultRef & FileFacts = { ...r, size: r.size ?? 0, sha256: PENDING_HASH };
      tasks.push({ path: join(ctx.workDir, r.file), into: g });
      return g;
    });
  const record: JobRecord = {
    v: RECORD_VERSION,
    job: { id: job.id, definition: job.definition, owner: job.owner, runId: job.runId, phase: final.phase, created: job.created, started: job.started, ended: final.ended, error: final.error },
    server: ctx.server,
    definition: ctx.definition,
    params,
    used,
    generated,
    steps: [],
    files: {},
    notes: [],
    complete: false,
  };
  // Most jobs write no step log: one stat that does not throw finds out. A job never handed to an
  // executor (no start time, no executor handle: a PENDING job aborted) wrote nothing: no stat.
  if ((job.started !== null || job.execRef !== null) && statSync(join(ctx.workDir, STEP_LOG), { throwIfNoEntry: false })) readStepLog(record, ctx.workDir, rootOf(), (abs) => facts(abs, rootOf(), {} as FileFacts));
  if (tasks.length === 0) record.complete = true;
  return { record, tasks };
}

/**
 * `capture` for a job whose final phase is stored: its row says the rest. `rebuilt`: made after
 * the fact (noted in the record).
 */
export function captureFinal(job: Job, ctx: CaptureContext, rebuilt: boolean): { record: JobRecord; tasks: HashTask[] } {
  if (!FINAL_PHASES.includes(job.phase) || job.ended === null) throw new Error(`the job is ${job.phase}, not in a final phase`);
  // As the job service's final-phase hook sees it: a message is an error only for ERROR.
  const final = { phase: job.phase, ended: job.ended, error: job.phase === "ERROR" ? job.error : null };
  const out = capture(job, final, job.results.filter((r) => r.id !== PROVENANCE_RESULT), ctx);
  if (rebuilt) out.record.notes.push(REBUILT_NOTE);
  return out;
}

/**
 * A job that never ran — no start time, no executor handle, no results — and whose parameters name
 * no result of another job ("results" nowhere in them as stored, JSON; a result URL always holds it):
 * its record follows from its stored row, its definition and its uploads, none of which changes
 * once it has ended. It is made when first asked for (ProvenanceService.record) instead of when the
 * job ends (a PENDING job aborted costs no record then), is not noted as made after the fact, and
 * has no cross-job links to store (it used no job's result; having none, no job used one of its).
 * The start-up scan applies the same rule in SQL (store/provenance-db.ts `missing`): change both.
 */
export function recordedOnRequest(started: number | null, execRef: string | null, results: readonly unknown[], params: Job["params"]): boolean {
  return started === null && execRef === null && results.length === 0 && !JSON.stringify(params).includes("results");
}

/** Jobs on this server whose results a record used (the cross-job links). */
export function sourceJobs(record: JobRecord): string[] {
  return [...new Set(record.used.filter((u) => u.source).map((u) => u.source!.job))];
}

/** Reads the job's step log into record.steps (format in runtime/README.md). */
function readStepLog(record: JobRecord, workDir: string, root: string, facts: (abs: string) => FileFacts): void {
  const file = join(workDir, STEP_LOG);
  const st = statFile(file, root);
  if (!st) return;
  if (st.size > STEP_LOG_MAX_BYTES) {
    record.notes.push(`${STEP_LOG} is larger than ${STEP_LOG_MAX_BYTES} bytes; ignored`);
    return;
  }
  const lines = readFileSync(file, "utf8").split("\n");
  const results = record.generated;
  const params = new Map(record.params.map((p) => [p.name, p]));
  const resolve = (raw: unknown, where: string): Ref | undefined => {
    if (typeof raw !== "string" || raw === "") {
      record.notes.push(`${where}: not a non-empty string`);
      return undefined;
    }
    if (/^https?:\/\//i.test(raw)) {
      for (const p of record.params) if (p.type === "url" && p.value === raw) return { kind: "param", name: p.name };
      return { kind: "url", url: raw };
    }
    if (results.some((r) => r.id === raw)) return { kind: "result", id: raw };
    let rel = isAbsolute(raw) ? relative(workDir, raw) : normalize(raw);
    if (rel.startsWith("..") || isAbsolute(rel) || rel === "." || rel === "") {
      record.notes.push(`${where}: ${raw} is outside the job's work dir`);
      return undefined;
    }
    rel = rel.split(sep).join("/");
    const result = results.find((r) => r.file === rel);
    if (result) return { kind: "result", id: result.id };
    const up = /^uploads\/([^/]+)$/.exec(rel);
    if (up && params.get(up[1]!)?.type === "file") return { kind: "param", name: up[1]! };
    if (!(rel in record.files)) {
      if (Object.keys(record.files).length >= MAX_FILES) {
        record.notes.push(`${where}: more than ${MAX_FILES} files; ${rel} left out`);
        return undefined;
      }
      record.files[rel] = facts(join(workDir, rel));
    }
    return { kind: "file", path: rel };
  };
  const list = (v: unknown, where: string): Ref[] => {
    if (v === undefined) return [];
    const arr = Array.isArray(v) ? v : [v];
    return arr.map((x, i) => resolve(x, `${where}[${i}]`)).filter((x): x is Ref => x !== undefined);
  };
  const time = (v: unknown, where: string): number | undefined => {
    if (v === undefined) return undefined;
    const t = typeof v === "string" ? parseIso(v) : undefined;
    if (t === undefined) record.notes.push(`${where}: not an ISO 8601 time`);
    return t;
  };
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${STEP_LOG} line ${i + 1}`;
    if (record.steps.length >= STEP_LOG_MAX_STEPS) {
      if (record.steps.length === STEP_LOG_MAX_STEPS) record.notes.push(`${where}: more than ${STEP_LOG_MAX_STEPS} steps; the rest is ignored`);
      return;
    }
    let o: any;
    try {
      o = JSON.parse(line);
    } catch {
      record.notes.push(`${where}: not JSON`);
      return;
    }
    if (!o || typeof o !== "object" || typeof o.step !== "string" || !o.step) {
      record.notes.push(`${where}: needs "step" (a non-empty string)`);
      return;
    }
    const derivedFrom: Array<[Ref, Ref]> = [];
    if (o.derivedFrom !== undefined) {
      if (typeof o.derivedFrom !== "object" || o.derivedFrom === null || Array.isArray(o.derivedFrom)) record.notes.push(`${where}: derivedFrom must map a target to its source(s)`);
      else
        for (const [target, sources] of Object.entries(o.derivedFrom)) {
          const t = resolve(target, `${where} derivedFrom`);
          if (!t) continue;
          for (const s of list(sources, `${where} derivedFrom.${target}`)) derivedFrom.push([t, s]);
        }
    }
    record.steps.push({
      name: o.step.slice(0, 200),
      started: time(o.started, `${where} started`),
      ended: time(o.ended, `${where} ended`),
      used: list(o.used, `${where} used`),
      generated: list(o.generated, `${where} generated`),
      derivedFrom,
    });
  });
}

export function sha256File(path: string): Promise<FileFacts> {
  return new Promise((resolve) => {
    const h = createHash("sha256");
    let size = 0;
    const s = createReadStream(path);
    s.on("data", (c) => {
      size += (c as Buffer).length;
      h.update(c);
    });
    s.on("error", () => resolve({}));
    s.on("end", () => resolve({ sha256: h.digest("hex"), size }));
  });
}

/** Fills in every pending hash (streams, never blocking the event loop). A vanished file loses its hash. */
export async function hashAll(record: JobRecord, tasks: HashTask[]): Promise<void> {
  for (const t of tasks) {
    const f = await sha256File(t.path);
    if (f.sha256) {
      t.into.sha256 = f.sha256;
      t.into.size = f.size;
    } else delete t.into.sha256;
  }
  record.complete = true;
}

let chunk: Buffer | undefined;

/**
 * `hashAll` with blocking reads, for the provenance worker thread (its own event loop): a small
 * file costs four system calls instead of a stream's round trips through the thread pool.
 */
export function hashAllSync(record: JobRecord, tasks: HashTask[]): void {
  chunk ??= Buffer.allocUnsafe(1 << 20);
  for (const t of tasks) {
    let fd: number | undefined;
    try {
      fd = openSync(t.path, "r");
      const h = createHash("sha256");
      let size = 0;
      for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; size += n) h.update(chunk.subarray(0, n));
      t.into.sha256 = h.digest("hex");
      t.into.size = size;
    } catch {
      delete t.into.sha256;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  record.complete = true;
}
