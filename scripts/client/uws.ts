/**
 * A small UWS 1.1 client for people and CI (`uws-cluster run`, `jobs`): submit a job with its
 * parameters and files, follow it with WAIT, download its results. Speaks to the job server's
 * JSON form (Accept: application/json) over any base URL: the cluster's own address, an SSH
 * tunnel to the head, or a public URL.
 */
import { createWriteStream, readFileSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CliError } from "../errors.js";

export interface UwsJob {
  jobId: string;
  phase: string;
  ownerId: string | null;
  creationTime: string;
  startTime: string | null;
  endTime: string | null;
  parameters: Record<string, string>;
  results: { id: string; href: string; size: number | null; mimeType: string }[];
  errorSummary: { type: string; message: string } | null;
}

export interface UwsDefinition {
  name: string;
  description: string;
  parameters: { name: string; type: string; required: boolean }[];
}

export const FINAL_PHASES = ["COMPLETED", "ERROR", "ABORTED", "ARCHIVED"];
const ACTIVE = ["PENDING", "QUEUED", "EXECUTING", "HELD", "SUSPENDED", "UNKNOWN"];

export class UwsClient {
  constructor(readonly base: string, private readonly token: string | undefined) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { accept: "application/json", ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    const url = path.startsWith("http") ? path : `${this.base}${path}`;
    let r: Response;
    try {
      r = await fetch(url, { redirect: "manual", ...init, headers: { ...this.headers(), ...(init.headers as Record<string, string> | undefined) } });
    } catch (e) {
      throw new CliError(`cannot reach the job server at ${this.base}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
    }
    if (r.status === 401 || r.status === 403) throw new CliError(`the job server refused the request (${r.status}): ${(await r.text()).trim().slice(0, 300)} — check the token`);
    return r;
  }

  async definitions(): Promise<UwsDefinition[]> {
    const r = await this.request("/uws");
    if (!r.ok) throw new CliError(`GET /uws: ${r.status} ${(await r.text()).slice(0, 300)}`);
    return ((await r.json()) as { definitions: UwsDefinition[] }).definitions;
  }

  /** Creates and starts a job; a 400 names the parameter the server refused. Returns the job id. */
  async submit(definition: string, params: Record<string, string>, files: Record<string, string>): Promise<string> {
    let body: FormData | URLSearchParams;
    if (Object.keys(files).length) {
      const form = new FormData();
      for (const [k, v] of Object.entries(params)) form.append(k, v);
      for (const [k, path] of Object.entries(files)) form.append(k, new Blob([readFileSync(path)]), basename(path));
      form.append("PHASE", "RUN");
      body = form;
    } else {
      body = new URLSearchParams({ ...params, PHASE: "RUN" });
    }
    const r = await this.request(`/uws/${encodeURIComponent(definition)}`, { method: "POST", body });
    if (r.status === 404) throw new CliError(`no application job "${definition}" on this job server; see uws-cluster apps list`);
    if (r.status !== 303) throw new CliError(`the job server refused the job (${r.status}): ${(await r.text()).trim().slice(0, 500)}`, 2, "usage");
    const location = r.headers.get("location") ?? "";
    return location.replace(/\/+$/, "").split("/").pop()!;
  }

  async job(definition: string, id: string, waitSeconds?: number, phase?: string): Promise<UwsJob> {
    const q = waitSeconds !== undefined ? `?WAIT=${waitSeconds}${phase ? `&PHASE=${phase}` : ""}` : "";
    const r = await this.request(`/uws/${encodeURIComponent(definition)}/${encodeURIComponent(id)}${q}`);
    if (!r.ok) throw new CliError(`GET job ${id}: ${r.status} ${(await r.text()).slice(0, 300)}`);
    return (await r.json()) as UwsJob;
  }

  /** Follows a job until it is final; `onPhase` sees each phase once. Bounded by `timeoutMs`. */
  async follow(definition: string, id: string, onPhase: (job: UwsJob) => void, timeoutMs: number): Promise<UwsJob> {
    const deadline = Date.now() + timeoutMs;
    let job = await this.job(definition, id);
    onPhase(job);
    while (!FINAL_PHASES.includes(job.phase)) {
      const left = Math.ceil((deadline - Date.now()) / 1000);
      if (left <= 0) throw new CliError(`job ${id} is still ${job.phase} after ${Math.round(timeoutMs / 1000)} s (--timeout); it goes on: uws-cluster jobs`);
      // WAIT returns at the next phase change (or after the wait), so this loop follows every change.
      const next = await this.job(definition, id, Math.min(left, 30), ACTIVE.includes(job.phase) ? job.phase : undefined);
      if (next.phase !== job.phase) onPhase(next);
      job = next;
    }
    return job;
  }

  /** Every result into `dir`, named after the result id (and its file name's extension). */
  async download(definition: string, job: UwsJob, dir: string): Promise<{ id: string; file: string; size: number }[]> {
    await mkdir(dir, { recursive: true });
    const out: { id: string; file: string; size: number }[] = [];
    for (const res of job.results) {
      // The server's own links carry its public address: fetch through the base this client uses.
      const r = await this.request(`/uws/${encodeURIComponent(definition)}/${encodeURIComponent(job.jobId)}/results/${encodeURIComponent(res.id)}`);
      if (!r.ok || !r.body) throw new CliError(`result ${res.id} of job ${job.jobId}: ${r.status}`);
      const file = join(dir, fileName(res.id, res.mimeType));
      await pipeline(Readable.fromWeb(r.body as import("node:stream/web").ReadableStream), createWriteStream(file));
      out.push({ id: res.id, file, size: statSync(file).size });
    }
    return out;
  }

  async list(definition: string, last: number, phases: string[]): Promise<{ id: string; phase: string; creationTime: string; ownerId: string | null; runId: string | null }[]> {
    const q = new URLSearchParams({ LAST: String(last) });
    for (const p of phases) q.append("PHASE", p);
    const r = await this.request(`/uws/${encodeURIComponent(definition)}?${q}`);
    if (!r.ok) throw new CliError(`GET /uws/${definition}: ${r.status} ${(await r.text()).slice(0, 300)}`);
    const body = (await r.json()) as { jobs: { id: string; phase: string; creationTime: string; ownerId: string | null; runId: string | null }[] };
    return body.jobs;
  }
}

const EXTENSIONS: Record<string, string> = {
  "text/plain": ".txt", "text/csv": ".csv", "application/json": ".json", "application/xml": ".xml", "text/xml": ".xml",
  "application/x-votable+xml": ".vot", "image/png": ".png", "image/jpeg": ".jpg", "image/svg+xml": ".svg", "application/fits": ".fits",
};

/** A file name for a result: its id (made safe), with the extension of its MIME type unless the id has one. */
export function fileName(id: string, mimeType: string): string {
  const safe = id.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_");
  const ext = EXTENSIONS[mimeType.split(";")[0]!.trim()] ?? "";
  return safe.endsWith(ext) ? safe : safe + ext;
}
