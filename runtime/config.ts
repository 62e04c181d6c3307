// Server configuration: defaults ← YAML config file (--config) ← command-line flags.
// Secrets are only ever referenced by *File keys, never inline.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import type { ConnectionLimits } from "./connections.js";
import { flagHelp, RUNTIME_FLAGS } from "./flags.js";

export interface ClaimRulesConfig {
  entitlements: string[];
  subs: string[];
}

export interface ServerConfig {
  host: string;
  port: number;
  data: string;
  /** Defaults to <data>/jobs. */
  workDir: string | null;
  /** Defaults to the shipped definitions. */
  definitions: string | null;
  /** Folder of application folders, each holding job definitions (loaded beside `definitions`). */
  apps: string | null;
  executor: "local" | "slurm";
  local: { concurrency: number };
  /** pollMs: longest time between two squeue polls; minPollMs: shortest (after a change). */
  slurm: { partition: string | null; slurmConf: string | null; pollMs: number; minPollMs: number };
  auth: "none" | "tokens" | "oidc";
  /** TOKEN=OWNER entries from --token (tokens mode). */
  tokens: string[];
  tokensFile: string | null;
  adminTokenFile: string | null;
  jobSecretFile: string | null;
  oidc: {
    issuer: string | null;
    audience: string | null;
    clientId: string | null;
    clientSecretFile: string | null;
    scopes: string[];
    entitlementClaim: string;
    allow: ClaimRulesConfig;
    admins: ClaimRulesConfig;
  };
  uploadLimitMb: number;
  /** Hosts a file parameter's URL may name although they resolve to a loopback or private address. */
  fileUrlHosts: string[];
  /** Request size limits (every content type). */
  limits: {
    /** Largest form or JSON body, KiB (multipart bodies are bounded by the file and value limits). */
    bodyKb: number;
    /** Largest single value of any field, KiB. */
    valueKb: number;
    /** Most (name, value) fields in one request (query and body together). */
    fields: number;
  };
  connections: ConnectionLimits;
  /**
   * Base URL of every link and 303 Location. Null: http://<listen address>:<port> (the host's name
   * when listening on every address); never the client's Host header.
   */
  publicUrl: string | null;
  maxWait: number;
  /** Default lifetime of a job (destruction time after creation), seconds. */
  jobLifetime: number;
  /** Longest lifetime a client may ask for, seconds. */
  maxJobLifetime: number;
  logLevel: string;
}

export const DEFAULTS: ServerConfig = {
  host: "127.0.0.1",
  port: 8080,
  data: "./data",
  workDir: null,
  definitions: null,
  apps: null,
  executor: "local",
  local: { concurrency: 2 },
  slurm: { partition: "batch", slurmConf: null, pollMs: 1000, minPollMs: 100 },
  auth: "none",
  tokens: [],
  tokensFile: null,
  adminTokenFile: null,
  jobSecretFile: null,
  oidc: {
    issuer: null,
    audience: null,
    clientId: null,
    clientSecretFile: null,
    scopes: ["openid"],
    entitlementClaim: "eduperson_entitlement",
    allow: { entitlements: [], subs: [] },
    admins: { entitlements: [], subs: [] },
  },
  uploadLimitMb: 100,
  fileUrlHosts: [],
  limits: { bodyKb: 1024, valueKb: 64, fields: 256 },
  connections: { headersTimeout: 15, requestTimeout: 300, keepAliveTimeout: 65, bodyTimeout: 30, maxConnections: 0 },
  publicUrl: null,
  maxWait: 600,
  jobLifetime: 7 * 86400,
  maxJobLifetime: 30 * 86400,
  logLevel: "info",
};

export class ConfigError extends Error {}

/** The definitions shipped next to this module (runtime/definitions, or dist/runtime/definitions). */
export function shippedDefinitions(): string {
  return fileURLToPath(new URL("./definitions/", import.meta.url));
}

