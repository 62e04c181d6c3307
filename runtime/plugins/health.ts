// GET /health: no authentication; what a load balancer or the readiness gate asks.
import type { FastifyInstance } from "fastify";
import { RUNTIME_VERSION } from "../version.js";

export async function healthPlugin(app: FastifyInstance): Promise<void> {
  const { service } = app.uws;
  app.get("/health", async () => ({ ok: true, executor: service.executor.name, version: RUNTIME_VERSION, walCheckpoints: service.db.backgroundCheckpoints() }));
}
