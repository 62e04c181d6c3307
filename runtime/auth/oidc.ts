// `oidc` mode: bearer JWTs verified with jose against the issuer's JWKS, found by discovery.
// Issuer and audience are checked; authorization rules look at the subject and an entitlement claim.
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import { AuthError, bearer, type Authenticator, type Principal } from "./principal.js";

export interface ClaimRules {
  entitlements: string[];
  subs: string[];
}

export interface OidcOptions {
  issuer: string;
  audience: string;
  entitlementClaim: string;
  /** Empty lists: every valid token may use the service. */
  allow: ClaimRules;
  admins: ClaimRules;
  /** Tolerated clock skew, seconds. */
  clockTolerance?: number;
}

function claimValues(payload: JWTPayload, claim: string): string[] {
  const v = payload[claim];
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === "string") return v.split(/\s+/).filter(Boolean);
  return [];
}

function matches(payload: JWTPayload, claim: string, rules: ClaimRules): boolean {
  if (payload.sub && rules.subs.includes(payload.sub)) return true;
  const ents = claimValues(payload, claim);
  return rules.entitlements.some((e) => ents.includes(e));
}

export async function discoverJwksUri(issuer: string): Promise<string> {
  const url = issuer.replace(/\/$/, "") + "/.well-known/openid-configuration";
  const res = await fetch(url, { headers: { accept: "application/json" } });
  if (!res.ok) throw new Error(`OIDC discovery ${url}: HTTP ${res.status}`);
  const doc = (await res.json()) as { issuer?: string; jwks_uri?: string };
  if (doc.issuer !== issuer) throw new Error(`OIDC discovery ${url}: issuer is '${doc.issuer}', expected '${issuer}' (set oidc.issuer exactly)`);
  if (!doc.jwks_uri) throw new Error(`OIDC discovery ${url}: no jwks_uri`);
  return doc.jwks_uri;
}

export function oidcAuth(opts: OidcOptions): Authenticator {
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  let discovering: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  // Discovery is lazy and retried: the server starts even when the issuer is briefly unreachable.
  const keys = () => {
    if (jwks) return Promise.resolve(jwks);
    discovering ??= discoverJwksUri(opts.issuer)
      .then((uri) => (jwks = createRemoteJWKSet(new URL(uri))))
      .finally(() => (discovering = undefined));
    return discovering;
  };
  return async (header) => {
    const token = bearer(header);
    if (!token) throw new AuthError(401, "missing bearer token (Authorization: Bearer <access token>)");
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await keys(), { issuer: opts.issuer, audience: opts.audience, clockTolerance: opts.clockTolerance ?? 30 }));
    } catch (e) {
      throw new AuthError(401, `invalid token: ${(e as Error).message}`);
    }
    return claimRules(payload, opts, "token");
  };
}

/**
 * The authorization rules on verified claims (a bearer token's, or a browser login's ID token and
 * userinfo): admin rules first, then the allow rules (none: every authenticated subject).
 */
export function claimRules(payload: JWTPayload, opts: Pick<OidcOptions, "entitlementClaim" | "allow" | "admins">, what = "token"): Principal {
  if (!payload.sub) throw new AuthError(401, `invalid ${what}: no sub claim`);
  const admin = matches(payload, opts.entitlementClaim, opts.admins);
  const anyAllow = opts.allow.entitlements.length + opts.allow.subs.length > 0;
  if (!admin && anyAllow && !matches(payload, opts.entitlementClaim, opts.allow))
    throw new AuthError(403, `${what} of '${payload.sub}' lacks a required entitlement in claim '${opts.entitlementClaim}'`);
  return { owner: payload.sub, admin };
}
