// The job's single-value resources: phase (RUN/ABORT), executionduration, destruction, quote,
// owner and error — text/plain, changes answer 303 to the job.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { UwsError } from "../jobs/service.js";
import { one, parseFutureTime, parseNonNegInt, parseWord, readInput } from "../uws/input.js";
import { iso } from "../uws/time.js";
import { durationNote, inputLimits, links, loadJob, seeOther, text } from "./context.js";

export async function jobAttributesPlugin(app: FastifyInstance): Promise<void> {
  const { service, config } = app.uws;
  const limits = inputLimits(config);

  app.get("/uws/:def/:id/phase", async (req, reply) => text(reply, loadJob(app, req).job.phase));
  app.post("/uws/:def/:id/phase", async (req, reply) => {
    const { job } = loadJob(app, req);
    const input = await readInput(req, undefined, undefined, limits);
    const v = one(input, "PHASE");
    if (v === undefined) throw new UwsError(400, "PHASE is required (RUN or ABORT)");
    if (parseWord(v, ["RUN", "ABORT"] as const, "PHASE") === "RUN") await service.run(job);
    else await service.abort(job);
    return seeOther(reply, links(app, req).job(job));
  });

  app.get("/uws/:def/:id/executionduration", async (req, reply) => text(reply, String(loadJob(app, req).job.duration)));
  app.post("/uws/:def/:id/executionduration", async (req, reply) => {
    const { def, job } = loadJob(app, req);
    const v = one(await readInput(req, undefined, undefined, limits), "EXECUTIONDURATION");
    if (v === undefined) throw new UwsError(400, "EXECUTIONDURATION is required (seconds, 0 = unlimited)");
    const asked = parseNonNegInt(v, "EXECUTIONDURATION");
    const granted = service.setDuration(job, asked);
    return seeOther(reply, links(app, req).job(job), durationNote(def, asked, granted));
  });

  app.get("/uws/:def/:id/destruction", async (req, reply) => {
    const d = loadJob(app, req).job.destruction;
    return text(reply, d === null ? "" : iso(d));
  });
  app.post("/uws/:def/:id/destruction", async (req, reply) => {
    const { job } = loadJob(app, req);
    const v = one(await readInput(req, undefined, undefined, limits), "DESTRUCTION");
    if (v === undefined) throw new UwsError(400, "DESTRUCTION is required (ISO 8601, e.g. 2030-01-01T00:00:00Z)");
    service.setDestruction(job, parseFutureTime(v, "DESTRUCTION"));
    return seeOther(reply, links(app, req).job(job));
  });

  app.get("/uws/:def/:id/quote", async (req, reply) => {
    const q = loadJob(app, req).job.quote;
    return text(reply, q === null ? "" : iso(q));
  });
  app.get("/uws/:def/:id/owner", async (req, reply) => text(reply, loadJob(app, req).job.owner ?? ""));

  app.get("/uws/:def/:id/error", async (req, reply) => {
    const { job } = loadJob(app, req);
    if (job.phase !== "ERROR" && job.error === null) throw new UwsError(404, `job '${job.id}' has no error (phase ${job.phase})`);
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
}
