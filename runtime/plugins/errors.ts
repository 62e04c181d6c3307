// One error handler and one not-found handler for the whole app, so every error answers the same
// way: its status and a plain-text message naming the field, limit or resource at fault (and the
// setting that changes a limit). UWS, parameter and auth errors carry their own message; Fastify's
// own client errors are reworded; anything else is a 500 (logged, never shown). A path that exists
// with other methods answers 405 with Allow.
import type { FastifyInstance } from "fastify";
import { AuthError } from "../auth/principal.js";
import { ParamError } from "../jobdefs/params.js";
import { UwsError } from "../jobs/service.js";
import { TEXT } from "./context.js";

/** Messages for Fastify's own client errors. */
function fastifyMessage(app: FastifyInstance, err: { code?: string; message: string }): string {
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return `body: larger than the limit of ${app.uws.config.limits.bodyKb} KiB (limits.bodyKb / --body-limit-kb; files go as multipart/form-data, up to uploadLimitMb)`;
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return `Content-Type: not accepted here (${err.message}); send application/x-www-form-urlencoded, multipart/form-data or application/json`;
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return `body: ${err.message}`;
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return "Content-Length: does not match the body";
    default:
      return err.message;
  }
}

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
    return reply.code(status).type(TEXT).send((status === 500 ? "internal error" : fastifyMessage(app, err)) + "\n");
  });

  // Every route's path and methods, for 405 (HEAD comes with GET).
  const routes: Array<{ re: RegExp; methods: Set<string> }> = [];
  app.addHook("onRoute", (r) => {
    const re = new RegExp("^" + r.url.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:[A-Za-z_]\w*/g, "[^/]+") + "/?$");
    let entry = routes.find((x) => x.re.source === re.source);
    if (!entry) routes.push((entry = { re, methods: new Set() }));
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) entry.methods.add(m);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split("?")[0]!;
    const allowed = new Set<string>();
    for (const r of routes) if (r.re.test(path)) for (const m of r.methods) allowed.add(m);
    if (allowed.size) {
      const allow = [...allowed].sort().join(", ");
      return reply.code(405).header("allow", allow).type(TEXT).send(`method ${req.method} is not allowed on ${path}; allowed: ${allow}\n`);
    }
    return reply.code(404).type(TEXT).send(`no resource at ${path}; the job lists are under /uws (GET /uws lists the definitions)\n`);
  });
}

/**
 * Errors Node's HTTP parser raises before a request exists (headers too large, malformed request
 * line, timeouts): answered in plain text like every other error, then the connection is closed.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: import("node:net").Socket): void {
  if (!socket.writable) return void socket.destroy();
  const [status, reason, message] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? [431, "Request Header Fields Too Large", "request line and headers: larger than the server's limit of 16 KiB (send long values in a form body, not the query string)"]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "Request Timeout", "request: not received within the server's time limits (connections.headersTimeout / requestTimeout)"]
        : [400, "Bad Request", `request: not valid HTTP (${err.code ?? "parse error"})`];
  const body = Buffer.from(message + "\n");
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
}
