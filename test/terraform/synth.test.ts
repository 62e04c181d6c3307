import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TAG_EXPIRES, type Cluster } from "../../stacks/model/index.js";
import { generateBindings } from "../../stacks/terraform/generate-bindings.js";
import { synthTerraform } from "../../stacks/terraform/synth.js";
import { NETWORKS, openstackCluster, stackInputs, VOLUMES } from "../harness/specs.js";
import { checkConfig, loadProviderSchema, sensitiveArgumentsSet } from "./provider-schema.js";

const schema = loadProviderSchema("stacks/terraform/schema/openstack-provider-schema.json");
type TF = Record<string, any>;

function build(overrides: Record<string, unknown>): { cluster: Cluster; tf: TF } {
  const cluster = openstackCluster(overrides);
  return { cluster, tf: synthTerraform(cluster, stackInputs(cluster)) };
}
const all = (tf: TF, type: string): TF[] => Object.values(tf.resource?.[type] ?? {});
const count = (tf: TF, type: string) => all(tf, type).length;


describe("synthesized Terraform JSON matches the OpenStack provider schema", () => {
  for (const n of [0, 1, 5, 100]) {
    for (const net of ["create", "existing"] as const) {
      for (const vol of ["managed", "existing"] as const) {
        it(`${n} compute nodes, ${net} network, ${vol} volume`, () => {
          const { cluster, tf } = build({ compute: { count: n, flavor: "m1.medium" }, ...NETWORKS[net], ...VOLUMES[vol] });
          expect(checkConfig(schema, tf)).toEqual([]);
          expect(sensitiveArgumentsSet(schema, tf)).toEqual([]);
          expect(count(tf, "openstack_compute_instance_v2")).toBe(n + 1);
          expect(count(tf, "openstack_networking_port_v2")).toBe(n + 1);
          expect(count(tf, "openstack_networking_network_v2")).toBe(net === "create" ? 1 : 0);
          expect(count(tf, "openstack_networking_router_v2")).toBe(net === "create" ? 1 : 0);
          expect(count(tf, "openstack_networking_router_interface_v2")).toBe(net === "create" ? 1 : 0);
          expect(count(tf, "openstack_networking_floatingip_v2")).toBe(net === "create" ? 1 : 0);
          expect(count(tf, "openstack_blockstorage_volume_v3")).toBe(vol === "managed" ? 1 : 0);
          expect(count(tf, "openstack_compute_volume_attach_v2")).toBe(1);
          expect(all(tf, "openstack_compute_instance_v2").map((i) => i.name).sort()).toEqual(cluster.nodes.map((x) => x.name).sort());
        });
      }
    }
  }

  it("declares every resource kind a cluster needs, with the outputs", () => {
    const { tf } = build({});
    for (const type of ["openstack_networking_network_v2", "openstack_networking_subnet_v2", "openstack_networking_router_v2",
      "openstack_networking_router_interface_v2", "openstack_networking_secgroup_v2", "openstack_networking_secgroup_rule_v2",
      "openstack_compute_keypair_v2", "openstack_networking_port_v2", "openstack_compute_instance_v2", "openstack_networking_floatingip_v2",
      "openstack_networking_floatingip_associate_v2", "openstack_blockstorage_volume_v3", "openstack_compute_volume_attach_v2",
      "openstack_compute_servergroup_v2"]) expect(count(tf, type), type).toBeGreaterThan(0);
    expect(Object.keys(tf.output).sort()).toEqual(["cluster_id", "head_public_ip", "private_ips"]);
    expect(tf.output.cluster_id.value).toBe("0123456789ab");
  });

  it("tags every resource that supports tags or metadata", () => {
    const { cluster, tf } = build({});
    let checked = 0;
    for (const [type, instances] of Object.entries(tf.resource as Record<string, Record<string, TF>>)) {
      const block = schema.resources[type]!;
      for (const body of Object.values(instances)) {
        if (block.attributes?.tags) { expect(body.tags, type).toEqual(expect.arrayContaining(cluster.tagList)); checked++; }
        if (block.attributes?.metadata) { expect(body.metadata, type).toMatchObject(cluster.tags); checked++; }
      }
    }
    expect(checked).toBeGreaterThan(10);
    expect(cluster.tags[TAG_EXPIRES]).toBe("2026-01-01T08:00:00Z");
  });

  it("opens SSH and HTTPS only from the configured CIDRs", () => {
    const { tf } = build({ access: { sshCidrs: ["198.51.100.0/24", "203.0.113.7/32"], httpsCidrs: ["192.0.2.0/24"] } });
    const cidrRules = all(tf, "openstack_networking_secgroup_rule_v2").filter((r) => r.remote_ip_prefix);
    expect(cidrRules.map((r) => `${r.port_range_min}/${r.remote_ip_prefix}`).sort()).toEqual(["22/198.51.100.0/24", "22/203.0.113.7/32", "443/192.0.2.0/24"]);
  });

  it("uses an existing keypair without creating one, and no server group when none", () => {
    const { tf } = build({ access: { sshCidrs: ["0.0.0.0/0"], keypair: { existing: "my-key", privateKeyFile: "/k" } }, serverGroup: "none" });
    expect(count(tf, "openstack_compute_keypair_v2")).toBe(0);
    expect(count(tf, "openstack_compute_servergroup_v2")).toBe(0);
    expect(all(tf, "openstack_compute_instance_v2").every((i) => i.key_pair === "my-key" && !i.scheduler_hints)).toBe(true);
  });

  it("looks images and flavors up by id when the spec gives a UUID, by name otherwise, and keeps the DHCP pool in a subnet not at .0", () => {
    const image = "7d3c5a1e-0b2f-4e6d-9c8b-1a2b3c4d5e6f", flavor = "5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f";
    const { cluster, tf } = build({
      head: { image, flavor: "m1.large", cpus: 4, memoryMb: 8192 }, compute: { count: 2, image: "Debian-12", flavor, cpus: 2, memoryMb: 4096 },
      network: { create: { cidr: "10.20.30.64/26", dnsServers: [] } },
    });
    expect(checkConfig(schema, tf)).toEqual([]);
    const inst = Object.fromEntries(all(tf, "openstack_compute_instance_v2").map((i) => [i.name, i]));
    expect(inst[cluster.head.name]).toMatchObject({ image_id: image, flavor_name: "m1.large" });
    expect(inst[cluster.head.name].image_name).toBeUndefined();
    for (const n of cluster.computes) {
      expect(inst[n.name]).toMatchObject({ image_name: "Debian-12", flavor_id: flavor });
      expect(inst[n.name].flavor_name).toBeUndefined();
    }
    expect(all(tf, "openstack_networking_subnet_v2")[0]!.allocation_pool).toEqual([{ start: "10.20.30.66", end: "10.20.30.73" }]);
  });

  it("holds no credentials and no secret material", () => {
    const { tf } = build({ aai: { preset: "eduteams", clientId: "c", clientSecret: { env: "SECRET_VAR" } } });
    expect(tf.provider.openstack).toEqual([{}]);
    expect(tf.terraform.required_providers.openstack).toEqual({ source: "terraform-provider-openstack/openstack", version: "~> 3.0" });
    const text = JSON.stringify(tf);
    for (const bad of ["PRIVATE KEY", "password", "application_credential_secret", "munge.key", "client-secret"]) expect(text).not.toContain(bad);
  });

  it("the checker catches each kind of schema violation (so the checks above can fail)", () => {
    const { tf } = build({});
    const inst = Object.values(tf.resource.openstack_compute_instance_v2)[0] as TF;
    const port = Object.values(tf.resource.openstack_networking_port_v2)[0] as TF;
    inst.flavour_name = "typo";                        // unknown argument
    inst.access_ip_v4 = "1.2.3.4";                     // computed-only
    delete port.network_id;                            // missing required
    inst.config_drive = "yes";                         // wrong literal type
    inst.vendor_options = [{}, {}];                    // block max_items 1
    const problems = checkConfig(schema, tf).join("\n");
    expect(problems).toMatch(/flavour_name: unknown argument/);
    expect(problems).toMatch(/access_ip_v4: computed-only/);
    expect(problems).toMatch(/network_id: required argument missing/);
    expect(problems).toMatch(/config_drive: expected bool/);
    expect(problems).toMatch(/vendor_options: at most 1/);
  });
});

describe("generated bindings", () => {
  const dir = mkdtempSync(join(tmpdir(), "uwsc-gen-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("are up to date with the committed schema (npm run gen:openstack regenerates them)", async () => {
    await generateBindings(dir);
    const files = (root: string) => readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts")).sort();
    const committed = "stacks/terraform/.gen";
    expect(files(dir)).toEqual(files(committed));
    for (const f of files(dir)) expect(readFileSync(join(dir, f), "utf8"), f).toBe(readFileSync(join(committed, f), "utf8"));
  });
});