type Shape = { [k: string]: "string" | "number" | "strings" | Shape | "string?" };
const SHAPE: Shape = {
  host: "string",
  port: "number",
  data: "string",
  workDir: "string?",
  definitions: "string?",
  apps: "string?",
  executor: "string",
  local: { concurrency: "number" },
  slurm: { partition: "string?", slurmConf: "string?", pollMs: "number", minPollMs: "number" },
  auth: "string",
  tokensFile: "string?",
  adminTokenFile: "string?",
  jobSecretFile: "string?",
  oidc: {
    issuer: "string?",
    audience: "string?",
    clientId: "string?",
    clientSecretFile: "string?",
    scopes: "strings",
    entitlementClaim: "string",
    allow: { entitlements: "strings", subs: "strings" },
    admins: { entitlements: "strings", subs: "strings" },
  },
  uploadLimitMb: "number",
  fileUrlHosts: "strings",
  limits: { bodyKb: "number", valueKb: "number", fields: "number" },
  connections: { headersTimeout: "number", requestTimeout: "number", keepAliveTimeout: "number", bodyTimeout: "number", maxConnections: "number" },
  publicUrl: "string?",
  maxWait: "number",
  jobLifetime: "number",
  maxJobLifetime: "number",
  logLevel: "string",
};

/** Deep-merges `over` into `base`, checking every key and type against SHAPE. */
function merge(base: any, over: any, shape: Shape, where: string): any {
  if (over === undefined || over === null) return base;
  if (typeof over !== "object" || Array.isArray(over)) throw new ConfigError(`${where || "config"}: must be a mapping`);
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const key = where ? `${where}.${k}` : k;
    const t = shape[k];
    if (t === undefined) throw new ConfigError(`${key}: unknown key; known keys: ${Object.keys(shape).join(", ")}`);
    if (typeof t === "object") out[k] = merge(base[k], v, t, key);
    else if (t === "number") {
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new ConfigError(`${key}: must be a non-negative number, got ${JSON.stringify(v)}`);
      out[k] = v;
    } else if (t === "strings") {
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new ConfigError(`${key}: must be a list of strings`);
      out[k] = v;
    } else if (t === "string?") {
      if (v !== null && typeof v !== "string") throw new ConfigError(`${key}: must be a string or null`);
      out[k] = v;
    } else {
      if (typeof v !== "string") throw new ConfigError(`${key}: must be a string`);
      out[k] = v;
    }
  }
  return out;
}

export function validateConfig(c: ServerConfig): ServerConfig {
  if (!["local", "slurm"].includes(c.executor)) throw new ConfigError(`executor: must be local or slurm, got '${c.executor}'`);
  if (!["none", "tokens", "oidc"].includes(c.auth)) throw new ConfigError(`auth: must be none, tokens or oidc, got '${c.auth}'`);
  if (!Number.isInteger(c.port) || c.port > 65535) throw new ConfigError(`port: must be an integer 0–65535, got ${c.port}`);
  if (c.local.concurrency < 1) throw new ConfigError("local.concurrency: must be ≥ 1");
  for (const [k, v] of Object.entries(c.connections))
    if (k !== "maxConnections" && !(v > 0)) throw new ConfigError(`connections.${k}: must be > 0 seconds, got ${v}`);
  if (!Number.isInteger(c.connections.maxConnections)) throw new ConfigError(`connections.maxConnections: must be an integer (0 = from the open-files limit)`);
  if (!(c.limits.valueKb > 0) || !(c.limits.bodyKb > 0) || !(c.limits.fields >= 1)) throw new ConfigError("limits: bodyKb and valueKb must be > 0, fields ≥ 1");
  if (c.connections.requestTimeout < c.connections.headersTimeout) throw new ConfigError("connections.requestTimeout: must be ≥ headersTimeout");
  if (c.auth === "tokens" && c.tokens.length === 0 && !c.tokensFile && !c.adminTokenFile)
    throw new ConfigError("auth tokens: give --token TOKEN=OWNER (repeatable), tokensFile or adminTokenFile");
  if (c.auth === "oidc") {
    if (!c.oidc.issuer) throw new ConfigError("oidc.issuer: required with auth oidc (--oidc-issuer URL)");
    if (!c.oidc.audience && !c.oidc.clientId) throw new ConfigError("oidc.audience: required with auth oidc (--oidc-audience ID)");
  }
  if (c.publicUrl) {
    try {
      new URL(c.publicUrl);
    } catch {
      throw new ConfigError(`publicUrl: '${c.publicUrl}' is not an absolute URL`);
    }
    c.publicUrl = c.publicUrl.replace(/\/+$/, "");
  }
  return c;
}

