// /uws/{definition}/{id}/results: the result list and each result served as a file.
import type { FastifyInstance } from "fastify";
import { UwsError } from "../jobs/service.js";
import { resultsJson, resultsXml } from "../uws/xml.js";
import { links, loadJob, wantsJson, XML } from "./context.js";
import { sendFile } from "./send-file.js";

export async function resultsPlugin(app: FastifyInstance): Promise<void> {
  const { service } = app.uws;

  app.get("/uws/:def/:id/results", async (req, reply) => {
    const { job } = loadJob(app, req);
    const h = links(app, req).hrefs(job);
    if (wantsJson(req)) return { results: resultsJson(h.results ?? job.results, h.result) };
    return reply.type(XML).send(resultsXml(job, h));
  });
  app.get("/uws/:def/:id/results/:rid", async (req, reply) => {
    const { job } = loadJob(app, req);
    const rid = (req.params as { rid: string }).rid;
    const r = job.results.find((x) => x.id === rid);
    if (!r) throw new UwsError(404, `job '${job.id}' has no result '${rid}'`);
    return sendFile(reply, service.jobDir(job.id), r.file, r.mimeType);
  });
}
