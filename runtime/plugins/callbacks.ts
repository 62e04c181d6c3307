// POST /callback/jobs/:id: a running job says "something changed" with its per-job secret; the
// server then asks the executor. Nothing is trusted by source address.
import type { FastifyInstance } from "fastify";
import { AuthError, bearer } from "../auth/principal.js";
import { checkJobSecret } from "../auth/callback.js";
import { UwsError } from "../jobs/service.js";

export async function callbacksPlugin(app: FastifyInstance): Promise<void> {
  const { service, callbackKey } = app.uws;
  app.post("/callback/jobs/:id", async (req, reply) => {
    const id = (req.params as { id: string }).id;
    if (!checkJobSecret(callbackKey, id, bearer(req.headers.authorization))) throw new AuthError(403, "bad job secret");
    if (!service.db.get(id)) throw new UwsError(404, `no job '${id}'`);
    service.executor.poke?.(id);
    return reply.code(204).send();
  });
}
