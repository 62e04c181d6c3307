// The UWS 1.1 resource tree under /uws: one job list per definition, every job sub-resource.
// Every change answers 303 to a resource that answers 2xx; errors are plain text.
import { createReadStream, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { JobDefinition } from "../jobdefs/definition.js";
import { resolveParams, uploadPath } from "../jobdefs/params.js";
import type { Job, Phase } from "../store/jobs-db.js";
import { UwsError, type JobService, newJobId } from "../jobs/service.js";
import type { Principal } from "../auth/principal.js";
import { one, parseFutureTime, parseNonNegInt, parsePhase, parseTime, queryPairs, readInput, splitControls } from "./input.js";
import { iso } from "./time.js";
import { jobJson, jobXml, jobsXml, parametersXml, resultsXml, type Hrefs } from "./xml.js";

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal;
  }
}

export interface UwsRouteOptions {
  service: JobService;
  publicUrl: string | null;
  /** Seconds; WAIT=-1 and larger values mean this. */
  maxWait: number;
  /** Per-file upload limit, MB (for the 413 message; the multipart plugin enforces it). */
  uploadLimitMb: number;
}

const XML = "text/xml; charset=utf-8";
const TEXT = "text/plain; charset=utf-8";
const WAITABLE: Phase[] = ["PENDING", "QUEUED", "EXECUTING"];

