/**
 * The parts of the OpenStack power agent that need no cloud: which roles the credential gets, the
 * access rules' paths under each service's catalog path, and the reasons a failed call turns into.
 * (Everything else runs against the loopback cloud in cloud-power.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { agentAccessRules, narrowestRoles } from "../../../scripts/elastic/openstack/credential.js";
import { reasonOf } from "../../../scripts/elastic/openstack/driver.js";
import { OpenStackClient, OpenStackError } from "../../../scripts/targets/openstack/cloud/client.js";

describe("credential roles", () => {
  it("member alone when the user has it, never admin", () => {
    expect(narrowestRoles([{ name: "admin" }, { name: "reader" }, { name: "member" }])).toEqual(["member"]);
    expect(narrowestRoles([{ name: "_member_" }, { name: "heat_stack_owner" }])).toEqual(["_member_"]);
    expect(narrowestRoles([{ name: "admin" }, { name: "compute-operator" }])).toEqual(["compute-operator"]);
  });

  it("refuses a user whose only roles are admin or reader, saying what to do", () => {
    expect(() => narrowestRoles([{ name: "admin" }, { name: "reader" }])).toThrow(/never gives a cluster the admin role: give the user the member role/);
  });
});

describe("access rules", () => {
  /** A client whose token carries this catalog (the data Keystone returns; no request is made). */
  const withCatalog = (compute: string, network: string, image: string) => {
    const c = new OpenStackClient({ source: "test", authType: "password", authUrl: "https://keystone.example.org:5000/v3", interface: "public" });
    const ep = (type: string, url: string) => ({ type, endpoints: [{ interface: "public", region_id: "R", url }] });
    c.session = { token: "t", expiresAt: "", userId: "u", projectId: "p", catalog: [ep("compute", compute), ep("network", network), ep("image", image)], methods: ["password"], roles: [] };
    return c;
  };

  it("paths start with the path each service's endpoint has (Keystone matches what the service sees)", () => {
    const plain = agentAccessRules(withCatalog("http://h:8774/v2.1", "http://h:9696", "http://h:9292"));
    expect(plain).toContainEqual({ service: "compute", method: "DELETE", path: "/v2.1/servers/*" });
    expect(plain).toContainEqual({ service: "network", method: "POST", path: "/v2.0/ports" });
    expect(plain).toContainEqual({ service: "image", method: "GET", path: "/v2/images" });
    const proxied = agentAccessRules(withCatalog("https://c.example.org/compute/v2.1/p", "https://c.example.org/network/", "https://c.example.org/image"));
    expect(proxied).toContainEqual({ service: "compute", method: "POST", path: "/compute/v2.1/p/servers" });
    expect(proxied).toContainEqual({ service: "network", method: "DELETE", path: "/network/v2.0/ports/*" });
    expect(proxied).toContainEqual({ service: "image", method: "GET", path: "/image/v2/images/*" });
  });

  it("the issue's set exactly: create/delete servers and ports, reads of servers, ports, images, flavors and networks; no server action, port update or group read", () => {
    const rules = agentAccessRules(withCatalog("http://h:8774/v2.1", "http://h:9696", "http://h:9292"));
    const writes = rules.filter((r) => r.method !== "GET").map((r) => `${r.service} ${r.method} ${r.path}`);
    expect(writes.sort()).toEqual(["compute DELETE /v2.1/servers/*", "compute POST /v2.1/servers", "network DELETE /v2.0/ports/*", "network POST /v2.0/ports"]);
    const reads = new Set(rules.filter((r) => r.method === "GET").map((r) => `${r.service} ${r.path.split("/")[2]}`));
    expect([...reads].sort()).toEqual(["compute flavors", "compute servers", "image images", "network networks", "network ports"]);
    // A rule matching servers/*/action would allow reboot, rebuild, stop… on every server of the project.
    expect(rules.some((r) => /action|tags|security-groups|os-server-groups|keypair|volume|snapshot|floatingip|router|subnet|application_credential/.test(r.path))).toBe(false);
  });
});

describe("failure reasons", () => {
  const err = (status: number, url: string, body: string) => new OpenStackError(`POST ${url} → ${status}: ${body}`, status, "POST", url, body);
  it("quota answers (Nova 403/413, Neutron 409) say quota exceeded", () => {
    expect(reasonOf(err(403, "http://h/v2.1/servers", "Quota exceeded for instances: Requested 1, but already used 4 of 4 instances"), null)).toMatch(/^quota exceeded: .*Quota exceeded for instances/);
    expect(reasonOf(err(413, "http://h/v2.1/servers", "Quota exceeded for cores"), null)).toMatch(/^quota exceeded/);
    expect(reasonOf(err(409, "http://h/v2.0/ports", "{\"NeutronError\": {\"type\": \"OverQuota\"}}"), null)).toMatch(/^quota exceeded/);
    expect(reasonOf(err(403, "http://h/v2.1/servers", "Policy doesn't allow"), null)).not.toMatch(/quota/);
  });

  it("a refused login says expired (past the credential's expiry) or revoked", () => {
    const past = new Date(Date.now() - 60_000).toISOString(), future = new Date(Date.now() + 3600_000).toISOString();
    expect(reasonOf(err(401, "http://k/v3/auth/tokens", "The request you have made requires authentication."), past)).toBe(`the power agent's OpenStack credential expired at ${past} (the cluster's ttl): no node can be created or removed any more`);
    expect(reasonOf(err(404, "http://k/v3/auth/tokens", "Could not find Application Credential"), future)).toMatch(/refused by Keystone \(revoked or deleted\?\)/);
  });
});
