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

/**
 * An int parameter: an integer a 64-bit float keeps exactly (|n| ≤ 2^53 − 1), since the value
 * reaches the job as text but is compared, and shown in JSON, as a number. Returns the number or
 * the reason it is refused.
 */
export function parseExactInt(value: string): number | string {
  const t = value.trim();
  if (!INT_RE.test(t)) return `must be an integer, got '${value}'`;
  const big = BigInt(t);
  if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER))
    return `must be an integer between -${Number.MAX_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER} (kept exactly), got '${value}'`;
  return Number(big);
}

/** Decimal digits and exponent of a finite decimal numeral: "-0.0120e3" → { neg, digits "12", exp 0 }. */
function decimal(t: string): { neg: boolean; digits: string; exp: number } {
  const m = /^([+-]?)(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?$/.exec(t)!;
  const int = m[2] ?? "";
  const frac = m[3] ?? "";
  let digits = (int + frac).replace(/^0+/, "");
  let exp = Number(m[4] ?? 0) - frac.length;
  const trailing = /0*$/.exec(digits)![0].length;
  digits = digits.slice(0, digits.length - trailing);
  exp += trailing;
  return { neg: m[1] === "-", digits, exp: digits ? exp : 0 };
}

/**
 * A float parameter: a decimal number that a 64-bit float keeps exactly as written, i.e. the
 * float nearest to it prints back as the same number. Refused: overflow (1e999), underflow to 0 or
 * to a subnormal (1e-400), and more digits than a float keeps (0.1000000000000000000001).
 */
export function parseExactFloat(value: string): number | string {
  const t = value.trim();
  if (!FLOAT_RE.test(t)) return `must be a number, got '${value}'`;
  const n = Number(t);
  if (!Number.isFinite(n)) return `is outside the range of a 64-bit float (about ±1.8e308), got '${value}'`;
  const a = decimal(t);
  const b = decimal(n.toExponential().replace(/^-?/, (x) => x));
  if (a.digits !== b.digits || a.exp !== b.exp || (a.digits !== "" && a.neg !== b.neg))
    return a.digits !== "" && n === 0
      ? `is too close to 0 for a 64-bit float, got '${value}'`
      : `has more precision than a 64-bit float keeps (it would become ${n}), got '${value}'`;
  if (n !== 0 && Math.abs(n) < 2.2250738585072014e-308) return `is too close to 0 for a 64-bit float (below 2.2e-308), got '${value}'`;
  return n;
}

export function findParam(def: JobDefinition, name: string): ParamSpec | undefined {
  const lower = name.toLowerCase();
  return def.parameters.find((p) => p.name.toLowerCase() === lower);
}

/** Checks one value against its rule; throws ParamError naming the parameter and the rule. */
export function checkValue(def: JobDefinition, p: ParamSpec, value: string): string {
  const bad = (rule: string): never => {
    throw new ParamError(`parameter '${p.name}' of '${def.name}': ${rule}`);
  };
  if (BAD_CHARS.test(value)) bad("control characters are not allowed");
  switch (p.type) {
    case "int": {
      const n = parseExactInt(value);
      if (typeof n === "string") return bad(n);
      if (p.min !== undefined && n < p.min) bad(`must be ≥ ${p.min}, got ${n}`);
      if (p.max !== undefined && n > p.max) bad(`must be ≤ ${p.max}, got ${n}`);
      return String(n);
    }
    case "float": {
      const n = parseExactFloat(value);
      if (typeof n === "string") return bad(n);
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
    case "file": {
      // By reference (UWS byReference): the server fetches the URL (uws/file-url.ts).
      let u: URL;
      try {
        u = new URL(value);
      } catch {
        return bad(`is a file: upload it as multipart/form-data or give an absolute http(s) URL, got '${value}'`);
      }
      if (u.protocol !== "http:" && u.protocol !== "https:") bad(`a file's URL must be http or https, got '${u.protocol}'`);
      return value;
    }
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
