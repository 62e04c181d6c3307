// Request input for UWS: (name, value) pairs from the query string and the form body, control
// parameters (case-insensitive names) split from job parameters, and multipart uploads written
// to the job's work dir under a name the server chooses.
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { FastifyRequest } from "fastify";
import type { JobDefinition } from "../jobdefs/definition.js";
import { checkValue, findParam, ParamError, uploadPath, type ParamValue } from "../jobdefs/params.js";
import { PHASES, type Phase } from "../store/jobs-db.js";
import { UwsError } from "../jobs/service.js";
import { fetchFileUrl, FileUrlError } from "./file-url.js";
import { parseIso } from "./time.js";
import { XML_ILLEGAL, xmlIllegalChar } from "./xml.js";

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

/** Size limits of request input, with the setting that changes each (for the messages). */
export interface InputLimits {
  /** Largest uploaded file, MB (uploadLimitMb / --upload-limit-mb). */
  fileMb: number;
  /** Largest value of one field, bytes (limits.valueKb / --value-limit-kb). */
  valueBytes: number;
  /** Most fields per request (limits.fields / --field-limit). */
  fields: number;
  /** Hosts a file parameter's URL may name although they resolve to a non-public address (fileUrlHosts / --file-url-host). */
  fileUrlHosts?: string[];
}

export const VALUE_SETTING = "limits.valueKb / --value-limit-kb";
export const FIELDS_SETTING = "limits.fields / --field-limit";
export const FILE_SETTING = "uploadLimitMb / --upload-limit-mb";

/** Names the field in messages: its name quoted, with any character XML cannot carry shown as U+XXXX. */
export function fieldLabel(name: string): string {
  const shown = name.length > 64 ? `${name.slice(0, 64)}…` : name;
  return `'${shown.replace(new RegExp(XML_ILLEGAL.source, "gu"), (c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`)}'`;
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

/** The query string's fields, checked like any other input. */
export function readQuery(url: string, limits: InputLimits): Input {
  const pairs = queryPairs(url);
  checkFields(pairs, limits);
  return splitControls(pairs);
}

/**
 * The one check every field passes, whatever carried it (query, form, JSON, multipart): a name
 * and a value XML can carry, a value within the value limit, and not too many fields.
 */
export function checkFields(pairs: Array<[string, string]>, limits: InputLimits): void {
  if (pairs.length > limits.fields) throw new UwsError(413, `too many fields: ${pairs.length} given, the limit is ${limits.fields} (${FIELDS_SETTING})`);
  for (const [k, v] of pairs) {
    const badName = xmlIllegalChar(k);
    if (badName) throw new UwsError(400, `field name ${fieldLabel(k)}: contains ${badName}, a character XML cannot carry`);
    if (k.length > 256) throw new UwsError(400, `field name ${fieldLabel(k)}: longer than 256 characters`);
    const bytes = Buffer.byteLength(v);
    if (bytes > limits.valueBytes) throw new UwsError(413, `${fieldLabel(k)}: value of ${bytes} bytes is over the limit of ${limits.valueBytes} bytes (${VALUE_SETTING})`);
    const badValue = xmlIllegalChar(v);
    if (badValue) throw new UwsError(400, `${fieldLabel(k)}: the value contains ${badValue}, a character XML cannot carry`);
  }
}

/**
 * A JSON body is a list of [name, value] pairs of strings — the same fields a form carries.
 * Numbers must be sent as strings: JSON.parse would already have rounded them.
 */
function jsonPairs(body: unknown): Array<[string, string]> {
  if (!Array.isArray(body)) throw new UwsError(400, "body: send parameters as application/x-www-form-urlencoded or multipart/form-data, or as JSON: a list of [name, value] pairs of strings, e.g. [[\"PHASE\", \"RUN\"]]");
  return body.map((e, i) => {
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== "string")
      throw new UwsError(400, `JSON body: element ${i} must be a [name, value] pair of strings, got ${JSON.stringify(e)?.slice(0, 80) ?? String(e)}`);
    if (typeof e[1] !== "string")
      throw new UwsError(400, `${fieldLabel(e[0])} (JSON body element ${i}): the value must be a string (send numbers as strings, so they are kept exactly), got ${typeof e[1] === "object" ? (e[1] === null ? "null" : Array.isArray(e[1]) ? "a list" : "an object") : typeof e[1]}`);
    return [e[0], e[1]] as [string, string];
  });
}

/**
 * Query pairs, then body pairs (form, JSON or multipart), all through checkFields. Files are
 * staged in <jobDir>/uploads/ and land at <jobDir>/uploads/<param> on commit().
 */
