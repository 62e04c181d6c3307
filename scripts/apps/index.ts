/**
 * Applications: the users' own job definitions, deployed with the cluster. An application is a
 * folder holding `app.yaml` (what its jobs need on the nodes) and job definitions in the job
 * server's YAML format with their scripts and data. Checked here with the job server's own parser
 * before anything is created; pushed to the head's shared filesystem as one version folder each.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { parse as parseYaml } from "yaml";
import { APP_MANIFEST, DefinitionError, loadDefinitions } from "../../runtime/jobdefs/definition.js";
import type { Cluster, ClusterApp } from "../../stacks/model/index.js";
import { JOB_SERVER_BUNDLE, REPO_ROOT } from "../deploy/bundle.js";
import { UsageError } from "../errors.js";
import type { PushFile } from "../ssh/index.js";
import type { ClusterState } from "../state/store.js";

export interface AppBundle {
  name: string;
  description: string;
  /** Debian packages its jobs need on every compute node. */
  packages: string[];
  /** A pip requirements file (relative to the folder), installed into `<version>/.venv` on the shared filesystem. */
  requirements?: string;
  /** Job definitions by name, with the file each comes from. */
  definitions: { name: string; description: string; file: string }[];
  files: { rel: string; abs: string; executable: boolean }[];
  /** Content hash of every file: names the version folder on the head. */
  version: string;
  source: string;
}

const DEB_PACKAGE = /^[a-z0-9][a-z0-9+.-]+$/;
/** What never travels to the cluster: VCS data, caches, local environments. */
const SKIP = new Set([".git", "__pycache__", ".venv", "node_modules", ".pytest_cache"]);

function fail(file: string, field: string, message: string): never {
  throw new UsageError(`${file}: ${field}: ${message}`, "app");
}

