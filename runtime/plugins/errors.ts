// One error handler for the whole app: UWS, parameter and auth errors answer their status with a
// plain-text message; anything else is a 500 (logged, never shown).
import type { FastifyInstance } from "fastify";
import { AuthError } from "../auth/principal.js";
import { ParamError } from "../jobdefs/params.js";
import { UwsError } from "../jobs/service.js";
import { TEXT } from "./context.js";

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: any, req, reply) => {
    if (err instanceof UwsError) return reply.code(err.status).type(TEXT).send(err.message + "\n");
    if (err instanceof ParamError) return reply.code(400).type(TEXT).send(err.message + "\n");
    if (err instanceof AuthError) {
      if (err.status === 401) reply.header("www-authenticate", 'Bearer realm="uws"');
      return reply.code(err.status).type(TEXT).send(err.message + "\n");
    }
    const status = typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err }, "request failed");
    return reply.code(status).type(TEXT).send((status === 500 ? "internal error" : err.message) + "\n");
  });
}
