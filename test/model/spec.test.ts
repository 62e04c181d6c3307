import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  generateClusterId, GENERATED_ID_PATTERN, KEYPAIR_SUFFIX, lookupOf, NAME_PATTERN, parseClusterTags, parseQualifiedName, parseSpec, pickClusterTags,
  qualifiedName, resolveCluster, SERVER_GROUP_SUFFIX, SpecError, TAG_EXPIRES, TAG_ID, TAG_NAME, TAG_ROLE, validateSpec,
} from "../../stacks/model/index.js";
import { openstackSpec } from "../harness/specs.js";

function issuesOf(raw: unknown): { field: string; message: string }[] {
  try {
    validateSpec(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as SpecError).issues;
  }
  throw new Error("spec was accepted");
}

describe("spec validation", () => {
  it("accepts the examples", () => {
    for (const f of ["examples/openstack.yaml", "examples/local.yaml"]) {
      expect(() => parseSpec(readFileSync(f, "utf8"), f)).not.toThrow();
    }
  });

  // Each invalid spec must be rejected with a message that names the offending field.
  const invalid: [string, Record<string, unknown>, string, RegExp?][] = [
    ["negative count", openstackSpec({ compute: { count: -3, flavor: "m1" } }), "compute.count", /integer from 0 to 500, got -3/],
    ["count too large", openstackSpec({ compute: { count: 501, flavor: "m1" } }), "compute.count"],
    ["fractional count", openstackSpec({ compute: { count: 1.5, flavor: "m1" } }), "compute.count"],
    ["bad name", openstackSpec({ name: "Bad_Name" }), "name", /\^\[a-z\]/],
    ["name too long", openstackSpec({ name: "a".repeat(42) }), "name"],
    ["missing name", openstackSpec({ name: undefined }), "name"],
    ["bad ttl", openstackSpec({ ttl: "8 hours" }), "ttl", /8h/],
    ["unknown target", openstackSpec({ target: "aws" }), "target", /openstack, local/],
    ["missing head image", openstackSpec({ head: { flavor: "m1" } }), "head.image"],
    ["cpus zero", openstackSpec({ head: { image: "i", flavor: "f", cpus: 0 } }), "head.cpus"],
    ["bad cidr", openstackSpec({ network: { create: { cidr: "192.168.44.1/24" } } }), "network.create.cidr", /host bits/],
    ["cidr too small for count", openstackSpec({ network: { create: { cidr: "10.0.0.0/28" } }, compute: { count: 10, flavor: "f" } }), "network.create.cidr", /larger subnet/],
    ["bad dns server", openstackSpec({ network: { create: { cidr: "10.0.0.0/24", dnsServers: ["dns.example"] } } }), "network.create.dnsServers[0]"],
    ["both network modes", openstackSpec({ network: { create: {}, existing: { network: "n", subnet: "s" } } }), "network", /exactly one/],
    ["existing network without subnet", openstackSpec({ network: { existing: { network: "n" } } }), "network.existing.subnet"],
    ["no external network", openstackSpec({ openstack: {} }), "openstack.externalNetwork"],
    ["missing sshCidrs", openstackSpec({ access: { keypair: "generate" } }), "access.sshCidrs"],
    ["bad ssh cidr", openstackSpec({ access: { sshCidrs: ["everyone"] } }), "access.sshCidrs[0]", /CIDR/],
    ["existing keypair without key file", openstackSpec({ access: { sshCidrs: ["0.0.0.0/0"], keypair: { existing: "k" } } }), "access.keypair.privateKeyFile"],
    ["volume both modes", openstackSpec({ volume: { managed: { sizeGb: 1 }, existing: { id: "x" } } }), "volume"],
    ["volume size zero", openstackSpec({ volume: { managed: { sizeGb: 0 } } }), "volume.managed.sizeGb"],
    ["existing volume bad id", openstackSpec({ volume: { existing: { id: "data" } } }), "volume.existing.id", /UUID/],
    ["bad server group", openstackSpec({ serverGroup: "affinity-please" }), "serverGroup"],
    ["unknown top-level field", openstackSpec({ computes: 3 }), "computes", /unknown field/],
    ["inline client secret", openstackSpec({ aai: { preset: "eduteams", clientId: "c", clientSecret: "hunter2" } }), "aai.clientSecret", /must not hold the secret/],
    ["generic aai without issuer", openstackSpec({ aai: { preset: "generic", clientId: "c", clientSecret: { env: "X" } } }), "aai.issuer"],
    ["oidc auth without aai", openstackSpec({ jobserver: { auth: "oidc" } }), "aai"],
    ["bad dns name", openstackSpec({ dns: { name: "not a name", email: "a@b.org" } }), "dns.name"],
    ["local target with existing network", { name: "loc", target: "local", network: { existing: { network: "n", subnet: "s" } } }, "network.existing"],
    ["local subnet not private", { name: "loc", target: "local", local: { subnet: "8.8.8.0/24" } }, "local.subnet"],
  ];
  it.each(invalid)("rejects %s naming the field", (_label, raw, field, message) => {
    const issues = issuesOf(raw);
    const hit = issues.find((i) => i.field === field);
    expect(hit, `issues were: ${JSON.stringify(issues)}`).toBeDefined();
    if (message) expect(hit!.message).toMatch(message);
  });

  it("reports every problem at once, not only the first", () => {
    const issues = issuesOf(openstackSpec({ name: "X", compute: { count: -1, flavor: "f" }, serverGroup: "x" }));
    expect(issues.map((i) => i.field).sort()).toEqual(["compute.count", "name", "serverGroup"]);
  });

  it("rejects malformed YAML with a clear error", () => {
    expect(() => parseSpec("name: [unclosed", "bad.yaml")).toThrow(/bad.yaml[\s\S]*not valid YAML/);
  });

  it("accepts JSON", () => {
    expect(parseSpec(JSON.stringify(openstackSpec())).name).toBe("t-cluster");
  });
});

