// The web portal's server side, created once by createServer: the session store (<data>/portal.sqlite),
// the signer of result URLs, the browser authenticator (session cookie + CSRF, signed URLs) that the
// UWS resources consult before the bearer authenticator, and — in oidc mode — the login client.
// The routes are in plugins/portal.ts; the page and its scripts in portal/assets/.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import type { ServerConfig } from "../config.js";
import { BrowserAuth, OidcLogin } from "../auth/browser.js";
import type { Authenticator } from "../auth/principal.js";
import { SessionStore } from "../auth/session.js";
import { ResultSigner } from "./signed-url.js";

export interface Portal {
  auth: BrowserAuth;
  login: OidcLogin | null;
  signer: ResultSigner;
  authenticate: Authenticator;
  assetsDir: string;
  close(): void;
}

/** portal/assets next to this module (source) or next to the bundle (dist/runtime/portal/assets). */
export function assetsDir(): string {
  for (const rel of ["./assets/", "./portal/assets/"]) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(p, "index.html"))) return p;
  }
  throw new Error("portal assets not found next to the server (portal/assets/index.html)");
}

export function createPortal(app: FastifyInstance, config: ServerConfig, authenticate: Authenticator, opts: { key: Buffer; data: string }): Portal {
  const sessions = new SessionStore(join(opts.data, "portal.sqlite"));
  const signer = new ResultSigner(opts.key);
  const base = () => app.uws.baseUrl();
  // Secure cookies when the users' URL is https (nginx in front); never guessed from request headers.
  const secure = (config.publicUrl ?? "").startsWith("https://");
  const auth = new BrowserAuth(sessions, signer, secure, (id) => app.uws.service.db.get(id)?.owner);
  let login: OidcLogin | null = null;
  if (config.auth === "oidc") {
    const o = config.oidc;
    const secret = o.clientSecretFile ? readFileSync(o.clientSecretFile, "utf8").trim() || null : null;
    login = new OidcLogin(
      {
        issuer: o.issuer!,
        clientId: o.clientId ?? o.audience!,
        clientSecret: secret,
        scopes: o.scopes,
        entitlementClaim: o.entitlementClaim,
        allow: o.allow,
        admins: o.admins,
        get redirectUri() {
          return `${base()}/portal/callback`;
        },
        get postLogoutUri() {
          return `${base()}/`;
        },
      },
      sessions,
    );
  }
  // Results and uploaded parameters are users' files served from the portal's origin: never let one
  // run as a page there (an owner's upload shown to the admin, say).
  app.addHook("onSend", async (req, reply, payload) => {
    if (/^\/uws\/[^/]+\/[^/]+\/(results|parameters)\/[^/?]+/.test(req.url)) {
      reply.header("content-security-policy", "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'");
      reply.header("x-content-type-options", "nosniff");
    }
    return payload;
  });
  return { auth, login, signer, authenticate, assetsDir: assetsDir(), close: () => sessions.close() };
}
