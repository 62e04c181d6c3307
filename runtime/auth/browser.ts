// Browser login and browser requests.
//
// - OidcLogin: the OIDC authorization code flow with PKCE (S256), state and nonce against the
//   configured issuer (discovery), the client secret from the server's secret file (client_secret_basic;
//   a public client without one). The ID token is verified (issuer, audience = client id, nonce,
//   signature by the issuer's JWKS); userinfo, where the issuer has it, adds claims for the same
//   subject. The principal then comes from claimRules: exactly the rules applied to bearer tokens.
// - BrowserAuth: who a browser request is — a signed result URL (one result, GET only), else the
//   session cookie, with the session's CSRF token required on every state-changing request. A
//   request with an Authorization header is left to the bearer authenticator.
import { createHash, randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import { claimRules, type OidcOptions } from "./oidc.js";
import { AuthError, type Principal } from "./principal.js";
import type { Session, SessionStore } from "./session.js";
import type { ResultSigner } from "../portal/signed-url.js";

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint?: string;
  end_session_endpoint?: string;
}

export interface OidcLoginOptions extends Pick<OidcOptions, "entitlementClaim" | "allow" | "admins"> {
  issuer: string;
  clientId: string;
  clientSecret: string | null;
  scopes: string[];
  /** Absolute URL of GET /portal/callback. */
  redirectUri: string;
  /** Absolute URL the IdP returns to after end-session. */
  postLogoutUri: string;
}

export class LoginError extends Error {}

const b64url = (b: Buffer) => b.toString("base64url");

export class OidcLogin {
  private disc?: Promise<Discovery>;
  private jwks?: ReturnType<typeof createRemoteJWKSet>;

  constructor(
    readonly opts: OidcLoginOptions,
    private readonly sessions: SessionStore,
  ) {}

  /** Discovery, cached once it succeeded (retried after a failure). */
  discovery(): Promise<Discovery> {
    this.disc ??= (async () => {
      const url = this.opts.issuer.replace(/\/$/, "") + "/.well-known/openid-configuration";
      const res = await fetch(url, { headers: { accept: "application/json" } });
      if (!res.ok) throw new LoginError(`OIDC discovery ${url}: HTTP ${res.status}`);
      const d = (await res.json()) as Discovery;
      if (d.issuer !== this.opts.issuer) throw new LoginError(`OIDC discovery ${url}: issuer is '${d.issuer}', expected '${this.opts.issuer}'`);
      for (const k of ["authorization_endpoint", "token_endpoint", "jwks_uri"] as const) if (!d[k]) throw new LoginError(`OIDC discovery ${url}: no ${k}`);
      this.jwks = createRemoteJWKSet(new URL(d.jwks_uri));
      return d;
    })().catch((e) => {
      this.disc = undefined;
      throw e;
    });
    return this.disc;
  }

  /**
   * The IdP URL to send the browser to, and the state: the caller binds it to the browser (a cookie
   * checked at the callback), so a callback URL made for someone else's login is refused.
   */
  async start(returnTo: string): Promise<{ url: string; state: string }> {
    const d = await this.discovery();
    const verifier = b64url(randomBytes(32));
    const nonce = b64url(randomBytes(16));
    const state = this.sessions.startLogin({ verifier, nonce, returnTo });
    const u = new URL(d.authorization_endpoint);
    u.search = new URLSearchParams({
      response_type: "code",
      client_id: this.opts.clientId,
      redirect_uri: this.opts.redirectUri,
      scope: [...new Set(["openid", ...this.opts.scopes])].join(" "),
      state,
      nonce,
      code_challenge: b64url(createHash("sha256").update(verifier).digest()),
      code_challenge_method: "S256",
    }).toString();
    return { url: u.toString(), state };
  }

