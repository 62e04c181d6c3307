// Authentication and ownership: tokens mode, OIDC against a real provider (oidc-provider package),
// and per-job callback secrets. No trust by source address or forwarded headers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jobSecret } from "../../../runtime/auth/callback.js";
import { createJob, http, startServer, waitFinal, type Running } from "../helpers.js";
import { AUDIENCE, OTHER_RESOURCE, startIssuer, type Issuer } from "./oidc-issuer.js";

describe("auth tokens", () => {
  let s: Running;
  const adminFile = join(tmpdir(), `uws-admin-${process.pid}`);
  beforeAll(async () => {
    writeFileSync(adminFile, "root-token\n", { mode: 0o400 });
    s = await startServer({ auth: "tokens", tokens: ["a=alice", "b=bob"], adminTokenFile: adminFile });
  });
  afterAll(async () => {
    await s?.stop();
    rmSync(adminFile, { force: true });
  });

  it("401 without or with an unknown token; forwarded headers change nothing", async () => {
    for (const headers of <Array<Record<string, string>>>[{}, { "x-forwarded-for": "127.0.0.1" }, { authorization: "Bearer nope" }, { authorization: "Basic YTph" }]) {
      const r = await http("GET", `${s.url}/uws/hello`, { headers });
      expect(r.status).toBe(401);
      expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
    expect((await http("POST", `${s.url}/uws/hello`, { form: { name: "x" } })).status).toBe(401);
    expect((await http("GET", `${s.url}/health`)).status).toBe(200);
  });

  it("owners see and act on their own jobs only; the admin sees all", async () => {
    const ja = await createJob(s.url, "hello", { PHASE: "RUN" }, "a");
    const jb = await createJob(s.url, "hello", {}, "b");
    expect((await http("GET", `${ja}/owner`, { token: "a" })).body).toBe("alice");
    expect((await http("GET", ja, { token: "a" })).body).toContain("<uws:ownerId>alice</uws:ownerId>");
    const listA = (await http("GET", `${s.url}/uws/hello`, { token: "a" })).body;
    expect(listA).toContain(ja.split("/").pop());
    expect(listA).not.toContain(jb.split("/").pop());
    for (const [m, u, form] of [
      ["GET", jb, undefined],
      ["GET", `${jb}/phase`, undefined],
      ["GET", `${jb}/parameters`, undefined],
      ["POST", `${jb}/phase`, { PHASE: "RUN" }],
      ["POST", jb, { ACTION: "DELETE" }],
      ["DELETE", jb, undefined],
    ] as const)
      expect((await http(m, u, { token: "a", form: form as any })).status, `${m} ${u}`).toBe(403);
    const all = (await http("GET", `${s.url}/uws/hello`, { token: "root-token" })).body;
    expect(all).toContain(ja.split("/").pop());
    expect(all).toContain(jb.split("/").pop());
    expect(await waitFinal(ja, "a")).toBe("COMPLETED");
    expect((await http("GET", `${ja}/results/greeting`, { token: "b" })).status).toBe(403);
    expect((await http("DELETE", jb, { token: "root-token" })).status).toBe(303);
  });

  it("job callbacks need the per-job secret; source address and X-Forwarded-For are ignored", async () => {
    const j = await createJob(s.url, "sleep", { seconds: "1" }, "a");
    const id = j.split("/").pop()!;
    const key = Buffer.from(readFileSync(join(s.dir, "data", "job-secret.key"), "utf8").trim());
    const cb = `${s.url}/callback/jobs/${id}`;
    expect((await http("POST", cb)).status).toBe(403);
    expect((await http("POST", cb, { headers: { "x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1" } })).status).toBe(403);
    expect((await http("POST", cb, { token: jobSecret(key, "someotherjob") })).status).toBe(403);
    expect((await http("POST", cb, { token: jobSecret(key, id) })).status).toBe(204);
  });
});

describe("auth oidc (real oidc-provider on loopback)", () => {
  let s: Running;
  let idp: Issuer;
  beforeAll(async () => {
    idp = await startIssuer({
      "alice-app": ["urn:geant:example.org:group:uws#members"],
      "admin-app": ["urn:geant:example.org:group:uws-admins"],
      "outsider-app": ["urn:geant:example.org:group:other"],
    });
    s = await startServer({
      auth: "oidc",
      oidc: {
        issuer: idp.issuer,
        audience: AUDIENCE,
        clientId: null,
        clientSecretFile: null,
        scopes: ["openid"],
        entitlementClaim: "eduperson_entitlement",
        allow: { entitlements: ["urn:geant:example.org:group:uws#members"], subs: [] },
        admins: { entitlements: ["urn:geant:example.org:group:uws-admins"], subs: [] },
      },
    });
  });
  afterAll(async () => {
    await s?.stop();
    await idp?.stop();
  });

  it("valid token with the entitlement → 200/303; owner = sub", async () => {
    const t = await idp.token("alice-app");
    expect((await http("GET", `${s.url}/uws/hello`, { token: t })).status).toBe(200);
    const j = await createJob(s.url, "hello", {}, t);
    expect((await http("GET", `${j}/owner`, { token: t })).body).toBe("alice-app");
    const admin = await idp.token("admin-app");
    expect((await http("GET", j, { token: admin })).status).toBe(200);
  });

  it("no token → 401, wrong audience → 401, expired → 401, wrong issuer → 401, missing entitlement → 403", async () => {
    expect((await http("GET", `${s.url}/uws/hello`)).status).toBe(401);
    const wrongAud = await idp.token("alice-app", OTHER_RESOURCE);
    const r = await http("GET", `${s.url}/uws/hello`, { token: wrongAud });
    expect(r.status).toBe(401);
    expect(r.body).toMatch(/aud/);
    const now = Math.floor(Date.now() / 1000);
    const base = { sub: "alice-app", aud: AUDIENCE, iss: idp.issuer, eduperson_entitlement: ["urn:geant:example.org:group:uws#members"] };
    // Control: the same minting path with valid claims is accepted, so the failures below are the claims'.
    expect((await http("GET", `${s.url}/uws/hello`, { token: await idp.mint({ ...base, iat: now, exp: now + 60 }) })).status).toBe(200);
    const expired = await idp.mint({ ...base, iat: now - 3600, exp: now - 600 });
    expect((await http("GET", `${s.url}/uws/hello`, { token: expired })).status).toBe(401);
    const wrongIss = await idp.mint({ ...base, iss: "http://127.0.0.1:1/not-the-issuer", iat: now, exp: now + 60 });
    expect((await http("GET", `${s.url}/uws/hello`, { token: wrongIss })).status).toBe(401);
    const outsider = await idp.token("outsider-app");
    const f = await http("GET", `${s.url}/uws/hello`, { token: outsider });
    expect(f.status).toBe(403);
    expect(f.body).toMatch(/entitlement/);
    // A token signed by a key the issuer never published.
    const { generateKeyPair, SignJWT } = await import("jose");
    const { privateKey } = await generateKeyPair("RS256");
    const forged = await new SignJWT({ ...base }).setProtectedHeader({ alg: "RS256", kid: "test-key-1" }).setIssuedAt(now).setExpirationTime(now + 60).sign(privateKey);
    expect((await http("GET", `${s.url}/uws/hello`, { token: forged })).status).toBe(401);
  });
});
