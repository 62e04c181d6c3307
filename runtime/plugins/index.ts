// Every route plugin, in the order createServer registers them. /health and the job callbacks
// need no user credentials; the UWS resources sit behind the authentication hook.
import type { FastifyInstance } from "fastify";
import type { Authenticator } from "../auth/principal.js";
import { callbacksPlugin } from "./callbacks.js";
import { definitionsPlugin } from "./definitions.js";
import { healthPlugin } from "./health.js";
import { jobAttributesPlugin } from "./job-attributes.js";
import { jobListPlugin } from "./job-list.js";
import { jobPlugin } from "./job.js";
import { parametersPlugin } from "./parameters.js";
import { provenancePlugin } from "./provenance.js";
import { resultsPlugin } from "./results.js";

export const UWS_RESOURCES = [definitionsPlugin, jobListPlugin, jobPlugin, jobAttributesPlugin, resultsPlugin, parametersPlugin, provenancePlugin];

export async function registerRoutes(app: FastifyInstance, authenticate: Authenticator): Promise<void> {
  await app.register(healthPlugin);
  await app.register(callbacksPlugin);
  await app.register(async (scope) => {
    scope.addHook("onRequest", async (req) => {
      req.principal = await authenticate(req.headers.authorization);
    });
    for (const p of UWS_RESOURCES) await scope.register(p);
  });
}
