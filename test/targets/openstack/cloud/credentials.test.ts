/** Credentials the standard way (clouds.yaml + secure.yaml, OS_* variables) and redaction. No cloud needed. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CredentialsError, describeCredentials, loadCredentials } from "../../../../scripts/targets/openstack/cloud/credentials.js";
import { redact, redactText, REDACTED } from "../../../../scripts/targets/openstack/redact.js";

const dir = mkdtempSync(join(tmpdir(), "uwsc-creds-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const home = join(dir, "home");
mkdirSync(join(home, ".config", "openstack"), { recursive: true });
const cwd = join(dir, "work");
mkdirSync(cwd);

writeFileSync(join(home, ".config", "openstack", "clouds.yaml"), `
clouds:
  pw:
    auth:
      auth_url: https://keystone.example.org:5000/v3
      username: alice
      project_name: astro
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionTwo
    interface: internal
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example.org:5000/v3
      application_credential_id: 0a1b2c3d
      application_credential_secret: s3cr3t-app-cred-value
  egi:
    auth_type: v3oidcaccesstoken
    auth:
      auth_url: https://keystone.egi.example/v3
      identity_provider: egi.eu
      protocol: openid
      access_token: eyJhbGciOi.oidc-access-token.sig
      project_id: 4f2b
  incomplete:
    auth:
      auth_url: https://keystone.example.org:5000/v3
      username: bob
`);
// secure.yaml carries the password apart from clouds.yaml and is merged into the cloud's entry
writeFileSync(join(home, ".config", "openstack", "secure.yaml"), `
clouds:
  pw:
    auth:
      password: alice-password-123
`);

const load = (env: NodeJS.ProcessEnv, cloud?: string) => loadCredentials({ env: { HOME: home, ...env }, cwd, cloud, searchDirs: [cwd, join(home, ".config", "openstack")] });

describe("credentials", () => {
  it("clouds.yaml + OS_CLOUD, with secure.yaml merged, region and interface", () => {
    const c = load({ OS_CLOUD: "pw" });
    expect(c).toMatchObject({
      authType: "password", authUrl: "https://keystone.example.org:5000/v3", username: "alice", password: "alice-password-123",
      projectName: "astro", userDomainName: "Default", regionName: "RegionTwo", interface: "internal", cloud: "pw",
    });
    expect(c.source).toContain("secure.yaml");
  });

  it("--cloud overrides OS_CLOUD; ./clouds.yaml is found before ~/.config/openstack", () => {
    writeFileSync(join(cwd, "clouds.yaml"), "clouds:\n  local:\n    auth:\n      auth_url: http://127.0.0.1:5000/v3\n      token: tok-abcdef-123\n");
    try {
      const c = load({ OS_CLOUD: "pw" }, "local");
      expect(c).toMatchObject({ authType: "token", token: "tok-abcdef-123", authUrl: "http://127.0.0.1:5000/v3" });
      expect(() => load({ OS_CLOUD: "pw" })).toThrow(/cloud "pw" is not in .*work\/clouds.yaml \(clouds there: local\)/);
    } finally {
      rmSync(join(cwd, "clouds.yaml"));
    }
  });

  it("application credential from clouds.yaml and from OS_* variables", () => {
    expect(load({ OS_CLOUD: "appcred" })).toMatchObject({ authType: "v3applicationcredential", applicationCredentialId: "0a1b2c3d", applicationCredentialSecret: "s3cr3t-app-cred-value" });
    const e = load({ OS_AUTH_URL: "https://k/v3", OS_AUTH_TYPE: "v3applicationcredential", OS_APPLICATION_CREDENTIAL_ID: "id1", OS_APPLICATION_CREDENTIAL_SECRET: "sec-ret-456" });
    expect(e).toMatchObject({ authType: "v3applicationcredential", applicationCredentialId: "id1", source: "OS_* variables", interface: "public" });
    // the auth type is inferred when OS_AUTH_TYPE is absent
    expect(load({ OS_AUTH_URL: "https://k/v3", OS_APPLICATION_CREDENTIAL_ID: "id1", OS_APPLICATION_CREDENTIAL_SECRET: "sec-ret-456" }).authType).toBe("v3applicationcredential");
  });

  it("OIDC access token (EGI Check-in) from clouds.yaml and OS_* variables", () => {
    expect(load({ OS_CLOUD: "egi" })).toMatchObject({ authType: "v3oidcaccesstoken", identityProvider: "egi.eu", protocol: "openid", accessToken: "eyJhbGciOi.oidc-access-token.sig", projectId: "4f2b" });
    const e = load({ OS_AUTH_URL: "https://k/v3", OS_AUTH_TYPE: "v3oidcaccesstoken", OS_IDENTITY_PROVIDER: "egi.eu", OS_PROTOCOL: "openid", OS_ACCESS_TOKEN: "at-987654" });
    expect(e).toMatchObject({ authType: "v3oidcaccesstoken", accessToken: "at-987654" });
    expect(() => load({ OS_AUTH_URL: "https://k/v3", OS_AUTH_TYPE: "v3oidcaccesstoken", OS_ACCESS_TOKEN: "at-987654" }))
      .toThrow(/missing OS_IDENTITY_PROVIDER \(e\.g\. egi\.eu\), OS_PROTOCOL \(e\.g\. openid\)/);
  });

  it("password from OS_* variables (openrc), with tenant aliases", () => {
    const c = load({ OS_AUTH_URL: "https://k/v3", OS_USERNAME: "u", OS_PASSWORD: "pw-000000", OS_TENANT_NAME: "p", OS_USER_DOMAIN_NAME: "D", OS_PROJECT_DOMAIN_ID: "default", OS_ENDPOINT_TYPE: "internalURL" });
    expect(c).toMatchObject({ authType: "password", projectName: "p", projectDomainId: "default", interface: "internal" });
  });

  it("errors name the missing field and the fix", () => {
    expect(() => load({})).toThrow(/set OS_CLOUD .* or source your project's openrc/);
    expect(() => load({ OS_CLOUD: "incomplete" })).toThrow(/clouds.yaml cloud "incomplete": auth.password, .*auth.user_domain_name, .*auth.project_name/);
    expect(() => load({ OS_AUTH_URL: "https://k/v3", OS_AUTH_TYPE: "kerberos" })).toThrow(/OS_AUTH_TYPE "kerberos" is not supported; use one of password/);
    expect(() => load({ OS_AUTH_URL: "keystone:5000", OS_TOKEN: "tok-123456" })).toThrow(/OS_AUTH_URL "keystone:5000" must be an http\(s\) URL/);
    expect(() => load({ OS_CLOUD: "nope" })).toThrow(CredentialsError);
    const err = (() => { try { load({}); } catch (e) { return e as CredentialsError; } })();
    expect(err?.exitCode).toBe(2);
  });

  it("describeCredentials shows where and who, never a secret", () => {
    for (const [env, secret] of [[{ OS_CLOUD: "pw" }, "alice-password-123"], [{ OS_CLOUD: "appcred" }, "s3cr3t-app-cred-value"], [{ OS_CLOUD: "egi" }, "oidc-access-token"]] as const) {
      const d = JSON.stringify(describeCredentials(load(env)));
      expect(d).not.toContain(secret);
    }
    expect(describeCredentials(load({ OS_CLOUD: "pw" }))).toMatchObject({ user: "alice", project: "astro", region: "RegionTwo" });
  });
});

describe("redaction", () => {
  it("replaces secret-keyed values anywhere in an object", () => {
    const r = redact({ auth: { password: "p", application_credential_secret: "s", token: "t", access_token: "a", username: "alice" }, headers: { "X-Auth-Token": "x", Authorization: "Bearer y" }, list: [{ client_secret: "c" }], empty: { password: "" } });
    expect(r).toEqual({ auth: { password: REDACTED, application_credential_secret: REDACTED, token: REDACTED, access_token: REDACTED, username: "alice" }, headers: { "X-Auth-Token": REDACTED, Authorization: REDACTED }, list: [{ client_secret: REDACTED }], empty: { password: "" } });
  });

  it("hides every loaded secret in free text (error bodies, URLs) and token headers", () => {
    load({ OS_CLOUD: "appcred" }); // registers its secret
    expect(redactText("Keystone said: invalid secret s3cr3t-app-cred-value for 0a1b2c3d")).toBe(`Keystone said: invalid secret ${REDACTED} for 0a1b2c3d`);
    expect(redactText("X-Auth-Token: gAAAAABk.abc-def")).toBe(`X-Auth-Token: ${REDACTED}`);
    expect(redactText("authorization: Bearer eyJhbGciOiJSUzI1NiJ9.x.y")).toBe(`authorization: Bearer ${REDACTED}`);
    expect(redactText('{"password": "hunter22", "id": "abc"}')).toBe(`{"password": "${REDACTED}", "id": "abc"}`);
    // ordinary ids and names stay readable
    expect(redactText("server 3f2a-11 deleted")).toBe("server 3f2a-11 deleted");
  });
});
