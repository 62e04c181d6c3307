// /uws/{definition}: the job list (filters PHASE, AFTER, LAST) and job creation (303 to the job).
import { rmSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { resolveParams } from "../jobdefs/params.js";
import { UwsError, newJobId } from "../jobs/service.js";
import { one, parseFutureTime, parseRunId, parseWord, parseNonNegInt, parsePhase, parseTime, readInput, readQuery } from "../uws/input.js";
import { iso } from "../uws/time.js";
import { jobsXml } from "../uws/xml.js";
import { definitionOf, durationNote, inputLimits, links, seeOther, wantsJson, XML } from "./context.js";

export async function jobListPlugin(app: FastifyInstance): Promise<void> {
  const { service, config } = app.uws;
  const limits = inputLimits(config);

  app.get("/uws/:def", async (req, reply) => {
    const def = definitionOf(app, req);
    const input = readQuery(req.url, limits);
    const phases = (input.controls.get("PHASE") ?? []).map((v) => parsePhase(v));
    const afterRaw = one(input, "AFTER");
    const lastRaw = one(input, "LAST");
    const after = afterRaw === undefined ? undefined : parseTime(afterRaw, "AFTER");
    const last = lastRaw === undefined ? undefined : parseNonNegInt(lastRaw, "LAST");
    const p = req.principal;
    const rows = service.db.list({ definition: def.name, owner: p.admin ? undefined : p.owner, phases: phases.length ? [...new Set(phases)] : undefined, after, last });
    const l = links(app, req);
    if (wantsJson(req))
      return { jobs: rows.map((r) => ({ id: r.id, href: l.job({ definition: def.name, id: r.id }), phase: r.phase, runId: r.runId, ownerId: r.owner, creationTime: iso(r.created) })) };
    const prefix = l.list(def.name) + "/";
    return reply.type(XML).send(jobsXml(rows, (id) => prefix + encodeURIComponent(id)));
  });

  app.post("/uws/:def", async (req, reply) => {
    const def = definitionOf(app, req);
    const id = newJobId();
    const dir = service.jobDir(id);
    let created = false;
    try {
      const input = await readInput(req, def, dir, limits);
      const phase = one(input, "PHASE");
      // Same word parser as /phase: blanks around it and any case are accepted.
      if (phase !== undefined) parseWord(phase, ["RUN"] as const, "PHASE (only RUN when creating a job)");
      if (input.controls.has("ACTION")) throw new UwsError(400, "ACTION is not allowed when creating a job");
      const dRaw = one(input, "EXECUTIONDURATION");
      const xRaw = one(input, "DESTRUCTION");
      const runId = one(input, "RUNID");
      if (runId !== undefined) parseRunId(runId);
      const asked = dRaw === undefined ? undefined : parseNonNegInt(dRaw, "EXECUTIONDURATION");
      const params = resolveParams(def, [], input.params, input.uploads);
      input.commit();
      const job = await service.create(def, req.principal.owner, params, {
        id,
        runId: runId ?? null,
        duration: asked,
        destruction: xRaw === undefined ? undefined : parseFutureTime(xRaw, "DESTRUCTION"),
      });
      created = true;
      if (phase !== undefined) await service.run(job);
      return seeOther(reply, links(app, req).job(job), durationNote(def, asked, job.duration));
    } finally {
      if (!created) rmSync(dir, { recursive: true, force: true });
    }
  });
}
