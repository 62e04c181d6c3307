// The web portal (runtime/portal/): the page at / and its assets (gzip when accepted, ETag), the
// session document the page starts from, browser login (OIDC code + PKCE: /portal/login → IdP →
// /portal/callback; tokens mode: a pasted token, POST /portal/token), logout (+ the IdP's end-session),
// signed result URLs for SAMP (POST /portal/sign) and a server-sent event stream of the caller's
// job phases per definition (GET /portal/events/{def}). The page drives jobs through the UWS
// resources themselves, with the session cookie and its CSRF token.
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzip, gzipSync } from "node:zlib";

const gzipAsync = promisify(gzip);
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LoginError, readCookie } from "../auth/browser.js";
import { AuthError } from "../auth/principal.js";
import { UwsError } from "../jobs/service.js";
import type { Portal } from "../portal/index.js";
import { buildFirstPage } from "../portal/page.js";
import type { Job, Phase } from "../store/jobs-db.js";
import { one, parseNonNegInt, parsePhase, readQuery } from "../uws/input.js";
import { definitionOf, inputLimits, loadJob } from "./context.js";
import { definitionsDoc } from "./definitions.js";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
};
// The page talks to its own origin and to a SAMP hub's Web Profile on this machine, nothing else;
// inline only the first page's own script and stylesheet, by hash.
const cspWith = (inline: { script: string; style: string } = { script: "", style: "" }) =>
  `default-src 'self'; script-src 'self'${inline.script && ` ${inline.script}`}; style-src 'self'${inline.style && ` ${inline.style}`}; img-src 'self' data: blob:; ` +
  "connect-src 'self' http://127.0.0.1:21012 http://localhost:21012; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const CSP = cspWith();
const LIVE: Phase[] = ["PENDING", "QUEUED", "EXECUTING", "HELD", "SUSPENDED"];

interface Asset {
  body: Buffer;
  gz: Buffer;
  type: string;
  etag: string;
}

