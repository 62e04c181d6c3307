/**
 * The readiness gate, shared by every target: a cluster is ready when (1) every expected Slurm node
 * is idle, as `sinfo` on the head reports over SSH, (2) the job server answers its health endpoint,
 * and (3) a canary UWS job submitted over HTTP ran on a compute node and COMPLETED. Each check is
 * bounded; a failure names the check and the node (or job) and leaves the cluster as it is.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { SshHost, SshPool } from "../ssh/index.js";
import { EXIT } from "../errors.js";
import { NodeError, type Progress } from "../progress/index.js";

export interface ReadinessInput {
  pool: SshPool;
  /** SSH door to the head (sinfo runs there). */
  head: SshHost;
  /** Slurm node names that must be idle. */
  slurmNodes: string[];
  /** Nodes the canary may run on (default slurmNodes): an elastic cluster's canary powers one up. */
  canaryNodes?: string[];
  /** Job server base URL as reached from here, e.g. http://10.0.0.10:8080. */
  url: string;
  /** Bearer token for the canary job. */
  token: string;
  /** The job definition of the canary: its result `node` names the Slurm node it ran on. */
  canaryJob?: string;
  limits?: Partial<ReadinessLimits>;
  progress: Progress;
}

export interface ReadinessLimits {
  slurmMs: number;
  healthMs: number;
  canaryMs: number;
}

const DEFAULT_LIMITS: ReadinessLimits = { slurmMs: 60_000, healthMs: 30_000, canaryMs: 60_000 };

export interface ReadinessReport {
  slurm: Record<string, string>;
  canary: { jobId: string; phase: string; node: string; ms: number };
}

export async function readinessGate(input: ReadinessInput): Promise<ReadinessReport> {
  const limits = { ...DEFAULT_LIMITS, ...input.limits };
  const { progress: p } = input;
  const slurm = await p.step(`Waiting ≤ ${limits.slurmMs / 1000}s for Slurm nodes = idle`, () => slurmIdle(input, limits.slurmMs), EXIT.notReady);
  await p.step(`Waiting ≤ ${limits.healthMs / 1000}s for the job server at ${input.url}`, () => health(input.url, limits.healthMs), EXIT.notReady);
  const canary = await p.step(`Running a canary job (≤ ${limits.canaryMs / 1000}s)`, () => runCanary(input, limits.canaryMs), EXIT.notReady);
  return { slurm, canary };
}

/** Node states from `sinfo` (`idle`, `down*`, `unknown`...). */
export async function slurmStates(pool: SshPool, head: SshHost): Promise<Record<string, string>> {
  const out = await pool.run(head, ["sinfo", "--noheader", "--Node", "--format=%N %T"], { timeoutMs: 10_000 });
  const states: Record<string, string> = {};
  for (const line of out.trim().split("\n")) {
    const [name, state] = line.trim().split(/\s+/);
    if (name && state) states[name] = state;
  }
  return states;
}

async function slurmIdle(input: ReadinessInput, limitMs: number): Promise<Record<string, string>> {
  const deadline = Date.now() + limitMs;
  const seen = new Set<string>();
  let states: Record<string, string> = {};
  let lastError: Error | undefined;
  let wait = 50;
  for (;;) {
    try {
      states = await slurmStates(input.pool, input.head);
      lastError = undefined;
    } catch (e) {
      lastError = e as Error; // slurmctld may not answer yet
    }
    for (const n of input.slurmNodes) {
      if (!seen.has(n) && states[n] === "idle") { seen.add(n); input.progress.node(n, "ok", "idle"); }
    }
    if (seen.size === input.slurmNodes.length) return states;
    if (Date.now() + wait > deadline) {
      const bad = input.slurmNodes.filter((n) => !seen.has(n));
      for (const n of bad) input.progress.node(n, "fail", states[n] ?? "not registered");
      if (lastError) throw new NodeError(input.head.name, `slurmctld did not answer: ${lastError.message}`);
      throw new NodeError(bad[0]!, `Slurm node${bad.length > 1 ? "s" : ""} not idle after ${limitMs / 1000}s: ${bad.map((n) => `${n}=${states[n] ?? "not registered"}`).join(", ")}`);
    }
    await sleep(wait);
    wait = Math.min(wait * 2, 500);
  }
}

