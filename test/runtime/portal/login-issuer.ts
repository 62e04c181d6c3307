// A real OpenID provider (the `oidc-provider` package, as test/runtime/auth/oidc-issuer.ts) on
// loopback for browser logins: the authorization code flow with PKCE for one confidential client,
// its development login form (any login name, any password: the login name becomes the subject),
// the consent page, userinfo carrying eduperson_entitlement, and RP-initiated logout.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import Provider from "oidc-provider";

export interface LoginIssuer {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Every request path the provider got (tests look for end-session). */
  requests: string[];
  stop(): Promise<void>;
}

/** accounts: login name → entitlements (eduperson_entitlement). `portalUrl`: the job server's base URL. */
export async function startLoginIssuer(accounts: Record<string, string[]>, portalUrl: string): Promise<LoginIssuer> {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: "login-key-1", alg: "RS256", use: "sig" };
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = "uws-portal";
  const clientSecret = "portal-client-secret-for-tests";
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ["authorization_code"],
        response_types: ["code"],
        redirect_uris: [`${portalUrl}/portal/callback`],
        post_logout_redirect_uris: [`${portalUrl}/`],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    jwks: { keys: [jwk as any] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    scopes: ["openid", "profile", "eduperson_entitlement"],
    claims: { openid: ["sub"], profile: ["name"], eduperson_entitlement: ["eduperson_entitlement"] },
    findAccount: async (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: async () => ({ sub, name: `${sub[0]!.toUpperCase()}${sub.slice(1)} Example`, eduperson_entitlement: accounts[sub] ?? [] }),
    }),
  } as any);
  const requests: string[] = [];
  server.on("request", (req: any, res: any) => {
    requests.push(String(req.url).split("?")[0]!);
    provider.callback()(req, res);
  });
  return {
    issuer,
    clientId,
    clientSecret,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