describe("resolved model", () => {
  const now = new Date("2026-01-02T03:04:05.678Z");
  const cluster = resolveCluster(validateSpec(openstackSpec({ compute: { count: 3, flavor: "m1.medium", cpus: 2, memoryMb: 4096 } })), { now, id: "0123456789ab" });

  it("names nodes <name>-head and <name>-compute-<n> with fixed addresses from .10", () => {
    expect(cluster.nodes.map((n) => n.name)).toEqual(["t-cluster-head", "t-cluster-compute-1", "t-cluster-compute-2", "t-cluster-compute-3"]);
    expect(cluster.nodes.map((n) => n.privateIp)).toEqual(["192.168.44.10", "192.168.44.11", "192.168.44.12", "192.168.44.13"]);
    expect(cluster.computes.every((n) => n.image === "Debian-12" && n.flavor === "m1.medium")).toBe(true);
  });

  it("computes tags with an expiry from the ttl", () => {
    expect(cluster.tags).toEqual({ "uws-cluster": "t-cluster", "uws-cluster-id": "0123456789ab", "uws-cluster-expires": "2026-01-02T11:04:05Z" });
    const noTtl = resolveCluster(validateSpec(openstackSpec({ ttl: undefined })), { now, id: "0123456789ab" });
    expect(noTtl.expiresAt).toBeNull();
    expect(noTtl.tagList).toEqual(["uws-cluster=t-cluster", "uws-cluster-id=0123456789ab"]);
  });

  it("opens only 22 and 443 from the configured CIDRs, and all traffic inside the internal group", () => {
    const login = cluster.securityRules.filter((r) => r.group === "login");
    expect(login.map((r) => `${r.portMin}:${r.remoteCidr}`)).toEqual(["22:203.0.113.0/24", "443:0.0.0.0/0"]);
    const internal = cluster.securityRules.filter((r) => r.group === "internal");
    expect(internal).toHaveLength(1);
    expect(internal[0]).toMatchObject({ remoteGroup: "internal", direction: "ingress" });
    expect(internal[0]!.protocol).toBeUndefined();
  });

  it("gives ids to generated keypair and server group names (they carry no tags)", () => {
    expect(cluster.keypair).toEqual({ mode: "generate", name: "t-cluster-0123456789ab" });
    expect(cluster.serverGroup).toEqual({ name: "t-cluster-0123456789ab-servers", policy: "soft-anti-affinity" });
  });

  it("derives distinct local bridges and subnets from the name", () => {
    const a = resolveCluster(validateSpec({ name: "alpha", target: "local" }));
    const b = resolveCluster(validateSpec({ name: "beta", target: "local" }));
    expect(a.local.bridge).not.toBe(b.local.bridge);
    expect(a.local.subnet).not.toBe(b.local.subnet);
    expect(a.local.bridge.length).toBeLessThanOrEqual(15);
    expect(resolveCluster(validateSpec({ name: "alpha", target: "local" })).local).toEqual(a.local);
  });

  it("generates a new id when none is known and keeps a given one", () => {
    const spec = validateSpec(openstackSpec());
    expect(resolveCluster(spec).id).not.toBe(resolveCluster(spec).id);
    expect(resolveCluster(spec, { id: "abcdefabcdef" }).id).toBe("abcdefabcdef");
  });
});

