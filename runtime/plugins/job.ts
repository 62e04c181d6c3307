// /uws/{definition}/{id}: the job document (WAIT blocks without blocking anyone else), DELETE, and
// POST ACTION=DELETE.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { UwsError } from "../jobs/service.js";
import type { Phase } from "../store/jobs-db.js";
import { one, parseNonNegInt, parsePhase, parseWord, readInput, readQuery } from "../uws/input.js";
import { jobJson, jobXml } from "../uws/xml.js";
import { inputLimits, links, loadJob, seeOther, wantsJson, XML } from "./context.js";

const WAITABLE: Phase[] = ["PENDING", "QUEUED", "EXECUTING"];

export async function jobPlugin(app: FastifyInstance): Promise<void> {
  const { service, config } = app.uws;
  const limits = inputLimits(config);

  app.get("/uws/:def/:id", async (req, reply) => {
    let { job } = loadJob(app, req);
    const input = readQuery(req.url, limits);
    const waitRaw = one(input, "WAIT");
    if (waitRaw !== undefined) {
      // Any wait longer than the server's maximum means the maximum, however large the number.
      const wait = /^\s*\+?\d{10,}\s*$/.test(waitRaw) ? config.maxWait : parseNonNegInt(waitRaw, "WAIT", true);
      const phaseRaw = one(input, "PHASE");
      const onlyIf = phaseRaw === undefined ? undefined : parsePhase(phaseRaw);
      const secs = wait < 0 || wait > config.maxWait ? config.maxWait : wait;
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
    const h = links(app, req).hrefs(job);
    if (wantsJson(req)) return jobJson(job, h);
    return reply.type(XML).send(jobXml(job, h));
  });

  const deleteJob = async (req: FastifyRequest, reply: FastifyReply) => {
    const { def, job } = loadJob(app, req);
    await service.destroy(job);
    return seeOther(reply, links(app, req).list(def.name));
  };
  app.delete("/uws/:def/:id", deleteJob);
  app.post("/uws/:def/:id", async (req, reply) => {
    loadJob(app, req);
    const input = await readInput(req, undefined, undefined, limits);
    const action = one(input, "ACTION");
    if (action === undefined) throw new UwsError(400, "POST on a job needs ACTION=DELETE");
    parseWord(action, ["DELETE"] as const, "ACTION");
    return deleteJob(req, reply);
  });
}
