// A real OpenID provider (the `oidc-provider` package) on loopback for the auth tests. Access
// tokens are JWTs from the client_credentials grant with a resource indicator (audience); the
// provider's signing key is kept so tests can also mint expired / wrong-issuer tokens with it.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import Provider from "oidc-provider";

export interface Issuer {
  issuer: string;
  /** client_credentials token for a client, for the resource (audience) given. */
  token(clientId: string, resource?: string): Promise<string>;
  /** Signs arbitrary claims with the provider's own key (kid included). */
  mint(claims: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}

export const AUDIENCE = "uws-test-api";
export const RESOURCE = "https://uws.test/";
export const OTHER_RESOURCE = "https://other.test/";

/** clients: id → entitlements placed in eduperson_entitlement. */
export async function startIssuer(clients: Record<string, string[]>): Promise<Issuer> {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: "test-key-1", alg: "RS256", use: "sig" };
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: Object.keys(clients).map((id) => ({ client_id: id, client_secret: `${id}-secret`, grant_types: ["client_credentials"], redirect_uris: [], response_types: [] })),
    jwks: { keys: [jwk as any] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => ({
          scope: "uws",
          audience: indicator === RESOURCE ? AUDIENCE : "some-other-api",
          accessTokenFormat: "jwt",
          accessTokenTTL: 300,
          jwt: { sign: { alg: "RS256" } },
        }),
      },
    },
    extraTokenClaims: async (_ctx: unknown, token: any) => ({ eduperson_entitlement: clients[token.clientId] ?? [] }),
  } as any);
  server.on("request", provider.callback());
  return {
    issuer,
    async token(clientId, resource = RESOURCE) {
      const res = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${clientId}:${clientId}-secret`).toString("base64")}` },
        body: new URLSearchParams({ grant_type: "client_credentials", scope: "uws", resource }).toString(),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!body.access_token) throw new Error(`token for ${clientId}: ${res.status} ${body.error} ${body.error_description}`);
      return body.access_token;
    },
    async mint(claims) {
      return new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "test-key-1", typ: "at+jwt" }).sign(privateKey);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