describe("derived values every rendering reads", () => {
  const now = new Date("2026-01-02T03:04:05.678Z");
  const resolve = (o: Record<string, unknown>) => resolveCluster(validateSpec(openstackSpec(o)), { now, id: "0123456789ab" });

  it("tag keys are the ones existing clusters carry (the README and teardown rely on them)", () => {
    expect([TAG_NAME, TAG_ID, TAG_EXPIRES, TAG_ROLE]).toEqual(["uws-cluster", "uws-cluster-id", "uws-cluster-expires", "uws-cluster-role"]);
    expect(resolve({}).description).toBe("uws-cluster uws-cluster=t-cluster uws-cluster-id=0123456789ab uws-cluster-expires=2026-01-02T11:04:05Z");
  });

  it("reads the cluster tags back from tag lists, descriptions and metadata exactly", () => {
    const c = resolve({});
    expect(parseClusterTags(c.tagList)).toEqual(c.tags);
    expect(parseClusterTags(undefined, c.floatingIp.description)).toEqual(c.tags);
    expect(parseClusterTags(undefined, c.securityRules[0]!.description)).toEqual(c.tags);
    expect(pickClusterTags({ ...c.head.metadata, other: "x" })).toEqual(c.tags);
    // Look-alike keys and free text are not tags.
    expect(parseClusterTags([`${TAG_ID}-old=${c.id}`, `${TAG_ID}x=1`], `about ${c.id}; ${TAG_ID}:${c.id}`)).toEqual({});
  });

  it("names untagged resources <name>-<id><suffix> and parses them back", () => {
    const c = resolve({});
    expect(c.keypair.name).toBe(qualifiedName(c.name, c.id, KEYPAIR_SUFFIX));
    expect(c.serverGroup!.name).toBe(qualifiedName(c.name, c.id, SERVER_GROUP_SUFFIX));
    expect(parseQualifiedName(c.serverGroup!.name, SERVER_GROUP_SUFFIX, NAME_PATTERN)).toEqual({ name: c.name, id: c.id });
    expect(parseQualifiedName(c.keypair.name, KEYPAIR_SUFFIX, NAME_PATTERN)).toEqual({ name: c.name, id: c.id });
    expect(parseQualifiedName(`${c.name}${SERVER_GROUP_SUFFIX}`, SERVER_GROUP_SUFFIX, NAME_PATTERN)).toBeUndefined();
    expect(parseQualifiedName(`Bad_Name-${c.id}`, "", NAME_PATTERN)).toBeUndefined();
    expect(generateClusterId()).toMatch(GENERATED_ID_PATTERN);
  });

  it("gives every server its full metadata, and every port its description and groups", () => {
    const c = resolve({});
    for (const n of c.nodes) {
      expect(n.metadata).toEqual({ ...c.tags, [TAG_ROLE]: n.role });
      expect(n.portDescription).toBe(`${n.name}; ${c.description}`);
      expect(n.securityGroups).toEqual(n.role === "head" ? ["internal", "login"] : ["internal"]);
    }
    for (const r of c.securityRules) expect(r.description).toBe(`${r.id}; ${c.description}`);
  });

  it("keeps the allocation pool inside the subnet and below the first node, wherever the subnet starts", () => {
    for (const [cidr, pool, head] of [
      ["192.168.44.0/24", { start: "192.168.44.2", end: "192.168.44.9" }, "192.168.44.10"],
      ["10.20.30.64/26", { start: "10.20.30.66", end: "10.20.30.73" }, "10.20.30.74"],
      ["172.16.8.0/21", { start: "172.16.8.2", end: "172.16.8.9" }, "172.16.8.10"],
      ["10.1.2.240/28", { start: "10.1.2.242", end: "10.1.2.249" }, "10.1.2.250"],
    ] as const) {
      const c = resolve({ network: { create: { cidr, dnsServers: [] } }, compute: { count: cidr.endsWith("/28") ? 0 : 2, flavor: "m1.medium" } });
      expect(c.network.mode === "create" && c.network.allocationPool, cidr).toEqual(pool);
      expect(c.head.privateIp, cidr).toBe(head);
    }
  });

  it("looks images, flavors, networks and subnets up by id when given a UUID, else by name", () => {
    const uuid = "0f5a9d3c-1b2e-4c4d-9e8f-0a1b2c3d4e5f";
    expect(lookupOf(uuid)).toEqual({ by: "id", value: uuid });
    expect(lookupOf(uuid.toUpperCase())).toEqual({ by: "id", value: uuid.toUpperCase() });
    expect(lookupOf("Debian-12")).toEqual({ by: "name", value: "Debian-12" });
    expect(lookupOf(`${uuid}-x`)).toEqual({ by: "name", value: `${uuid}-x` });
    const c = resolve({
      head: { image: uuid, flavor: "m1.large", cpus: 4, memoryMb: 8192 },
      network: { existing: { network: "shared-net", subnet: uuid } },
    });
    expect(c.head.imageRef).toEqual({ by: "id", value: uuid });
    expect(c.head.flavorRef).toEqual({ by: "name", value: "m1.large" });
    expect(c.network).toMatchObject({ network: "shared-net", subnet: uuid, networkRef: { by: "name", value: "shared-net" }, subnetRef: { by: "id", value: uuid } });
  });
});
