// Job definitions: declarative YAML files, one per job kind, loaded once at start.
// A definition names its parameters with their rules, the command (an executable and an argument
// vector with {placeholders}, never a shell string), the result files and the resources.
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";

export type ParamType = "string" | "int" | "float" | "bool" | "enum" | "file" | "url";
const PARAM_TYPES: ParamType[] = ["string", "int", "float", "bool", "enum", "file", "url"];

export interface ParamSpec {
  name: string;
  type: ParamType;
  description?: string;
  required: boolean;
  default?: string;
  min?: number;
  max?: number;
  pattern?: RegExp;
  maxLength?: number;
  values?: string[];
}

export interface ResultSpec {
  name: string;
  /** A file name in the job's work dir; `*` and `?` match within one path segment. */
  file: string;
  mimeType: string;
}

export interface JobDefinition {
  name: string;
  description: string;
  parameters: ParamSpec[];
  /** Absolute path, or a path relative to `dir` when it starts with "./". */
  executable: string;
  args: string[];
  results: ResultSpec[];
  cpus: number;
  memoryMb: number;
  /** Seconds; 0 = no limit. Also the default execution duration of a job. */
  maxDuration: number;
  /** Folder the definition file lives in (helper scripts sit next to it). */
  dir: string;
  file: string;
}

const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const PLACEHOLDER_RE = /\{([A-Za-z][A-Za-z0-9_-]*)\}/g;
/** Placeholders the server fills itself, besides the parameters. */
export const BUILTIN_PLACEHOLDERS = ["jobId", "workDir"];

export class DefinitionError extends Error {}

function fail(file: string, field: string, msg: string): never {
  throw new DefinitionError(`${file}: ${field}: ${msg}`);
}

function num(file: string, field: string, v: unknown, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) fail(file, field, `must be a non-negative number, got ${JSON.stringify(v)}`);
  return v;
}

