// Job provenance (runtime/provenance/): GET /uws/{definition}/{id}/provenance (also listed among the
// job's results as `provenance`), in PROV-JSON, PROV-N, PROV-XML or SVG by FORMAT or Accept; and the
// ProvSAP-style GET /provenance?ID=…&DEPTH=n|ALL&DIRECTION=BACK|FORTH&RESPONSEFORMAT=… over the jobs
// the caller may see. Same access rules as results: owners see their own jobs, the admin all.
// UWS_PROVENANCE=off in the environment turns it all off (the benchmark's baseline).
import { hostname } from "node:os";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { UwsError } from "../jobs/service.js";
import { ProvDoc } from "../provenance/model.js";
import { prefixes } from "../provenance/document.js";
import { formatNamed, MEDIA, negotiate, render, type Format } from "../provenance/formats.js";
import { gatherJobs, walk, type Direction } from "../provenance/query.js";
import type { JobRecord } from "../provenance/record.js";
import { ProvenanceService } from "../provenance/service.js";
import { ProvenanceDb } from "../store/provenance-db.js";
import { queryPairs } from "../uws/input.js";
import { RUNTIME_VERSION } from "../version.js";
import type { Job } from "../store/jobs-db.js";
import { loadJob } from "./context.js";

declare module "./context.js" {
  interface Uws {
    /** Set by the provenance plugin (absent with UWS_PROVENANCE=off). */
    provenance?: ProvenanceService;
  }
}

export function provenanceEnabled(): boolean {
  return !/^(off|0|false|no)$/i.test(process.env.UWS_PROVENANCE ?? "");
}

function param(req: FastifyRequest, name: string): string[] {
  const n = name.toLowerCase();
  return queryPairs(req.url)
    .filter(([k]) => k.toLowerCase() === n)
    .map(([, v]) => v);
}

/** FORMAT (or RESPONSEFORMAT) if given, else the Accept header. */
function chooseFormat(req: FastifyRequest, paramName: string): Format {
  const given = param(req, paramName);
  if (given.length > 1) throw new UwsError(400, `${paramName} given more than once`);
  if (given.length === 1) {
    const f = formatNamed(given[0]!);
    if (!f) throw new UwsError(400, `${paramName}: '${given[0]}' is not one of PROV-JSON, PROV-N, PROV-XML, SVG`);
    return f;
  }
  const f = negotiate(req.headers.accept);
  // 406 is not a UWS status: the error handler answers any 4xx error's statusCode with its message.
  if (!f) throw Object.assign(new Error(`none of the accepted types is served; provenance comes as ${Object.values(MEDIA).map((m) => m.split(";")[0]).join(", ")}`), { statusCode: 406 });
  return f;
}

function send(reply: FastifyReply, doc: ProvDoc, f: Format) {
  return reply.type(MEDIA[f]).header("vary", "Accept").send(render(doc, f));
}

