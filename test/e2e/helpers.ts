/** Helpers for end-to-end tests of local clusters: `up` and what it leaves to read, UWS over HTTP, the job server bundle. */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { parseSpec, resolveCluster, type Cluster } from "../../stacks/model/index.js";
import { JOB_SERVER_BUNDLE, REPO_ROOT } from "../../scripts/deploy/bundle.js";
import type { ClusterState } from "../../scripts/state/store.js";
import { cli, type CliResult } from "../harness/cli.js";
import { namespaceIds } from "../harness/leftovers.js";

export interface LocalUp {
  run: CliResult;
  /** The last JSON line of `up` (its result); {} when there is none. */
  final: Record<string, unknown>;
  /** The model `up` stored, else the spec file's. */
  cluster: Cluster;
  /** The admin token ("" when `up` did not get to write it). */
  token: string;
  url: string;
  /** The cluster's network namespaces while it is up, for the leftovers check after `down`. */
  ns: string[];
}

/** `up --spec FILE --json`, then what the tests read back from the state dir. Never throws for a failed `up`. */
export async function upLocal(state: ClusterState, specFile: string, env: NodeJS.ProcessEnv): Promise<LocalUp> {
  const run = await cli(["up", "--spec", specFile, "--json"], env);
  const final = run.json.at(-1) ?? {};
  const cluster = state.readJson<Cluster>("model.json") ?? resolveCluster(parseSpec(readFileSync(specFile, "utf8"), specFile));
  const tokenFile = state.path("secrets/jobserver.admin-token");
  const token = existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : "";
  return { run, final, cluster, token, url: String(final.url ?? ""), ns: namespaceIds(cluster) };
}

/** The job server bundle the local target starts: built by the project's own script when missing. */
export function ensureBundle(): void {
  if (existsSync(JOB_SERVER_BUNDLE)) return;
  const pkg = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, "utf8")) as { scripts: Record<string, string> };
  if (!pkg.scripts["build:runtime"]) throw new Error(`${JOB_SERVER_BUNDLE} is missing and package.json has no build:runtime script`);
  const r = spawnSync("npm", ["run", "-s", "build:runtime"], { cwd: REPO_ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`npm run build:runtime failed: ${r.stderr}`);
}

export interface Job {
  url: string;
  id: string;
}

export async function submit(base: string, token: string, job: string, params: Record<string, string> = {}): Promise<Job> {
  const body = new URLSearchParams({ ...params, PHASE: "RUN" });
  const r = await fetch(`${base}/uws/${job}`, { method: "POST", redirect: "manual", headers: { authorization: `Bearer ${token}` }, body });
  if (r.status !== 303) throw new Error(`POST /uws/${job}: ${r.status} ${await r.text()}`);
  const url = new URL(r.headers.get("location")!, `${base}/`).toString();
  return { url, id: url.split("/").pop()! };
}

/** Waits (UWS WAIT, bounded) until the job is in a final phase; returns phase and the job document. */
export async function finish(job: Job, token: string, limitMs = 60_000): Promise<{ phase: string; xml: string; message: string | null }> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const r = await fetch(`${job.url}?WAIT=10`, { headers: { authorization: `Bearer ${token}` } });
    const xml = await r.text();
    const phase = /<uws:phase>(\w+)<\/uws:phase>/.exec(xml)?.[1] ?? "";
    if (["COMPLETED", "ERROR", "ABORTED"].includes(phase)) return { phase, xml, message: /<uws:message>([\s\S]*?)<\/uws:message>/.exec(xml)?.[1] ?? null };
    if (Date.now() > deadline) throw new Error(`job ${job.id} still ${phase} after ${limitMs} ms`);
  }
}

export async function phaseOf(job: Job, token: string): Promise<string> {
  const r = await fetch(`${job.url}/phase`, { headers: { authorization: `Bearer ${token}` } });
  return (await r.text()).trim();
}

export async function result(job: Job, token: string, name: string): Promise<string> {
  const r = await fetch(`${job.url}/results/${name}`, { headers: { authorization: `Bearer ${token}` } });
  if (!r.ok) throw new Error(`result ${name} of ${job.id}: ${r.status}`);
  return r.text();
}