export async function uwsRoutes(app: FastifyInstance, opts: UwsRouteOptions): Promise<void> {
  const { service } = opts;
  const defs = service.definitions;

  const base = (req: FastifyRequest) => opts.publicUrl ?? `${req.protocol}://${req.headers.host ?? "localhost"}`;
  const listUrl = (req: FastifyRequest, def: string) => `${base(req)}/uws/${encodeURIComponent(def)}`;
  const jobUrl = (req: FastifyRequest, job: { definition: string; id: string }) => `${listUrl(req, job.definition)}/${encodeURIComponent(job.id)}`;
  const hrefs = (req: FastifyRequest, job: Job): Hrefs => {
    const u = jobUrl(req, job);
    return { param: (n) => `${u}/parameters/${encodeURIComponent(n)}`, result: (r) => `${u}/results/${encodeURIComponent(r)}` };
  };
  const wantsJson = (req: FastifyRequest) => {
    const a = req.headers.accept ?? "";
    return a.includes("application/json") && !a.includes("xml");
  };

  function definition(req: FastifyRequest): JobDefinition {
    const name = (req.params as { def: string }).def;
    const def = defs.get(name);
    if (!def) throw new UwsError(404, `no job definition '${name}'; see GET /uws for the list`);
    return def;
  }

  function loadJob(req: FastifyRequest): { def: JobDefinition; job: Job } {
    const def = definition(req);
    const id = (req.params as { id: string }).id;
    const job = service.db.get(id);
    if (!job || job.definition !== def.name) throw new UwsError(404, `no job '${id}' in /uws/${def.name}`);
    const p = req.principal;
    if (!p.admin && job.owner !== p.owner) throw new UwsError(403, `job '${id}' belongs to another owner`);
    return { def, job };
  }

  const seeOther = (reply: FastifyReply, url: string) => reply.code(303).header("location", url).type(TEXT).send(`See ${url}\n`);
  const text = (reply: FastifyReply, s: string) => reply.type(TEXT).send(s);

  // ---- definitions -----------------------------------------------------------------------------
  app.get("/uws", async (req) => ({
    definitions: [...defs.values()].map((d) => ({
      name: d.name,
      description: d.description,
      href: listUrl(req, d.name),
      parameters: d.parameters.map((p) => ({
        name: p.name,
        type: p.type,
        required: p.required,
        default: p.default ?? null,
        min: p.min ?? null,
        max: p.max ?? null,
        maxLength: p.maxLength ?? null,
        pattern: p.pattern?.source ?? null,
        values: p.values ?? null,
        description: p.description ?? null,
      })),
      results: d.results.map((r) => ({ name: r.name, mimeType: r.mimeType })),
      resources: { cpus: d.cpus, memoryMb: d.memoryMb, maxDuration: d.maxDuration },
    })),
  }));

  // ---- job list ----------------------------------------------------------------------------------
  app.get("/uws/:def", async (req, reply) => {
    const def = definition(req);
    const input = splitControls(queryPairs(req.url));
    const phases = (input.controls.get("PHASE") ?? []).map((v) => parsePhase(v));
    const afterRaw = one(input, "AFTER");
    const lastRaw = one(input, "LAST");
    const after = afterRaw === undefined ? undefined : parseTime(afterRaw, "AFTER");
    const last = lastRaw === undefined ? undefined : parseNonNegInt(lastRaw, "LAST");
    const p = req.principal;
    const rows = service.db.list({ definition: def.name, owner: p.admin ? undefined : p.owner, phases: phases.length ? [...new Set(phases)] : undefined, after, last });
    if (wantsJson(req))
      return { jobs: rows.map((r) => ({ id: r.id, href: jobUrl(req, { definition: def.name, id: r.id }), phase: r.phase, runId: r.runId, ownerId: r.owner, creationTime: iso(r.created) })) };
    const prefix = listUrl(req, def.name) + "/";
    return reply.type(XML).send(jobsXml(rows, (id) => prefix + encodeURIComponent(id)));
  });

  app.post("/uws/:def", async (req, reply) => {
    const def = definition(req);
    const id = newJobId();
    const dir = service.jobDir(id);
    let created = false;
    try {
      const input = await readInput(req, def, dir, { fileMb: opts.uploadLimitMb });
      const phase = one(input, "PHASE");
      if (phase !== undefined && phase.toUpperCase() !== "RUN") throw new UwsError(400, `PHASE: only RUN is allowed when creating a job, got '${phase}'`);
      if (input.controls.has("ACTION")) throw new UwsError(400, "ACTION is not allowed when creating a job");
      const dRaw = one(input, "EXECUTIONDURATION");
      const xRaw = one(input, "DESTRUCTION");
      const runId = one(input, "RUNID");
      if (runId !== undefined && (runId.length > 256 || /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/.test(runId))) throw new UwsError(400, "RUNID: at most 256 characters, no control characters");
      const params = resolveParams(def, [], input.params, input.uploads);
      input.commit();
      const job = await service.create(def, req.principal.owner, params, {
        id,
        runId: runId ?? null,
        duration: dRaw === undefined ? undefined : parseNonNegInt(dRaw, "EXECUTIONDURATION"),
        destruction: xRaw === undefined ? undefined : parseFutureTime(xRaw, "DESTRUCTION"),
      });
      created = true;
      if (phase !== undefined) await service.run(job);
      return seeOther(reply, jobUrl(req, job));
    } finally {
      if (!created) rmSync(dir, { recursive: true, force: true });
    }
  });

  // ---- one job -----------------------------------------------------------------------------------
  app.get("/uws/:def/:id", async (req, reply) => {
    let { job } = loadJob(req);
    const input = splitControls(queryPairs(req.url));
    const waitRaw = one(input, "WAIT");
    if (waitRaw !== undefined) {
      // Any wait longer than the server's maximum means the maximum, however large the number.
      const wait = /^\s*\+?\d{10,}\s*$/.test(waitRaw) ? opts.maxWait : parseNonNegInt(waitRaw, "WAIT", true);
      const phaseRaw = one(input, "PHASE");
      const onlyIf = phaseRaw === undefined ? undefined : parsePhase(phaseRaw);
      const secs = wait < 0 || wait > opts.maxWait ? opts.maxWait : wait;
      if (secs > 0 && WAITABLE.includes(job.phase) && (onlyIf === undefined || onlyIf === job.phase)) {
        const gone = new AbortController();
        const onClose = () => gone.abort();
        reply.raw.once("close", onClose);
        await service.waitForChange(job.id, secs * 1000, gone.signal);
        reply.raw.off("close", onClose);
        const now = service.db.get(job.id);
        if (!now) throw new UwsError(404, `job '${job.id}' was deleted`);
        job = now;
      }
    }
    if (wantsJson(req)) return jobJson(job, hrefs(req, job));
    return reply.type(XML).send(jobXml(job, hrefs(req, job)));
  });

  const deleteJob = async (req: FastifyRequest, reply: FastifyReply) => {
    const { def, job } = loadJob(req);
    await service.destroy(job);
    return seeOther(reply, listUrl(req, def.name));
  };
  app.delete("/uws/:def/:id", deleteJob);
  app.post("/uws/:def/:id", async (req, reply) => {
    loadJob(req);
    const input = await readInput(req, undefined, undefined);
    const action = one(input, "ACTION");
    if (action === undefined) throw new UwsError(400, "POST on a job needs ACTION=DELETE");
    if (action.toUpperCase() !== "DELETE") throw new UwsError(400, `ACTION: unknown action '${action}' (only DELETE)`);
    return deleteJob(req, reply);
  });

  // ---- phase -------------------------------------------------------------------------------------
  app.get("/uws/:def/:id/phase", async (req, reply) => text(reply, loadJob(req).job.phase));
  app.post("/uws/:def/:id/phase", async (req, reply) => {
    const { job } = loadJob(req);
    const input = await readInput(req, undefined, undefined);
    const v = one(input, "PHASE");
    if (v === undefined) throw new UwsError(400, "PHASE is required (RUN or ABORT)");
    const up = v.trim().toUpperCase();
    if (up === "RUN") await service.run(job);
    else if (up === "ABORT") await service.abort(job);
    else throw new UwsError(400, `PHASE: '${v}' is not RUN or ABORT`);
    return seeOther(reply, jobUrl(req, job));
  });

  // ---- execution duration, destruction, quote, owner ------------------------------------------------
  app.get("/uws/:def/:id/executionduration", async (req, reply) => text(reply, String(loadJob(req).job.duration)));
  app.post("/uws/:def/:id/executionduration", async (req, reply) => {
    const { job } = loadJob(req);
    const v = one(await readInput(req, undefined, undefined), "EXECUTIONDURATION");
    if (v === undefined) throw new UwsError(400, "EXECUTIONDURATION is required (seconds, 0 = unlimited)");
    service.setDuration(job, parseNonNegInt(v, "EXECUTIONDURATION"));
    return seeOther(reply, jobUrl(req, job));
  });
  app.get("/uws/:def/:id/destruction", async (req, reply) => {
    const d = loadJob(req).job.destruction;
    return text(reply, d === null ? "" : iso(d));
  });
  app.post("/uws/:def/:id/destruction", async (req, reply) => {
    const { job } = loadJob(req);
    const v = one(await readInput(req, undefined, undefined), "DESTRUCTION");
    if (v === undefined) throw new UwsError(400, "DESTRUCTION is required (ISO 8601, e.g. 2030-01-01T00:00:00Z)");
    service.setDestruction(job, parseFutureTime(v, "DESTRUCTION"));
    return seeOther(reply, jobUrl(req, job));
  });
  app.get("/uws/:def/:id/quote", async (req, reply) => {
    const q = loadJob(req).job.quote;
    return text(reply, q === null ? "" : iso(q));
  });
  app.get("/uws/:def/:id/owner", async (req, reply) => text(reply, loadJob(req).job.owner ?? ""));

  app.get("/uws/:def/:id/error", async (req, reply) => {
    const { job } = loadJob(req);
    if (job.phase !== "ERROR") throw new UwsError(404, `job '${job.id}' has no error (phase ${job.phase})`);
    let detail = `${job.error ?? "job failed"}\n`;
    try {
      // The tail of the job's stderr helps the user; it is their own job's output.
      const f = join(service.jobDir(job.id), "stderr");
      const st = statSync(f);
      if (st.size > 0) {
        const buf = readFileSync(f);
        detail += `\n--- stderr (last 4 KiB) ---\n${buf.subarray(Math.max(0, buf.length - 4096)).toString("utf8")}`;
      }
    } catch {
      /* no stderr */
    }
    return text(reply, detail);
  });

  // ---- results -----------------------------------------------------------------------------------
  app.get("/uws/:def/:id/results", async (req, reply) => {
    const { job } = loadJob(req);
    const h = hrefs(req, job);
    if (wantsJson(req)) return { results: job.results.map((r) => ({ id: r.id, href: h.result(r.id), size: r.size, mimeType: r.mimeType })) };
    return reply.type(XML).send(resultsXml(job, h));
  });
  app.get("/uws/:def/:id/results/:rid", async (req, reply) => {
    const { job } = loadJob(req);
    const rid = (req.params as { rid: string }).rid;
    const r = job.results.find((x) => x.id === rid);
    if (!r) throw new UwsError(404, `job '${job.id}' has no result '${rid}'`);
    return sendFile(reply, service.jobDir(job.id), r.file, r.mimeType);
  });

  // ---- parameters --------------------------------------------------------------------------------
  app.get("/uws/:def/:id/parameters", async (req, reply) => {
    const { job } = loadJob(req);
    const h = hrefs(req, job);
    if (wantsJson(req)) return { parameters: Object.fromEntries(job.params.map((p) => [p.name, p.byReference ? h.param(p.name) : p.value])) };
    return reply.type(XML).send(parametersXml(job, h));
  });
  app.get("/uws/:def/:id/parameters/:name", async (req, reply) => {
    const { job } = loadJob(req);
    const name = (req.params as { name: string }).name.toLowerCase();
    const p = job.params.find((x) => x.name.toLowerCase() === name);
    if (!p) throw new UwsError(404, `job '${job.id}' has no parameter '${name}'`);
    if (p.byReference) return sendFile(reply, service.jobDir(job.id), uploadPath(p.name), "application/octet-stream");
    return text(reply, p.value);
  });
  app.post("/uws/:def/:id/parameters", async (req, reply) => {
    const { def, job } = loadJob(req);
    if (job.phase !== "PENDING") {
      if (req.isMultipart()) for await (const part of req.parts()) if (part.type === "file") part.file.resume();
      throw new UwsError(403, `parameters can only change while the job is PENDING (it is ${job.phase})`);
    }
    const input = await readInput(req, def, service.jobDir(job.id), { fileMb: opts.uploadLimitMb });
    try {
      if (input.controls.size) throw new UwsError(400, `control parameters (${[...input.controls.keys()].join(", ")}) do not belong in /parameters`);
      const params = resolveParams(def, job.params, input.params, input.uploads);
      input.commit();
      service.db.setParams(job.id, params);
    } finally {
      input.discard();
    }
    return seeOther(reply, jobUrl(req, job));
  });
}

/** Streams a file of a job's work dir after checking it resolves inside that dir. */
function sendFile(reply: FastifyReply, dir: string, rel: string, mime: string) {
  let real: string;
  let root: string;
  try {
    root = realpathSync(dir);
    real = realpathSync(join(dir, rel));
  } catch {
    throw new UwsError(404, `file ${rel} is gone`);
  }
  if (!real.startsWith(root + sep)) throw new UwsError(403, `file ${rel} is outside the job's work dir`);
  const st = statSync(real);
  if (!st.isFile()) throw new UwsError(404, `${rel} is not a file`);
  return reply.type(mime).header("content-length", st.size).send(createReadStream(real));
}