function loadAssets(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const f of readdirSync(dir)) {
    const type = TYPES[f.split(".").pop()!];
    if (!type) continue;
    const body = readFileSync(join(dir, f));
    out.set(f, { body, gz: gzipSync(body, { level: 9 }), type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` });
  }
  return out;
}

function sendAsset(req: FastifyRequest, reply: FastifyReply, a: Asset) {
  reply.header("etag", a.etag).header("cache-control", "no-cache").header("vary", "accept-encoding").header("x-content-type-options", "nosniff");
  if (req.headers["if-none-match"] === a.etag) return reply.code(304).send();
  reply.type(a.type);
  if (/\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) return reply.header("content-encoding", "gzip").send(a.gz);
  return reply.send(a.body);
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
function page(reply: FastifyReply, status: number, title: string, message: string) {
  return reply
    .code(status)
    .type(TYPES.html!)
    .header("content-security-policy", CSP)
    .send(`<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title><link rel="stylesheet" href="/portal/assets/portal.css"><main class="narrow"><h1>${esc(title)}</h1><p role="alert">${esc(message)}</p><p><a href="/">Back to the portal</a></p></main></html>`);
}

/** Only a path of this site: never an absolute or protocol-relative URL (no open redirect). */
const localPath = (p: unknown) => (typeof p === "string" && /^\/(?![/\\])[^\s]*$/.test(p) ? p : "/");

export async function portalPlugin(app: FastifyInstance, opts: { portal: Portal }): Promise<void> {
  const { portal } = opts;
  const { config, service } = app.uws;
  const assets = loadAssets(portal.assetsDir);
  const limits = inputLimits(config);
  const first = buildFirstPage(portal.assetsDir, cspWith);

  const sessionDoc = (req: FastifyRequest) => {
    const s = portal.auth.session(req);
    const user = config.auth === "none" ? { owner: null, name: "anonymous", admin: true } : s ? { owner: s.session.principal.owner, name: s.session.name, admin: s.session.principal.admin } : null;
    return {
      auth: config.auth,
      login: config.auth === "oidc" ? "oidc" : config.auth === "tokens" ? "token" : null,
      issuer: config.auth === "oidc" ? config.oidc.issuer : null,
      user,
      csrf: s?.session.csrf ?? null,
      expires: s ? new Date(s.session.expires).toISOString() : null,
      uploadLimitMb: config.uploadLimitMb,
    };
  };

  // The page carries what it starts from (the session and, logged in, the applications) as a JSON
  // data block: interactive after one request and its scripts, with no round trip after them.
  // Per caller, so never cached; a data block is not a script, so the CSP needs no exception.
  app.get("/", async (req, reply) => {
    const session = sessionDoc(req);
    const boot = { session, definitions: session.user ? definitionsDoc(app, req).definitions : null };
    const json = JSON.stringify(boot).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
    const body = Buffer.from(`${first.head}<script type="application/json" id="boot">${json}</script>${first.tail}`);
    reply
      .header("content-security-policy", first.csp)
      .header("referrer-policy", "no-referrer")
      .header("x-frame-options", "DENY")
      .header("cache-control", "no-store")
      .header("vary", "cookie, accept-encoding")
      .header("x-content-type-options", "nosniff")
      .type(TYPES.html!);
    if (/\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) return reply.header("content-encoding", "gzip").send(gzipSync(body, { level: 6 }));
    return reply.send(body);
  });
  app.get("/portal/assets/:file", async (req, reply) => {
    const a = assets.get((req.params as { file: string }).file);
    if (!a) throw new UwsError(404, "no such portal asset");
    return sendAsset(req, reply, a);
  });

  // ---- login -------------------------------------------------------------------------------------
  const startSession = (reply: FastifyReply, principal: { owner: string | null; admin: boolean }, name: string, idToken: string | null) => {
    const { id } = portal.auth.sessions.create(principal, name, idToken);
    reply.header("set-cookie", portal.auth.cookie(id, Math.floor(portal.auth.sessions.lifetimeMs / 1000)));
  };

  app.get("/portal/session", async (req, reply) => {
    reply.header("cache-control", "no-store");
    return sessionDoc(req);
  });

  app.get("/portal/login", async (req, reply) => {
    if (!portal.login) return page(reply, 404, "No browser login", `This server runs with auth ${config.auth}; there is no identity provider to log in with.`);
    const ret = localPath((req.query as { return?: string }).return);
    try {
      const { url, state } = await portal.login.start(ret);
      return reply.header("set-cookie", portal.auth.loginCookie(state)).redirect(url, 303);
    } catch (e) {
      req.log.warn({ err: e }, "portal login: identity provider unavailable");
      return page(reply, 502, "Login unavailable", `The identity provider could not be reached: ${(e as Error).message}`);
    }
  });

  app.get("/portal/callback", async (req, reply) => {
    if (!portal.login) return page(reply, 404, "No browser login", `This server runs with auth ${config.auth}.`);
    try {
      const r = await portal.login.finish(req.query as Record<string, string | undefined>, readCookie(req, "uws-login"));
      startSession(reply, r.principal, r.name, r.idToken);
      reply.header("set-cookie", portal.auth.loginCookie("", 0));
      return reply.redirect(localPath(r.returnTo), 303);
    } catch (e) {
      if (e instanceof AuthError) return page(reply, e.status, "Access refused", `You are logged in at the identity provider, but this service refuses you: ${e.message}.`);
      if (e instanceof LoginError) return page(reply, 400, "Login failed", e.message);
      throw e;
    }
  });

  // Tokens mode: a pasted token becomes a session. JSON only: a cross-site form cannot send it.
  app.post("/portal/token", async (req, reply) => {
    if (config.auth !== "tokens") throw new UwsError(404, "token login exists only with auth tokens");
    if (!String(req.headers["content-type"] ?? "").startsWith("application/json")) throw new UwsError(400, "send the token as JSON {\"token\": …}");
    const token = (req.body as { token?: unknown })?.token;
    if (typeof token !== "string" || !token.trim() || token.length > 4096) throw new UwsError(400, "token: required");
    const principal = await portal.authenticate(`Bearer ${token.trim()}`);
    startSession(reply, principal, principal.owner ?? "admin", null);
    return { ok: true, owner: principal.owner };
  });

  app.post("/portal/logout", async (req, reply) => {
    const s = portal.auth.session(req);
    const form = (req.body as { form?: boolean; pairs?: Array<[string, string]> } | undefined)?.pairs?.find(([k]) => k === "_csrf")?.[1];
    if (s) portal.auth.checkCsrf(req, s.session, form);
    portal.auth.sessions.delete(s?.id);
    reply.header("set-cookie", portal.auth.cookie("", 0));
    const next = (portal.login && (await portal.login.endSessionUrl(s?.session.idToken ?? null))) || "/";
    if (String(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) return reply.redirect(next, 303);
    return { redirect: next };
  });

  // ---- what needs the caller: signing a result URL, the event stream ----------------------------
  await app.register(async (scope) => {
    scope.addHook("onRequest", async (req) => {
      req.principal = portal.auth.principal(req) ?? (await portal.authenticate(req.headers.authorization));
    });

    scope.post("/portal/sign", async (req) => {
      const b = (req.body ?? {}) as { def?: unknown; id?: unknown; result?: unknown };
      if (typeof b.def !== "string" || typeof b.id !== "string" || typeof b.result !== "string") throw new UwsError(400, "def, id and result are required (JSON)");
      const def = service.definitions.get(b.def);
      const job = service.db.get(b.id);
      if (!def || !job || job.definition !== def.name) throw new UwsError(404, `no job '${b.id}' in /uws/${b.def}`);
      const p = req.principal;
      if (!p.admin && job.owner !== p.owner) throw new UwsError(403, `job '${b.id}' belongs to another owner`);
      if (!job.results.some((r) => r.id === b.result)) throw new UwsError(404, `job '${job.id}' has no result '${b.result}'`);
      const s = portal.signer.sign({ def: def.name, id: job.id, rid: b.result });
      return { url: app.uws.baseUrl() + s.path, expires: new Date(s.expires).toISOString() };
    });

    // The caller's newest LAST (100) jobs of one definition (of one PHASE if given) as compact
    // rows [id, phase, runId, created], and how many there are: the page shows a page at a time
    // and asks for more, so a 10,000-job list costs what its first page does (the UWS list with its
    // links, ~1.5 MB for 10,000, stays as it is for UWS clients).
    scope.get("/portal/jobs/:def", async (req, reply) => {
      const def = definitionOf(app, req);
      const p = req.principal;
      // LAST and PHASE as in the UWS job list.
      const q = readQuery(req.url, limits);
      const last = Math.min(parseNonNegInt(one(q, "LAST") ?? "100", "LAST"), 100_000);
      const phaseRaw = one(q, "PHASE");
      const phases = phaseRaw ? [parsePhase(phaseRaw)] : undefined;
      const f = { definition: def.name, owner: p.admin ? undefined : p.owner, phases };
      const rows = service.db.list({ ...f, last });
      const total = rows.length < last ? rows.length : service.db.countList(f);
      const body = Buffer.from(JSON.stringify({ fields: ["id", "phase", "runId", "creationTime"], total, rows: rows.map((r) => [r.id, r.phase, r.runId, new Date(r.created).toISOString()]) }));
      reply.type("application/json; charset=utf-8").header("cache-control", "no-store").header("vary", "accept-encoding");
      if (body.length > 8192 && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) return reply.header("content-encoding", "gzip").send(await gzipAsync(body, { level: 4 }));
      return reply.send(body);
    });

    // The job's stdout / stderr (the last 64 KiB): the caller's own job's output.
    scope.get("/portal/jobs/:def/:id/output/:stream", async (req, reply) => {
      const { job } = loadJob(app, req);
      const stream = (req.params as { stream: string }).stream;
      if (stream !== "stdout" && stream !== "stderr") throw new UwsError(404, "output is stdout or stderr");
      let text = "";
      try {
        const fd = openSync(join(service.jobDir(job.id), stream), "r");
        try {
          const size = fstatSync(fd).size;
          const n = Math.min(size, 65536);
          const buf = Buffer.alloc(n);
          readSync(fd, buf, 0, n, size - n);
          text = (size > n ? `… (last 64 KiB of ${size} bytes)\n` : "") + buf.toString("utf8");
        } finally {
          closeSync(fd);
        }
      } catch {
        /* not written (yet) */
      }
      return reply.type("text/plain; charset=utf-8").header("cache-control", "no-store").send(text);
    });

    // Phases of the caller's jobs of one definition: the live ones at connect, then every change
    // as it happens (the service's change watchers), and a once-a-second look at the live jobs
    // (indexed) for jobs created elsewhere, which no change announces while they are PENDING.
    scope.get("/portal/events/:def", async (req, reply) => {
      const def = definitionOf(app, req);
      const p = req.principal;
      const owner = p.admin ? undefined : p.owner;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", "x-accel-buffering": "no", connection: "keep-alive" });
      res.write("retry: 3000\n\n");
      /** Live jobs the stream has reported, with the phase it reported. */
      const known = new Map<string, Phase>();
      // With its creation time and runId: the page tells a new job from one beyond its loaded page.
      const send = (id: string, phase: Phase | null, created?: number, runId?: string | null) =>
        res.write(`data: ${JSON.stringify({ id, phase, ...(created === undefined ? {} : { creationTime: new Date(created).toISOString(), runId }) })}\n\n`);
      const report = (j: Pick<Job, "id" | "phase" | "created" | "runId">) => {
        if (known.get(j.id) === j.phase) return;
        if (LIVE.includes(j.phase)) known.set(j.id, j.phase);
        else known.delete(j.id);
        send(j.id, j.phase, j.created, j.runId);
      };
      const scan = () => {
        for (const r of service.db.list({ definition: def.name, owner, phases: LIVE })) report(r);
      };
      const unwatch = service.watchChanges((j, removed) => {
        if (j.definition !== def.name || (owner !== undefined && j.owner !== owner)) return;
        if (!removed) return report(j);
        known.delete(j.id);
        send(j.id, null, j.created, j.runId);
      });
      scan();
      const tick = setInterval(scan, 1000);
      const ping = setInterval(() => res.write(": keep-alive\n\n"), 15000);
      res.on("close", () => {
        unwatch();
        clearInterval(tick);
        clearInterval(ping);
      });
    });
  });
}