/** Reads and checks one application folder; every error names the file and the field. */
export function loadApp(app: ClusterApp): AppBundle {
  const manifest = join(app.source, APP_MANIFEST);
  if (!existsSync(app.source) || !statSync(app.source).isDirectory()) fail(app.source, "apps", "is not a folder: fix the path in the spec's apps list (relative to the spec file)");
  if (!existsSync(manifest)) fail(manifest, "(file)", `is missing: an application folder holds ${APP_MANIFEST} (description, packages) beside its job definitions`);
  let doc: Record<string, unknown>;
  try {
    doc = (parseYaml(readFileSync(manifest, "utf8")) ?? {}) as Record<string, unknown>;
  } catch (e) {
    fail(manifest, "(file)", `not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (typeof doc !== "object" || Array.isArray(doc)) fail(manifest, "(file)", "must be a mapping with description and packages");
  for (const k of Object.keys(doc)) if (!["description", "packages", "python"].includes(k)) fail(manifest, k, "unknown key; an app.yaml has description, packages and python");
  const description = doc.description === undefined ? "" : typeof doc.description === "string" ? doc.description : fail(manifest, "description", "must be a string");
  const packages = doc.packages === undefined ? [] : Array.isArray(doc.packages) ? doc.packages : fail(manifest, "packages", "must be a list of Debian package names");
  packages.forEach((p, i) => { if (typeof p !== "string" || !DEB_PACKAGE.test(p)) fail(manifest, `packages[${i}]`, `must be a Debian package name such as python3-astropy, got ${JSON.stringify(p)}`); });

  let requirements: string | undefined;
  if (doc.python !== undefined) {
    const py = doc.python as Record<string, unknown>;
    if (!py || typeof py !== "object" || Array.isArray(py)) fail(manifest, "python", "must be a mapping: { requirements: requirements.txt }");
    for (const k of Object.keys(py)) if (k !== "requirements") fail(manifest, `python.${k}`, "unknown key; python has requirements");
    const r = py.requirements;
    if (typeof r !== "string" || !r || r.startsWith("/") || r.split("/").includes("..")) fail(manifest, "python.requirements", "must be a file in the application folder, e.g. requirements.txt");
    if (!existsSync(join(app.source, r)) || !statSync(join(app.source, r)).isFile()) fail(manifest, "python.requirements", `${join(app.source, r)} does not exist`);
    requirements = r;
  }

  let defs;
  try {
    defs = loadDefinitions(app.source, { skip: [APP_MANIFEST] });
  } catch (e) {
    if (e instanceof DefinitionError) throw new UsageError(e.message, "app");
    throw e;
  }
  const files = listFiles(app.source);
  const hash = createHash("sha256");
  for (const f of files) hash.update(`${f.rel}\0${f.executable ? 1 : 0}\0`).update(readFileSync(f.abs)).update("\0");
  return {
    name: app.name, description, packages: packages as string[], source: app.source, ...(requirements ? { requirements } : {}),
    definitions: [...defs.values()].map((d) => ({ name: d.name, description: d.description, file: relative(app.source, d.file) })),
    files, version: hash.digest("hex").slice(0, 12),
  };
}

/** Every application of the cluster, checked; definition names must be unique across them and the shipped ones. */
export function loadApps(cluster: Cluster, shipped: string[] = []): AppBundle[] {
  const apps = cluster.apps.map(loadApp);
  const seen = new Map<string, string>(shipped.map((n) => [n, "the job server's shipped definitions"]));
  for (const a of apps) {
    for (const d of a.definitions) {
      const other = seen.get(d.name);
      if (other) fail(join(a.source, d.file), "name", `'${d.name}' is also defined by ${other}; rename one`);
      seen.set(d.name, `application ${a.name}`);
    }
  }
  return apps;
}

/** Debian packages on the nodes for Python virtual environments (venv and pip come with python3-venv). */
export const VENV_PACKAGES = ["python3-venv"];

/** The Debian packages every application needs, each once (python3-venv when one has requirements). */
export function appPackages(apps: AppBundle[]): string[] {
  return [...new Set([...apps.flatMap((a) => a.packages), ...(apps.some((a) => a.requirements) ? VENV_PACKAGES : [])])].sort();
}

/** Where a version of an application lives on the head; `<appsDir>/<name>` links to the current one. */
export function versionDir(cluster: Cluster, app: AppBundle): string {
  return `${cluster.jobserver.appsDir}/.versions/${app.name}-${app.version}`;
}

/** The application's files as pushed to its version folder (readable by the job server's user). */
export function appFiles(cluster: Cluster, app: AppBundle): PushFile[] {
  return app.files.map((f) => ({ path: `${versionDir(cluster, app)}/${f.rel}`, content: readFileSync(f.abs), owner: "root:root", mode: f.executable ? "0755" : "0644" }));
}

function listFiles(dir: string): { rel: string; abs: string; executable: boolean }[] {
  const out: { rel: string; abs: string; executable: boolean }[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (SKIP.has(e.name)) continue;
      const abs = join(d, e.name);
      if (e.isDirectory()) walk(abs);
      else if (e.isFile()) out.push({ rel: relative(dir, abs), abs, executable: (statSync(abs).mode & 0o111) !== 0 });
      else if (e.isSymbolicLink()) throw new UsageError(`${abs}: a symbolic link; applications are pushed as plain files: replace it with the file`, "app");
    }
  };
  walk(dir);
  return out;
}

/** Names of the job server's shipped definitions (an application may not reuse them). */
export function shippedDefinitionNames(): string[] {
  for (const dir of [join(dirname(JOB_SERVER_BUNDLE), "definitions"), join(REPO_ROOT, "runtime/definitions")]) {
    if (existsSync(dir)) return [...loadDefinitions(dir).keys()];
  }
  return [];
}

/** What `up` and `apps push` deployed, as recorded in the state dir. */
export interface DeployedApp {
  name: string;
  version: string;
  source: string;
  packages: string[];
  definitions: string[];
  pushedAt: string;
}

const APPS_FILE = "apps.json";

export function recordApps(state: ClusterState, apps: AppBundle[], now = new Date()): DeployedApp[] {
  const at = now.toISOString().replace(/\.\d+Z$/, "Z");
  const record = apps.map((b) => ({ name: b.name, version: b.version, source: b.source, packages: b.packages, definitions: b.definitions.map((d) => d.name), pushedAt: at }));
  state.writeJson(APPS_FILE, record);
  return record;
}

export function deployedApps(state: ClusterState): DeployedApp[] {
  return state.readJson<DeployedApp[]>(APPS_FILE) ?? [];
}
