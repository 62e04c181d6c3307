// /uws/{definition}/{id}/parameters: the parameter list, one parameter (uploads served as files),
// and updates while the job is PENDING.
import type { FastifyInstance } from "fastify";
import { resolveParams, uploadPath } from "../jobdefs/params.js";
import { UwsError } from "../jobs/service.js";
import { readInput } from "../uws/input.js";
import { parametersXml } from "../uws/xml.js";
import { inputLimits, links, loadJob, seeOther, text, wantsJson, XML } from "./context.js";
import { sendFile } from "./send-file.js";

export async function parametersPlugin(app: FastifyInstance): Promise<void> {
  const { service, config } = app.uws;
  const limits = inputLimits(config);

  app.get("/uws/:def/:id/parameters", async (req, reply) => {
    const { job } = loadJob(app, req);
    const h = links(app, req).hrefs(job);
    if (wantsJson(req)) return { parameters: Object.fromEntries(job.params.map((p) => [p.name, p.byReference ? h.param(p.name) : p.value])) };
    return reply.type(XML).send(parametersXml(job, h));
  });
  app.get("/uws/:def/:id/parameters/:name", async (req, reply) => {
    const { job } = loadJob(app, req);
    const name = (req.params as { name: string }).name.toLowerCase();
    const p = job.params.find((x) => x.name.toLowerCase() === name);
    if (!p) throw new UwsError(404, `job '${job.id}' has no parameter '${name}'`);
    if (p.byReference) return sendFile(reply, service.jobDir(job.id), uploadPath(p.name), "application/octet-stream");
    return text(reply, p.value);
  });
  app.post("/uws/:def/:id/parameters", async (req, reply) => {
    const { def, job } = loadJob(app, req);
    if (job.phase !== "PENDING") {
      if (req.isMultipart()) for await (const part of req.parts()) if (part.type === "file") part.file.resume();
      throw new UwsError(403, `parameters can only change while the job is PENDING (it is ${job.phase})`);
    }
    const input = await readInput(req, def, service.jobDir(job.id), limits);
    try {
      if (input.controls.size) throw new UwsError(400, `control parameters (${[...input.controls.keys()].join(", ")}) do not belong in /parameters`);
      const params = resolveParams(def, job.params, input.params, input.uploads);
      input.commit();
      service.db.setParams(job.id, params);
    } finally {
      input.discard();
    }
    return seeOther(reply, links(app, req).job(job));
  });
}