export function parseDefinition(text: string, file: string): JobDefinition {
  let doc: any;
  try {
    doc = parseYaml(text);
  } catch (e) {
    fail(file, "(file)", `not valid YAML: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== "object") fail(file, "(file)", "must be a YAML mapping with name, parameters, command, results");
  const name = doc.name;
  if (typeof name !== "string" || !NAME_RE.test(name)) fail(file, "name", "must match [A-Za-z][A-Za-z0-9_-]* (it becomes the URL path /uws/<name>)");

  const parameters: ParamSpec[] = [];
  const rawParams = doc.parameters ?? {};
  if (typeof rawParams !== "object" || Array.isArray(rawParams)) fail(file, "parameters", "must be a mapping name → { type, ... }");
  const seen = new Set<string>();
  for (const [pname, raw] of Object.entries<any>(rawParams)) {
    const f = `parameters.${pname}`;
    if (!NAME_RE.test(pname)) fail(file, f, "parameter names must match [A-Za-z][A-Za-z0-9_-]*");
    if (seen.has(pname.toLowerCase())) fail(file, f, "duplicate name (parameter names are case-insensitive)");
    seen.add(pname.toLowerCase());
    if (["phase", "action", "destruction", "executionduration", "wait", "after", "last", "runid"].includes(pname.toLowerCase()))
      fail(file, f, "this name is a UWS control parameter; choose another");
    const type = (raw?.type ?? "string") as ParamType;
    if (!PARAM_TYPES.includes(type)) fail(file, `${f}.type`, `must be one of ${PARAM_TYPES.join(", ")}`);
    const p: ParamSpec = { name: pname, type, required: raw?.required === true, description: raw?.description };
    if (raw?.min !== undefined) p.min = Number(raw.min);
    if (raw?.max !== undefined) p.max = Number(raw.max);
    if (raw?.maxLength !== undefined) p.maxLength = Number(raw.maxLength);
    if (raw?.pattern !== undefined) {
      try {
        p.pattern = new RegExp(String(raw.pattern), "u");
      } catch (e) {
        fail(file, `${f}.pattern`, `not a valid regular expression: ${(e as Error).message}`);
      }
    }
    if (type === "enum") {
      if (!Array.isArray(raw?.values) || raw.values.length === 0) fail(file, `${f}.values`, "an enum needs a non-empty list of values");
      p.values = raw.values.map(String);
    }
    if (raw?.default !== undefined && raw.default !== null) p.default = String(raw.default);
    parameters.push(p);
  }

  const cmd = doc.command;
  if (!cmd || typeof cmd !== "object") fail(file, "command", "must be { executable, args: [...] } (never a shell string)");
  if (typeof cmd.executable !== "string" || !(isAbsolute(cmd.executable) || cmd.executable.startsWith("./")))
    fail(file, "command.executable", "must be an absolute path or ./file next to the definition");
  const args = cmd.args ?? [];
  if (!Array.isArray(args) || !args.every((a: unknown) => typeof a === "string" || typeof a === "number"))
    fail(file, "command.args", "must be a list of strings");
  const known = new Set([...parameters.map((p) => p.name), ...BUILTIN_PLACEHOLDERS]);
  for (const a of args) for (const m of String(a).matchAll(PLACEHOLDER_RE)) if (!known.has(m[1]!)) fail(file, "command.args", `placeholder {${m[1]}} is not a parameter`);

  const results: ResultSpec[] = [];
  for (const [i, r] of ((doc.results ?? []) as any[]).entries()) {
    if (!r || typeof r.name !== "string" || !NAME_RE.test(r.name)) fail(file, `results[${i}].name`, "must match [A-Za-z][A-Za-z0-9_-]*");
    if (typeof r.file !== "string" || r.file.includes("/") || r.file.startsWith(".")) fail(file, `results[${i}].file`, "must be a file name (glob) in the work dir, without '/' or a leading dot");
    results.push({ name: r.name, file: r.file, mimeType: typeof r.mimeType === "string" ? r.mimeType : "application/octet-stream" });
  }
  const res = doc.resources ?? {};
  return {
    name,
    description: typeof doc.description === "string" ? doc.description : "",
    parameters,
    executable: cmd.executable,
    args: args.map(String),
    results,
    cpus: num(file, "resources.cpus", res.cpus, 1),
    memoryMb: num(file, "resources.memoryMb", res.memoryMb, 0),
    maxDuration: num(file, "resources.maxDuration", res.maxDuration, 0),
    dir: dirname(resolve(file)),
    file: resolve(file),
  };
}

/** The application manifest in an application folder: not a job definition. */
export const APP_MANIFEST = "app.yaml";

/**
 * Every application's job definitions: one folder per application under `dir` (its manifest
 * app.yaml aside). No folder, or an empty one, is no application yet.
 */
export function loadApplications(dir: string): Map<string, JobDefinition> {
  const out = new Map<string, JobDefinition>();
  let apps: string[];
  try {
    apps = readdirSync(dir).filter((n) => !n.startsWith(".") && statSync(join(dir, n)).isDirectory()).sort();
  } catch {
    return out;
  }
  for (const app of apps) {
    // An application folder may be a link to one version of it: jobs get the version's real path, so
    // a later version pushed beside it does not change the files of jobs already running.
    for (const [name, def] of loadDefinitions(realpathSync(join(dir, app)), { skip: [APP_MANIFEST], allowEmpty: true })) {
      if (out.has(name)) throw new DefinitionError(`${def.file}: name: '${name}' is also defined by ${out.get(name)!.file}`);
      out.set(name, def);
    }
  }
  return out;
}

/** Loads every *.yaml / *.yml file of a folder. */
export function loadDefinitions(dir: string, opts: { skip?: string[]; allowEmpty?: boolean } = {}): Map<string, JobDefinition> {
  const out = new Map<string, JobDefinition>();
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /\.ya?ml$/.test(n) && !opts.skip?.includes(n)).sort();
  } catch (e) {
    throw new DefinitionError(`definitions folder ${dir}: ${(e as Error).message} (set --definitions DIR or 'definitions:' in the config)`);
  }
  for (const n of names) {
    const file = join(dir, n);
    const def = parseDefinition(readFileSync(file, "utf8"), file);
    if (out.has(def.name)) throw new DefinitionError(`${file}: name: '${def.name}' is defined twice`);
    if (def.executable.startsWith("./")) {
      const exe = join(def.dir, def.executable);
      try {
        statSync(exe);
      } catch {
        throw new DefinitionError(`${file}: command.executable: ${exe} does not exist`);
      }
    }
    out.set(def.name, def);
  }
  if (out.size === 0 && !opts.allowEmpty) throw new DefinitionError(`definitions folder ${dir} holds no *.yaml job definition`);
  return out;
}
