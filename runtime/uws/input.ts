// Request input for UWS: (name, value) pairs from the query string and the form body, control
// parameters (case-insensitive names) split from job parameters, and multipart uploads written
// to the job's work dir under a name the server chooses.
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { FastifyRequest } from "fastify";
import type { JobDefinition } from "../jobdefs/definition.js";
import { findParam, uploadPath, type ParamValue } from "../jobdefs/params.js";
import { PHASES, type Phase } from "../store/jobs-db.js";
import { UwsError } from "../jobs/service.js";
import { parseIso } from "./time.js";

export const CONTROL_NAMES = ["PHASE", "ACTION", "DESTRUCTION", "EXECUTIONDURATION", "WAIT", "AFTER", "LAST", "RUNID"];

export interface Input {
  controls: Map<string, string[]>;
  params: Array<[string, string]>;
  uploads: ParamValue[];
  /**
   * Uploaded files are written under temporary names; commit() moves them to their final place
   * once every value is valid, discard() removes them. A rejected update (too large, a bad value
   * next to it) thus never replaces the file the job already has.
   */
  commit(): void;
  discard(): void;
}

/** Limits of multipart uploads, for the messages. */
export interface UploadLimits {
  fileMb: number;
}

export function queryPairs(url: string): Array<[string, string]> {
  const q = url.indexOf("?");
  return q < 0 ? [] : [...new URLSearchParams(url.slice(q + 1))];
}

const NOTHING = () => {};

export function splitControls(pairs: Array<[string, string]>): Input {
  const controls = new Map<string, string[]>();
  const params: Array<[string, string]> = [];
  for (const [k, v] of pairs) {
    const up = k.toUpperCase();
    if (CONTROL_NAMES.includes(up)) {
      const list = controls.get(up) ?? [];
      list.push(v);
      controls.set(up, list);
    } else params.push([k, v]);
  }
  return { controls, params, uploads: [], commit: NOTHING, discard: NOTHING };
}

/**
 * Query pairs, then body pairs (form or multipart). Files are staged in <jobDir>/uploads/ and land
 * at <jobDir>/uploads/<param> on commit().
 */
export async function readInput(req: FastifyRequest, def: JobDefinition | undefined, jobDir: string | undefined, limits?: UploadLimits): Promise<Input> {
  const pairs = queryPairs(req.url);
  const uploads: ParamValue[] = [];
  const staged: Array<[string, string]> = [];
  const discard = () => {
    for (const [tmp] of staged) rmSync(tmp, { force: true });
    staged.length = 0;
  };
  try {
    if (req.isMultipart()) {
      for await (const part of req.parts()) {
        if (part.type === "field") {
          pairs.push([part.fieldname, String(part.value)]);
          continue;
        }
        const p = def ? findParam(def, part.fieldname) : undefined;
        if (!def || !jobDir || !p || p.type !== "file") {
          part.file.resume();
          throw new UwsError(400, `'${part.fieldname}' is not a file parameter${def ? ` of '${def.name}'` : ""}`);
        }
        if (uploads.some((u) => u.name === p.name)) {
          part.file.resume();
          throw new UwsError(400, `parameter '${p.name}' of '${def.name}': given more than once`);
        }
        mkdirSync(join(jobDir, "uploads"), { recursive: true });
        const tmp = join(jobDir, "uploads", `.${p.name}.${randomBytes(6).toString("hex")}.part`);
        staged.push([tmp, join(jobDir, uploadPath(p.name))]);
        await pipeline(part.file, createWriteStream(tmp, { mode: 0o644 }));
        if (part.file.truncated)
          throw new UwsError(413, `upload '${p.name}' is larger than the server's upload limit of ${limits?.fileMb ?? "?"} MB (uploadLimitMb / --upload-limit-mb)`);
        // The client's file name is kept for display only; it never becomes a path.
        const shown = (part.filename ?? p.name).replace(/[^\w.@+-]/g, "_").slice(0, 200) || p.name;
        uploads.push({ name: p.name, value: shown, byReference: true });
      }
    } else if (Array.isArray(req.body)) {
      pairs.push(...(req.body as Array<[string, string]>));
    } else if (req.body !== undefined && req.body !== null && req.body !== "") {
      throw new UwsError(400, "send parameters as application/x-www-form-urlencoded or multipart/form-data");
    }
  } catch (e) {
    discard();
    // A body the multipart parser cannot read is the client's error, not the server's.
    const status = (e as { statusCode?: unknown }).statusCode;
    if (!(e instanceof UwsError) && !(typeof status === "number" && status < 500)) throw new UwsError(400, `malformed multipart/form-data body: ${(e as Error).message}`);
    throw e;
  }
  const input = splitControls(pairs);
  input.uploads = uploads;
  input.discard = discard;
  input.commit = () => {
    for (const [tmp, final] of staged) renameSync(tmp, final);
    staged.length = 0;
  };
  return input;
}

export function one(input: Input, name: string): string | undefined {
  const v = input.controls.get(name);
  if (!v) return undefined;
  if (v.length > 1) throw new UwsError(400, `${name} given more than once`);
  return v[0];
}

export function parsePhase(v: string, what = "PHASE"): Phase {
  const up = v.trim().toUpperCase() as Phase;
  if (!PHASES.includes(up)) throw new UwsError(400, `${what}: unknown phase '${v}'; expected one of ${PHASES.join(", ")}`);
  return up;
}

export function parseTime(v: string, what: string): number {
  const t = parseIso(v);
  if (t === undefined) throw new UwsError(400, `${what}: '${v}' is not an ISO 8601 date-time (e.g. 2030-01-01T00:00:00Z)`);
  return t;
}

/**
 * A destruction time must lie ahead: one already past would remove the job at the next sweep,
 * under the client's feet (DELETE does that explicitly).
 */
export function parseFutureTime(v: string, what: string): number {
  const t = parseTime(v, what);
  if (t <= Date.now()) throw new UwsError(400, `${what}: '${v}' is in the past; give a future time (to remove a job now, DELETE it)`);
  return t;
}

export function parseNonNegInt(v: string, what: string, allowMinusOne = false): number {
  const s = v.trim();
  if (!/^[+-]?\d+$/.test(s)) throw new UwsError(400, `${what}: '${v}' is not an integer`);
  const n = Number(s);
  if (allowMinusOne && n === -1) return -1;
  if (n < 0) throw new UwsError(400, `${what}: must be ≥ 0${allowMinusOne ? " (or -1)" : ""}, got ${n}`);
  if (!Number.isSafeInteger(n) || n > 2_147_483_647) throw new UwsError(400, `${what}: ${v} is too large`);
  return n;
}