/** Waits until the job server answers GET /health with 200 (backing off up to 0.5 s), bounded. */
export async function health(url: string, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  let last = "";
  let wait = 50;
  for (;;) {
    try {
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
    }
    if (Date.now() + wait > deadline) throw new Error(`${url}/health did not answer 200 within ${limitMs / 1000}s (last: ${last})`);
    await sleep(wait);
    wait = Math.min(wait * 2, 500);
  }
}

const FINAL = new Set(["COMPLETED", "ERROR", "ABORTED", "ARCHIVED"]);

/** Submits the canary job over HTTP and waits for it; its `node` result must be one of the Slurm nodes. */
async function runCanary(input: ReadinessInput, limitMs: number): Promise<ReadinessReport["canary"]> {
  const t0 = Date.now();
  const job = input.canaryJob ?? "node-info";
  const auth = { authorization: `Bearer ${input.token}` };
  const res = await fetch(`${input.url}/uws/${job}`, {
    method: "POST", redirect: "manual", headers: { ...auth, "content-type": "application/x-www-form-urlencoded" }, body: "PHASE=RUN",
    signal: AbortSignal.timeout(10_000),
  });
  const loc = res.headers.get("location");
  if (res.status !== 303 || !loc) throw new Error(`POST ${input.url}/uws/${job} answered ${res.status} without a job location: ${(await res.text()).slice(0, 300)}`);
  // The job server names the job by its public URL (https://<floating IP>/… behind nginx, with a
  // self-signed certificate by default): the canary follows the job's path through the door it
  // came in by (the SSH tunnel on booted machines), never the public address.
  const located = new URL(loc, `${input.url}/`);
  const jobUrl = new URL(`${located.pathname}${located.search}`, `${input.url}/`).toString();
  const jobId = jobUrl.split("/").pop()!;
  let phase = "";
  let xml = "";
  const deadline = t0 + limitMs;
  while (!FINAL.has(phase)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`canary job ${jobId} still ${phase || "unknown"} after ${limitMs / 1000}s (${jobUrl})`);
    const wait = Math.max(1, Math.min(30, Math.floor(left / 1000)));
    const r = await fetch(`${jobUrl}?WAIT=${wait}`, { headers: auth, signal: AbortSignal.timeout((wait + 10) * 1000) });
    if (!r.ok) throw new Error(`GET ${jobUrl} answered ${r.status}`);
    xml = await r.text();
    phase = /<uws:phase>\s*(\w+)\s*<\/uws:phase>/.exec(xml)?.[1] ?? "";
  }
  if (phase !== "COMPLETED") {
    const msg = /<uws:message>([\s\S]*?)<\/uws:message>/.exec(xml)?.[1]?.trim();
    throw new Error(`canary job ${jobId} ended ${phase}${msg ? `: ${msg.slice(0, 300)}` : ""} (${jobUrl})`);
  }
  const nodeRes = await fetch(`${jobUrl}/results/node`, { headers: auth });
  if (!nodeRes.ok) throw new Error(`canary job ${jobId}: result "node" answered ${nodeRes.status}`);
  const node = (await nodeRes.text()).trim();
  const allowed = input.canaryNodes ?? input.slurmNodes;
  if (!allowed.includes(node)) throw new Error(`canary job ${jobId} ran on "${node}", which is not one of the compute nodes ${allowed.join(", ")}`);
  input.progress.node(node, "ok", `canary ${jobId} COMPLETED`);
  return { jobId, phase, node, ms: Date.now() - t0 };
}
