// Parameter validation (at creation and update) and the argument vector a job receives.
// Values only ever become separate argv elements, environment variables and a JSON file.
import type { JobDefinition, ParamSpec } from "./definition.js";

export interface ParamValue {
  name: string;
  value: string;
  /** True for uploaded files: the value is the URL the file is served at. */
  byReference?: boolean;
}

export class ParamError extends Error {}

// XML 1.0 cannot carry most control characters; rejecting them keeps every document valid.
const BAD_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/u;
const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const MAX_VALUE = 65536;

export function findParam(def: JobDefinition, name: string): ParamSpec | undefined {
  const lower = name.toLowerCase();
  return def.parameters.find((p) => p.name.toLowerCase() === lower);
}

/** Checks one value against its rule; throws ParamError naming the parameter and the rule. */
export function checkValue(def: JobDefinition, p: ParamSpec, value: string): string {
  const bad = (rule: string): never => {
    throw new ParamError(`parameter '${p.name}' of '${def.name}': ${rule}`);
  };
  if (value.length > MAX_VALUE) bad(`value longer than ${MAX_VALUE} characters`);
  if (BAD_CHARS.test(value)) bad("control characters are not allowed");
  switch (p.type) {
    case "int": {
      if (!INT_RE.test(value.trim())) bad(`must be an integer, got '${value}'`);
      const n = Number(value);
      if (p.min !== undefined && n < p.min) bad(`must be ≥ ${p.min}, got ${n}`);
      if (p.max !== undefined && n > p.max) bad(`must be ≤ ${p.max}, got ${n}`);
      return String(n);
    }
    case "float": {
      if (!FLOAT_RE.test(value.trim())) bad(`must be a number, got '${value}'`);
      const n = Number(value);
      if (p.min !== undefined && n < p.min) bad(`must be ≥ ${p.min}, got ${n}`);
      if (p.max !== undefined && n > p.max) bad(`must be ≤ ${p.max}, got ${n}`);
      return value.trim();
    }
    case "bool": {
      const v = value.trim().toLowerCase();
      if (["true", "1", "yes"].includes(v)) return "true";
      if (["false", "0", "no"].includes(v)) return "false";
      return bad(`must be true or false, got '${value}'`);
    }
    case "enum":
      if (!p.values!.includes(value)) bad(`must be one of ${p.values!.join(", ")}, got '${value}'`);
      return value;
    case "url": {
      let u: URL;
      try {
        u = new URL(value);
      } catch {
        return bad(`must be an absolute http(s) URL, got '${value}'`);
      }
      if (u.protocol !== "http:" && u.protocol !== "https:") bad(`must be an http or https URL, got '${u.protocol}'`);
      return value;
    }
    case "file":
      return bad("is a file: upload it as multipart/form-data");
    default:
      if (p.maxLength !== undefined && value.length > p.maxLength) bad(`must be at most ${p.maxLength} characters`);
      if (p.min !== undefined && value.length < p.min) bad(`must be at least ${p.min} characters`);
      if (p.pattern && !p.pattern.test(value)) bad(`must match ${p.pattern.source}`);
      return value;
  }
}

/**
 * Merges new values into the current ones (creation: current = []), applies defaults and checks
 * required parameters. `given` holds (name, value) pairs that are not UWS control parameters.
 */
export function resolveParams(def: JobDefinition, current: ParamValue[], given: Array<[string, string]>, uploaded: ParamValue[] = [], final = true): ParamValue[] {
  const values = new Map(current.map((v) => [v.name, v]));
  const seen = new Set<string>();
  for (const [name, raw] of given) {
    const p = findParam(def, name);
    if (!p) throw new ParamError(`unknown parameter '${name}' for '${def.name}'; known: ${def.parameters.map((x) => x.name).join(", ") || "(none)"}`);
    if (seen.has(p.name)) throw new ParamError(`parameter '${p.name}' of '${def.name}': given more than once`);
    seen.add(p.name);
    values.set(p.name, { name: p.name, value: checkValue(def, p, raw) });
  }
  for (const u of uploaded) {
    if (seen.has(u.name)) throw new ParamError(`parameter '${u.name}' of '${def.name}': given more than once`);
    seen.add(u.name);
    values.set(u.name, u);
  }
  if (final) {
    for (const p of def.parameters) {
      if (values.has(p.name)) continue;
      if (p.default !== undefined) values.set(p.name, { name: p.name, value: p.default });
      else if (p.required) throw new ParamError(`parameter '${p.name}' of '${def.name}' is required${p.type === "file" ? " (upload it as multipart/form-data)" : ""}`);
    }
  }
  // Keep the definition's order so documents are stable.
  return def.parameters.filter((p) => values.has(p.name)).map((p) => values.get(p.name)!);
}

/** Path of an uploaded file inside the work dir: named by the parameter, never by the client. */
export function uploadPath(paramName: string): string {
  return `uploads/${paramName}`;
}

/**
 * The job's argument vector and environment. Placeholders are replaced inside single argv
 * elements; nothing is ever joined into a command line.
 */
export function buildLaunch(def: JobDefinition, jobId: string, workDir: string, params: ParamValue[]): { args: string[]; env: Record<string, string> } {
  const map = new Map<string, string>();
  for (const v of params) {
    const p = def.parameters.find((x) => x.name === v.name);
    map.set(v.name, p?.type === "file" ? `${workDir}/${uploadPath(v.name)}` : v.value);
  }
  map.set("jobId", jobId);
  map.set("workDir", workDir);
  const args = def.args.map((a) => a.replace(/\{([A-Za-z][A-Za-z0-9_-]*)\}/g, (_, n: string) => map.get(n) ?? ""));
  // UWS_DEFINITION_DIR: the definition's folder (an application's scripts and data; shared with compute nodes on a cluster).
  const env: Record<string, string> = { UWS_JOB_ID: jobId, UWS_WORK_DIR: workDir, UWS_PARAMS_FILE: `${workDir}/.uws-params.json`, UWS_DEFINITION_DIR: def.dir };
  for (const [k, v] of map) if (k !== "jobId" && k !== "workDir") env[`UWS_PARAM_${k.toUpperCase().replace(/-/g, "_")}`] = v;
  return { args, env };
}