export async function readInput(req: FastifyRequest, def: JobDefinition | undefined, jobDir: string | undefined, limits: InputLimits): Promise<Input> {
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
          if (part.valueTruncated) throw new UwsError(413, `${fieldLabel(part.fieldname)}: value over the limit of ${limits.valueBytes} bytes (${VALUE_SETTING})`);
          if (part.fieldnameTruncated) throw new UwsError(400, `field name ${fieldLabel(part.fieldname)}: too long`);
          pairs.push([part.fieldname, String(part.value)]);
          continue;
        }
        const p = def ? findParam(def, part.fieldname) : undefined;
        if (!def || !jobDir || !p || p.type !== "file") {
          part.file.resume();
          throw new UwsError(400, `${fieldLabel(part.fieldname)} is not a file parameter${def ? ` of '${def.name}'` : ""}`);
        }
        if (uploads.some((u) => u.name === p.name)) {
          part.file.resume();
          throw new UwsError(400, `parameter '${p.name}' of '${def.name}': given more than once`);
        }
        mkdirSync(join(jobDir, "uploads"), { recursive: true });
        const tmp = join(jobDir, "uploads", `.${p.name}.${randomBytes(6).toString("hex")}.part`);
        staged.push([tmp, join(jobDir, uploadPath(p.name))]);
        await pipeline(part.file, createWriteStream(tmp, { mode: 0o644 }));
        if (part.file.truncated) throw new UwsError(413, `upload '${p.name}' is larger than the server's upload limit of ${limits.fileMb} MB (${FILE_SETTING})`);
        // The client's file name is kept for display only; it never becomes a path.
        const shown = (part.filename ?? p.name).replace(/[^\w.@+-]/g, "_").slice(0, 200) || p.name;
        uploads.push({ name: p.name, value: shown, byReference: true });
      }
    } else if (typeof req.body === "string" && req.body !== "") {
      throw new UwsError(400, "body: send parameters as application/x-www-form-urlencoded, multipart/form-data or a JSON list of [name, value] pairs");
    } else if (req.body !== undefined && req.body !== null && req.body !== "") {
      pairs.push(...(isFormBody(req.body) ? req.body.pairs : jsonPairs(req.body)));
    }
    checkFields(pairs, limits);
    if (def && jobDir) await fetchFileParams(def, jobDir, pairs, uploads, staged, limits);
  } catch (e) {
    discard();
    throw multipartError(e, limits);
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

/**
 * File parameters given as a value (form, query or JSON) rather than uploaded: by reference, an
 * http(s) URL the server fetches into the place an upload lands. They leave `pairs` and join
 * `uploads` (value: the URL, byReference), so the job sees a local file either way.
 */
async function fetchFileParams(def: JobDefinition, jobDir: string, pairs: Array<[string, string]>, uploads: ParamValue[], staged: Array<[string, string]>, limits: InputLimits): Promise<void> {
  for (let i = 0; i < pairs.length; i++) {
    const p = findParam(def, pairs[i]![0]);
    if (!p || p.type !== "file") continue;
    const url = checkValue(def, p, pairs[i]![1]);
    if (uploads.some((u) => u.name === p.name)) throw new ParamError(`parameter '${p.name}' of '${def.name}': given more than once`);
    pairs.splice(i--, 1);
    mkdirSync(join(jobDir, "uploads"), { recursive: true });
    const tmp = join(jobDir, "uploads", `.${p.name}.${randomBytes(6).toString("hex")}.part`);
    staged.push([tmp, join(jobDir, uploadPath(p.name))]);
    try {
      await fetchFileUrl(url, tmp, { maxBytes: limits.fileMb * 1048576, hosts: limits.fileUrlHosts ?? [], timeoutMs: 60_000 });
    } catch (e) {
      if (e instanceof FileUrlError) throw new UwsError(400, `parameter '${p.name}' of '${def.name}': could not fetch ${url}: ${e.message}`);
      throw e;
    }
    uploads.push({ name: p.name, value: url, byReference: true });
  }
}

/** A form body, as the form parser leaves it: pairs in order (repeated names and case kept). */
export interface FormBody {
  form: true;
  pairs: Array<[string, string]>;
}
export function isFormBody(b: unknown): b is FormBody {
  return typeof b === "object" && b !== null && (b as FormBody).form === true;
}

/** Errors of the multipart reader, as the client's errors naming the limit and its setting. */
function multipartError(e: unknown, limits: InputLimits): unknown {
  if (e instanceof UwsError || e instanceof ParamError) return e;
  const code = (e as { code?: unknown }).code;
  if (code === "FST_FIELDS_LIMIT" || code === "FST_PARTS_LIMIT") return new UwsError(413, `too many fields: the limit is ${limits.fields} (${FIELDS_SETTING})`);
  if (code === "FST_FILES_LIMIT") return new UwsError(413, "too many files: at most 32 per request");
  if (code === "FST_REQ_FILE_TOO_LARGE") return new UwsError(413, `an upload is larger than the server's upload limit of ${limits.fileMb} MB (${FILE_SETTING})`);
  if (code === "FST_PROTO_VIOLATION") return new UwsError(400, "field name: a multipart field is named like an object property (__proto__, constructor, …)");
  if (code === "FST_INVALID_JSON_FIELD_ERROR") return new UwsError(400, "body: a multipart field declared as application/json is not valid JSON");
  // A body the multipart parser cannot read is the client's error, not the server's.
  const status = (e as { statusCode?: unknown }).statusCode;
  if (!(typeof status === "number" && status < 500)) return new UwsError(400, `body: malformed multipart/form-data: ${(e as Error).message}`);
  return e;
}

/** A control word (PHASE=RUN, ACTION=DELETE): surrounding blanks ignored, any case. */
export function parseWord<T extends string>(v: string, allowed: readonly T[], what: string): T {
  const up = v.trim().toUpperCase() as T;
  if (!allowed.includes(up)) throw new UwsError(400, `${what}: '${v}' is not ${allowed.length === 1 ? allowed[0] : `one of ${allowed.join(", ")}`}`);
  return up;
}

/** RUNID: at most 256 characters (XML-illegal ones are refused with every field). */
export function parseRunId(v: string): string {
  if (v.length > 256) throw new UwsError(400, "RUNID: at most 256 characters");
  return v;
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
