// What every route plugin shares: the one `app.uws` decoration (service, configuration) and the
// small request helpers built on it (links, loading a job the caller may see, 303 answers).
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hostname } from "node:os";
import type { ServerConfig } from "../config.js";
import type { ConnectionGuard } from "../connections.js";
import type { JobDefinition } from "../jobdefs/definition.js";
import { UwsError, type JobService } from "../jobs/service.js";
import type { Principal } from "../auth/principal.js";
import type { Job } from "../store/jobs-db.js";
import type { Hrefs } from "../uws/xml.js";
import type { InputLimits } from "../uws/input.js";

/** The decoration every plugin reads: `app.uws`. */
export interface Uws {
  service: JobService;
  config: ServerConfig;
  /** Active jobs reconciled with the executor at start. */
  reconciled: number;
  /** Key of the per-job callback secrets. */
  callbackKey: Buffer;
  /** Connection bounds in force, with counts of what they closed. */
  connections: ConnectionGuard;
  /** Base of every link (see baseUrl). */
  baseUrl(): string;
}

declare module "fastify" {
  interface FastifyInstance {
    uws: Uws;
  }
  interface FastifyRequest {
    principal: Principal;
  }
}

/** The input limits of the configuration, for readInput/readQuery. */
export function inputLimits(c: ServerConfig): InputLimits {
  return { fileMb: c.uploadLimitMb, valueBytes: Math.floor(c.limits.valueKb * 1024), fields: c.limits.fields, fileUrlHosts: c.fileUrlHosts };
}

export const XML = "text/xml; charset=utf-8";
export const TEXT = "text/plain; charset=utf-8";

/**
 * The base of every link and 303 Location: the configured public URL, else the address the server
 * listens on (the host's name when it listens on every address). Never the client's Host header:
 * a forged Host would otherwise steer Locations and hrefs (and, behind a cache, other clients).
 */
export function baseUrl(app: FastifyInstance, c: ServerConfig): string {
  if (c.publicUrl) return c.publicUrl;
  const a = app.server.address();
  const port = a && typeof a === "object" ? a.port : c.port;
  let host = a && typeof a === "object" ? a.address : c.host;
  if (host === "0.0.0.0" || host === "::") host = hostname();
  else if (host.includes(":")) host = `[${host}]`;
  return `http://${host}:${port}`;
}

/** Absolute links under baseUrl. */
export function links(app: FastifyInstance, _req?: FastifyRequest) {
  const base = app.uws.baseUrl();
  const list = (def: string) => `${base}/uws/${encodeURIComponent(def)}`;
  const job = (j: { definition: string; id: string }) => `${list(j.definition)}/${encodeURIComponent(j.id)}`;
  const hrefs = (j: Job): Hrefs => {
    const u = job(j);
    return { param: (n) => `${u}/parameters/${encodeURIComponent(n)}`, result: (r) => `${u}/results/${encodeURIComponent(r)}`, results: app.uws.service.servedResults(j) };
  };
  return { list, job, hrefs };
}

export function wantsJson(req: FastifyRequest): boolean {
  const a = req.headers.accept ?? "";
  return a.includes("application/json") && !a.includes("xml");
}

/** The job definition named in the path (`:def`). */
export function definitionOf(app: FastifyInstance, req: FastifyRequest): JobDefinition {
  const name = (req.params as { def: string }).def;
  const def = app.uws.service.definitions.get(name);
  if (!def) throw new UwsError(404, `no job definition '${name}'; see GET /uws for the list`);
  return def;
}

/** The job named in the path (`:def/:id`), if the caller may see it. */
export function loadJob(app: FastifyInstance, req: FastifyRequest): { def: JobDefinition; job: Job } {
  const def = definitionOf(app, req);
  const id = (req.params as { id: string }).id;
  const job = app.uws.service.db.get(id);
  if (!job || job.definition !== def.name) throw new UwsError(404, `no job '${id}' in /uws/${def.name}`);
  const p = req.principal;
  if (!p.admin && job.owner !== p.owner) throw new UwsError(403, `job '${id}' belongs to another owner`);
  return { def, job };
}

/** 303 to url; `note` (a value the server changed, such as a clamped duration) goes in the body and a UWS-Note header. */
export const seeOther = (reply: FastifyReply, url: string, note?: string) => {
  if (note) reply.header("uws-note", note);
  return reply.code(303).header("location", url).type(TEXT).send(`See ${url}\n${note ? `${note}\n` : ""}`);
};

/**
 * EXECUTIONDURATION is capped by the definition's maxDuration: 0 (unlimited in UWS) and larger
 * values become that maximum. The answer says so rather than changing the value silently.
 */
export function durationNote(def: JobDefinition, asked: number | undefined, granted: number): string | undefined {
  if (asked === undefined || asked === granted) return undefined;
  return `EXECUTIONDURATION: ${asked === 0 ? "0 (unlimited)" : `${asked} s`} is above the maximum of definition '${def.name}' (maxDuration); set to ${granted} s`;
}
export const text = (reply: FastifyReply, s: string) => reply.type(TEXT).send(s);