  /** The callback: code → tokens → verified claims → principal (or AuthError 403 by the rules). */
  async finish(query: Record<string, string | undefined>, browserState: string | undefined): Promise<{ principal: Principal; name: string; idToken: string; returnTo: string }> {
    if (!query.state || query.state !== browserState) throw new LoginError("this login was not started in this browser (or took over 10 minutes); start the login again");
    if (query.error) throw new LoginError(`the identity provider refused the login: ${query.error}${query.error_description ? ` (${query.error_description})` : ""}`);
    const attempt = this.sessions.takeLogin(query.state);
    if (!attempt) throw new LoginError("login state unknown, used or expired; start the login again");
    if (!query.code) throw new LoginError("the identity provider sent no code");
    const d = await this.discovery();
    const body = new URLSearchParams({ grant_type: "authorization_code", code: query.code, redirect_uri: this.opts.redirectUri, code_verifier: attempt.verifier });
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
    if (this.opts.clientSecret) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(this.opts.clientId)}:${encodeURIComponent(this.opts.clientSecret)}`).toString("base64")}`;
    else body.set("client_id", this.opts.clientId);
    const res = await fetch(d.token_endpoint, { method: "POST", headers, body: body.toString() });
    const tok = (await res.json().catch(() => ({}))) as { id_token?: string; access_token?: string; error?: string; error_description?: string };
    if (!res.ok || !tok.id_token) throw new LoginError(`token endpoint: HTTP ${res.status} ${tok.error ?? ""} ${tok.error_description ?? ""}`.trim());
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(tok.id_token, this.jwks!, { issuer: this.opts.issuer, audience: this.opts.clientId, clockTolerance: 30 }));
    } catch (e) {
      throw new LoginError(`ID token: ${(e as Error).message}`);
    }
    if (claims.nonce !== attempt.nonce) throw new LoginError("ID token: nonce does not match the login");
    if (d.userinfo_endpoint && tok.access_token) {
      const ui = await fetch(d.userinfo_endpoint, { headers: { authorization: `Bearer ${tok.access_token}`, accept: "application/json" } });
      if (ui.ok) {
        const info = (await ui.json()) as JWTPayload;
        // Userinfo describes the ID token's subject or nothing.
        if (info.sub === claims.sub) claims = { ...info, ...claims, [this.opts.entitlementClaim]: info[this.opts.entitlementClaim] ?? claims[this.opts.entitlementClaim] };
      }
    }
    const principal = claimRules(claims, this.opts, "login");
    const name = typeof claims.name === "string" ? claims.name : typeof claims.preferred_username === "string" ? claims.preferred_username : principal.owner!;
    return { principal, name, idToken: tok.id_token, returnTo: attempt.returnTo };
  }

  /** Where to send the browser after the local logout: the IdP's end-session, if it has one. */
  async endSessionUrl(idToken: string | null): Promise<string | null> {
    const d = await this.discovery().catch(() => undefined);
    if (!d?.end_session_endpoint) return null;
    const u = new URL(d.end_session_endpoint);
    const p = new URLSearchParams({ client_id: this.opts.clientId, post_logout_redirect_uri: this.opts.postLogoutUri });
    if (idToken) p.set("id_token_hint", idToken);
    u.search = p.toString();
    return u.toString();
  }
}

export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const h = req.headers.cookie;
  if (!h) return undefined;
  for (const part of h.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
export const CSRF_HEADER = "x-csrf-token";

export class BrowserAuth {
  /** `__Host-` cookies must be Secure: used behind TLS (an https public URL). */
  readonly cookieName: string;

  constructor(
    readonly sessions: SessionStore,
    readonly signer: ResultSigner,
    readonly secure: boolean,
    private readonly ownerOf: (jobId: string) => string | null | undefined,
  ) {
    this.cookieName = secure ? "__Host-uws-session" : "uws-session";
  }

  cookie(value: string, maxAgeSec: number): string {
    return `${this.cookieName}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSec}${this.secure ? "; Secure" : ""}`;
  }

  /** The login attempt's state, bound to the browser until the callback (Lax: sent on the IdP's redirect back). */
  loginCookie(state: string, maxAgeSec = 600): string {
    return `uws-login=${state}; Path=/portal/callback; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSec}${this.secure ? "; Secure" : ""}`;
  }

  session(req: FastifyRequest): { id: string; session: Session } | undefined {
    const id = readCookie(req, this.cookieName);
    const session = this.sessions.get(id);
    return session && id ? { id, session } : undefined;
  }

  /** Checks the CSRF token of a state-changing request made with the session cookie. */
  checkCsrf(req: FastifyRequest, s: Session, formValue?: string): void {
    if (SAFE.has(req.method)) return;
    const got = (req.headers[CSRF_HEADER] as string | undefined) ?? formValue;
    if (got !== s.csrf) throw new AuthError(403, `CSRF token missing or wrong: a state-changing request with the portal's session must carry its token (${CSRF_HEADER} header)`);
  }

  /**
   * The principal of a browser request, or undefined to leave it to the bearer authenticator.
   * Throws for a refused signed URL or a missing CSRF token.
   */
  principal(req: FastifyRequest): Principal | undefined {
    const signed = this.signer.check(req.method, req.url);
    if (signed && "refused" in signed) throw new AuthError(403, signed.refused);
    if (signed) return { owner: this.ownerOf(signed.ok.id) ?? null, admin: false };
    if (req.headers.authorization) return undefined;
    const s = this.session(req);
    if (!s) return undefined;
    this.checkCsrf(req, s.session);
    return s.session.principal;
  }
}