export function loadConfigFile(file: string, base: ServerConfig = DEFAULTS): ServerConfig {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError(`config ${file}: ${(e as Error).message}`);
  }
  const c = merge(base, doc ?? {}, SHAPE, "") as ServerConfig;
  // Relative paths in the file are relative to the file.
  const rel = (p: string | null) => (p && !isAbsolute(p) ? join(dirname(resolve(file)), p) : p);
  const d = doc as any;
  if (d?.data) c.data = rel(c.data)!;
  if (d?.workDir) c.workDir = rel(c.workDir);
  if (d?.definitions) c.definitions = rel(c.definitions);
  if (d?.apps) c.apps = rel(c.apps);
  return c;
}

export const FLAG_HELP = flagHelp();

const PARSE_OPTIONS = Object.fromEntries(
  RUNTIME_FLAGS.map((f) => [f.name, f.type === "boolean" ? { type: "boolean" as const } : { type: "string" as const, multiple: f.type === "list" }]),
);

function numFlag(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || v.trim() === "") throw new ConfigError(`--${name}: expected a non-negative number, got '${v}'`);
  return n;
}

/** Sets a dotted config key; lists are appended to (--token) or replace the file's (others). */
function setKey(c: ServerConfig, key: string, value: unknown): void {
  const path = key.split(".");
  let o: any = c;
  for (const k of path.slice(0, -1)) o = o[k];
  o[path[path.length - 1]!] = value;
}

/** Parses argv (without node and script) into a complete configuration. */
export function configFromArgs(argv: string[]): { config: ServerConfig; help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: PARSE_OPTIONS, strict: true, allowPositionals: false });
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}\n\n${FLAG_HELP}`);
  }
  const v = parsed.values as Record<string, string | string[] | boolean | undefined>;
  let c: ServerConfig = structuredClone(DEFAULTS);
  if (typeof v.config === "string") c = loadConfigFile(v.config, c);
  for (const f of RUNTIME_FLAGS) {
    const x = v[f.name];
    if (!f.key || x === undefined) continue;
    if (Array.isArray(x)) {
      // --token adds to the file's tokens; the other lists replace the file's.
      if (x.length) setKey(c, f.key, f.key === "tokens" ? [...c.tokens, ...x] : x);
    } else if (typeof x === "string") setKey(c, f.key, f.parse === "number" ? numFlag(f.name, x) : x);
  }
  return { config: validateConfig(c), help: v.help === true };
}

/** Fills a partial configuration (tests, embedding) with the defaults. */
/** A configuration with any key left out, nested ones included (tests, embedding). */
export type PartialConfig = Omit<Partial<ServerConfig>, "connections" | "limits" | "local" | "slurm"> & {
  connections?: Partial<ServerConfig["connections"]>;
  limits?: Partial<ServerConfig["limits"]>;
  local?: Partial<ServerConfig["local"]>;
  slurm?: Partial<ServerConfig["slurm"]>;
};

export function withDefaults(partial: PartialConfig): ServerConfig {
  const c = structuredClone(DEFAULTS);
  const p = partial as any;
  for (const [k, v] of Object.entries(p)) {
    if (v === undefined) continue;
    if (v && typeof v === "object" && !Array.isArray(v) && typeof (c as any)[k] === "object" && (c as any)[k] !== null) (c as any)[k] = { ...(c as any)[k], ...v };
    else (c as any)[k] = v;
  }
  return validateConfig(c);
}
