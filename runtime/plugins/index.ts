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
import type { Portal } from "../portal/index.js";
import { portalPlugin } from "./portal.js";

export const UWS_RESOURCES = [definitionsPlugin, jobListPlugin, jobPlugin, jobAttributesPlugin, resultsPlugin, parametersPlugin, provenancePlugin];

/** `portal`: the web portal's routes, and its browser credentials (session cookie + CSRF, signed result URLs) tried before the bearer token. */
export async function registerRoutes(app: FastifyInstance, authenticate: Authenticator, portal?: Portal): Promise<void> {
  await app.register(healthPlugin);
  await app.register(callbacksPlugin);
  await app.register(async (scope) => {
    scope.addHook("onRequest", async (req) => {
      req.principal = portal?.auth.principal(req) ?? (await authenticate(req.headers.authorization));
    });
    for (const p of UWS_RESOURCES) await scope.register(p);
  });
  if (portal) await app.register(portalPlugin, { portal });
}