export async function provenancePlugin(app: FastifyInstance): Promise<void> {
  if (!provenanceEnabled()) return;
  const { service, config } = app.uws;
  const base = (): string => {
    if (config.publicUrl) return config.publicUrl.replace(/\/+$/, "");
    const a = app.server.address();
    if (a && typeof a === "object") {
      const h = a.address === "0.0.0.0" || a.address === "::" ? hostname() : a.family === "IPv6" ? `[${a.address}]` : a.address;
      return `http://${h}:${a.port}`;
    }
    return `http://${config.host}:${config.port}`;
  };
  // provenance.sqlite beside the job database (written by the provenance worker thread), or the
  // in-memory job database itself.
  const jobsDb = service.db.db;
  const db = new ProvenanceDb(jobsDb.memory ? jobsDb : jobsDb.name);
  const moved = db.migrate();
  if (moved) app.log.info({ records: moved }, "provenance: records moved from the job database to provenance.sqlite");
  const prov = new ProvenanceService(service, db, {
    base,
    version: RUNTIME_VERSION,
    executor: service.executor.name,
    log: (m, extra) => app.log.warn(extra ?? {}, m),
  });
  service.finalHooks.push(prov.onFinal);
  service.resultListers.push(prov.listResult);
  app.uws.provenance = prov;
  // Before the job database closes (hooks run in order of registration): queued records are stored.
  app.addHook("onClose", async () => prov.close().catch((e) => app.log.warn({ err: e }, "provenance: records not stored at shutdown")));

  const recordOf = async (job: Job): Promise<JobRecord> => {
    const rec = await prov.record(job);
    if (!rec) throw new UwsError(404, `job '${job.id}' has no provenance yet: it is written when the job reaches a final phase (it is ${job.phase})`);
    return rec;
  };
  const jobProvenance = async (req: FastifyRequest, reply: FastifyReply) => {
    const { job } = loadJob(app, req);
    const f = chooseFormat(req, "FORMAT");
    return send(reply, prov.document(await recordOf(job)), f);
  };
  app.get("/uws/:def/:id/provenance", jobProvenance);
  // The `provenance` entry of the result list: a static route wins over /results/:rid.
  app.get("/uws/:def/:id/results/provenance", jobProvenance);

  app.get("/provenance", async (req, reply) => {
    const idsGiven = param(req, "ID").filter((s) => s.trim());
    if (!idsGiven.length) throw new UwsError(400, "ID is required (a job, result or parameter URL, a uws: identifier or a job id; repeatable)");
    const depthRaw = param(req, "DEPTH");
    const dirRaw = param(req, "DIRECTION");
    if (depthRaw.length > 1 || dirRaw.length > 1) throw new UwsError(400, "DEPTH and DIRECTION may be given once");
    let depth = Infinity;
    if (depthRaw.length && depthRaw[0]!.trim().toUpperCase() !== "ALL") {
      if (!/^\s*\d{1,6}\s*$/.test(depthRaw[0]!)) throw new UwsError(400, `DEPTH: '${depthRaw[0]}' is not a non-negative integer or ALL`);
      depth = Number(depthRaw[0]);
    }
    const direction = (dirRaw[0]?.trim().toUpperCase() ?? "BACK") as Direction;
    if (direction !== "BACK" && direction !== "FORTH") throw new UwsError(400, `DIRECTION: '${dirRaw[0]}' is not BACK or FORTH`);
    const f = chooseFormat(req, "RESPONSEFORMAT");

    // Records still being hashed (and their cross-job links) are stored first: the walk reads links.
    await prov.settle();
    const p = req.principal;
    const visibleJob = (id: string): Job | undefined => {
      const j = service.db.get(id);
      return j && (p.admin || j.owner === p.owner) ? j : undefined;
    };
    const b = base();
    const starts: Array<{ job: string; element: string | undefined }> = [];
    for (const raw of idsGiven) {
      const s = resolveId(raw.trim(), b);
      if (!s || !visibleJob(s.job)) throw new UwsError(404, `no provenance record with ID '${raw}' among your jobs`);
      starts.push(s);
    }
    const jobIds = gatherJobs(
      [...new Set(starts.map((s) => s.job))],
      depth,
      (id) => (direction === "BACK" ? prov.db.sources(id) : prov.db.consumers(id)),
      (id) => visibleJob(id) !== undefined,
    );
    const all = new ProvDoc(prefixes(b));
    for (const id of jobIds) {
      const j = visibleJob(id);
      const rec = j ? await prov.record(j) : undefined;
      if (rec) all.merge(prov.document(rec));
    }
    const startElements: string[] = [];
    for (const s of starts) {
      const j = visibleJob(s.job)!;
      const el = s.element === undefined || s.element.endsWith("/provenance") ? `uws:${j.definition}/${j.id}` : s.element;
      if (!all.has(el)) throw new UwsError(404, `no provenance record with ID '${s.element ?? s.job}' (the job may not have reached a final phase)`);
      startElements.push(el);
    }
    return send(reply, walk(all, startElements, depth, direction), f);
  });
}

/**
 * An ID as a job, result or parameter URL of this server (any host: the path decides), a `uws:`
 * qualified name, or a bare job id.
 */
function resolveId(raw: string, base: string): { job: string; element: string | undefined } | undefined {
  let local: string | undefined;
  if (raw.startsWith("uws:")) local = raw.slice(4);
  else if (raw.startsWith(base + "/uws/")) local = raw.slice(base.length + 5);
  else if (/^https?:\/\//i.test(raw)) {
    try {
      const m = /\/uws\/(.+)$/.exec(new URL(raw).pathname);
      local = m ? m[1] : undefined;
    } catch {
      return undefined;
    }
  } else if (/^[a-z0-9]{1,64}$/.test(raw)) return { job: raw, element: undefined };
  if (!local) return undefined;
  let parts: string[];
  try {
    parts = local.split("/").map((x) => decodeURIComponent(x));
  } catch {
    return undefined;
  }
  if (parts.length < 2 || !parts[1]) return undefined;
  const element = parts.length === 2 ? undefined : `uws:${parts.join("/")}`;
  return { job: parts[1], element };
}
