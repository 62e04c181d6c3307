/**
 * Parity: for the same spec, the Pulumi program (run under mocks) and the Terraform stack
 * (synthTerraform's cdk.tf.json) declare the same resources and data sources, with the same names,
 * tags, metadata, security rules and arguments; and the test cloud builder
 * (test/targets/openstack/cloud/build.ts, which creates clusters through the API for the sweep tests)
 * makes the same resources with the same names, tags, metadata, allocation pool, ports, rules and
 * servers. Pulumi types are mapped to Terraform types (type-map.ts); references on every side are
 * rewritten to `ref:<type>:<name>` (parity.ts).
 */
import { describe, expect, it } from "vitest";
import { FIRST_NODE_OFFSET, TAG_ROLE, type Cluster } from "../../stacks/model/index.js";
import { parseIpv4 } from "../../stacks/model/net.js";
import { synthTerraform } from "../../stacks/terraform/synth.js";
import { openstackCluster, stackInputs } from "../harness/specs.js";
import { runProgramWithMocks } from "./mock-run.js";
import { planCluster } from "../targets/openstack/cloud/build.js";
import { BUILDER_ARGS, diffBuilder, diffParity, fromBuilder, fromPulumi, fromTerraform, securityRules, type NormResource } from "./parity.js";
import { PULUMI_TO_TERRAFORM } from "./type-map.js";


async function both(c: Cluster, pulumiCluster: Cluster = c) {
  const opts = stackInputs(c);
  const tfJson = synthTerraform(c, opts) as Record<string, any>;
  const run = await runProgramWithMocks(pulumiCluster, opts);
  return { tf: fromTerraform(tfJson), pu: fromPulumi(run), tfJson, run };
}

const kinds = (l: NormResource[]) => l.map((r) => `${r.kind} ${r.ident}`).sort();
const names = (l: NormResource[]) => l.filter((r) => r.args.name !== undefined && !r.kind.startsWith("data.")).map((r) => `${r.kind} ${r.args.name}`).sort();
const tagsOf = (l: NormResource[]) => l.filter((r) => r.args.tags || r.args.metadata).map((r) => ({ r: `${r.kind} ${r.ident}`, tags: r.args.tags, metadata: r.args.metadata }))
  .sort((a, b) => a.r.localeCompare(b.r));

const specs: Record<string, Record<string, unknown>> = {
  "0 compute nodes": { compute: { count: 0, flavor: "m1.medium" } },
  "1 compute node": { compute: { count: 1, flavor: "m1.medium" } },
  "5 compute nodes, region, AZ, DNS (port 80 rules)": {
    compute: { count: 5, flavor: "m1.medium" }, openstack: { externalNetwork: "public", region: "RegionTwo", availabilityZone: "az-b" },
    dns: { name: "c.example.org", email: "ops@example.org" },
  },
  "existing network by name and subnet by id, existing volume": {
    network: { existing: { network: "shared-net", subnet: "0f5a9d3c-1b2e-4c4d-9e8f-0a1b2c3d4e5f" } },
    volume: { existing: { id: "6b1e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b" } },
  },
  "existing network by id, no volume, existing keypair, no server group, several CIDRs": {
    network: { existing: { network: "3c2d1e0f-1111-4222-8333-944455566677", subnet: "shared-subnet" } }, volume: "none",
    access: { sshCidrs: ["198.51.100.0/24", "203.0.113.7/32"], httpsCidrs: ["192.0.2.0/24", "0.0.0.0/0"], keypair: { existing: "my-key", privateKeyFile: "/k" } },
    serverGroup: "none",
  },
  "managed volume with a type, anti-affinity, no TTL": { volume: { managed: { sizeGb: 100, type: "ssd" } }, serverGroup: "anti-affinity", ttl: undefined },
  "a subnet that does not start at .0 (10.20.30.64/26), image and flavor by id": {
    network: { create: { cidr: "10.20.30.64/26", dnsServers: ["192.0.2.53"] } },
    head: { image: "7d3c5a1e-0b2f-4e6d-9c8b-1a2b3c4d5e6f", flavor: "m1.large", cpus: 4, memoryMb: 8192 },
    compute: { count: 3, image: "Debian-12", flavor: "5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f", cpus: 2, memoryMb: 4096 },
  },
};

/** The Terraform resources the builder makes (its plan has no data sources, and no volumes: the test cloud has no Cinder). */
const builtByBoth = (tf: NormResource[]) => tf.filter((r) => BUILDER_ARGS[r.kind]);
const ipv4 = (a: unknown) => parseIpv4(String(a))!;

describe("Pulumi program and Terraform stack declare the same cluster", () => {
  for (const [title, overrides] of Object.entries(specs)) {
    it(title, async () => {
      const c = openstackCluster(overrides);
      const { tf, pu, tfJson, run } = await both(c);
      expect(tf.length).toBeGreaterThan(8);
      expect(kinds(pu)).toEqual(kinds(tf));
      expect(names(pu)).toEqual(names(tf));
      expect(tagsOf(pu)).toEqual(tagsOf(tf));
      expect(securityRules(pu)).toEqual(securityRules(tf));
      expect(securityRules(tf)).toHaveLength(c.securityRules.length);
      // Every argument of every resource, references included.
      expect(diffParity(tf, pu)).toEqual([]);
      // Same outputs, read the same way by both engines.
      expect(Object.keys(run.outputs).sort()).toEqual(Object.keys(tfJson.output).sort());
      expect(run.outputs.cluster_id).toBe(tfJson.output.cluster_id.value);
    });
  }

  for (const [title, overrides] of Object.entries(specs)) {
    const c = openstackCluster(overrides);
    if (c.network.mode !== "create") continue; // the builder creates its network (asserted below)
    it(`and the test cloud builder makes the same: ${title}`, async () => {
      const { tf } = await both(c);
      const built = fromBuilder(planCluster(c));
      const tfBuilt = builtByBoth(tf);
      expect(kinds(built)).toEqual(kinds(tfBuilt));
      expect(names(built)).toEqual(names(tfBuilt));
      expect(tagsOf(built)).toEqual(tagsOf(tfBuilt));
      expect(securityRules(built)).toEqual(securityRules(tf));
      // The allocation pool is the model's, on every side, and lies inside the subnet below the first node.
      const pools = [tf, built].map((l) => l.find((r) => r.kind === "openstack_networking_subnet_v2")!.args.allocation_pool);
      expect(pools).toEqual([[c.network.mode === "create" && c.network.allocationPool], pools[0]]);
      const [base, bits] = (c.network.mode === "create" ? c.network.cidr : "").split("/");
      const pool = (pools[1] as { start: string; end: string }[])[0]!;
      expect(ipv4(pool.start)).toBe(ipv4(base) + 2);
      expect(ipv4(pool.end)).toBeLessThan(ipv4(base) + FIRST_NODE_OFFSET);
      expect(ipv4(pool.end)).toBeLessThan(ipv4(base) + 2 ** (32 - Number(bits)));
      for (const n of c.nodes) expect(ipv4(n.privateIp) > ipv4(pool.end), n.name).toBe(true);
      // Servers: role metadata, image and flavor looked up as the model says.
      for (const i of built.filter((r) => r.kind === "openstack_compute_instance_v2")) {
        const node = c.nodes.find((n) => n.name === i.ident)!;
        expect((i.args.metadata as Record<string, string>)[TAG_ROLE]).toBe(node.role);
        expect(i.args[`image_${node.imageRef.by}`]).toBe(node.image);
        expect(i.args[`flavor_${node.flavorRef.by}`]).toBe(node.flavor);
      }
      // Every compared argument of every resource, references included.
      expect(diffBuilder(tf, built)).toEqual([]);
    });
  }

  it("the test cloud builder creates its network: existing networks are refused, not silently built otherwise", () => {
    const existing = openstackCluster(specs["existing network by name and subnet by id, existing volume"]!);
    expect(() => planCluster(existing)).toThrow(/network mode create only/);
  });

  it("maps every OpenStack type the Pulumi program uses, and nothing maps twice", async () => {
    const { run, tfJson } = await both(openstackCluster({}));
    const used = new Set([...run.resources.map((r) => r.type), ...run.calls.map((c) => c.token)].filter((t) => t.startsWith("openstack:")));
    for (const t of used) expect(PULUMI_TO_TERRAFORM[t], t).toBeDefined();
    const values = Object.values(PULUMI_TO_TERRAFORM);
    expect(new Set(values).size).toBe(values.length);
    for (const t of Object.keys(tfJson.resource)) expect(values, t).toContain(t);
  });
});

describe("the parity check can fail", () => {
  it("catches a security rule altered on one side only", async () => {
    const c = openstackCluster({});
    const altered = structuredClone(c);
    const ssh = altered.securityRules.find((r) => r.id === "ssh-0")!;
    ssh.portMin = ssh.portMax = 2222;
    const { tf, pu } = await both(c, altered);
    expect(securityRules(pu)).not.toEqual(securityRules(tf));
    expect(diffParity(tf, pu).join("\n")).toMatch(/secgroup_rule_v2 rule-ssh-0: port_range_min differs: terraform 22 vs pulumi 2222/);
  });

  it("catches a renamed resource, a changed remote CIDR and a dropped tag in the extracted data", async () => {
    const { tf, pu } = await both(openstackCluster({}));
    expect(diffParity(tf, pu)).toEqual([]);
    const renamed = structuredClone(pu);
    const inst = renamed.find((r) => r.kind === "openstack_compute_instance_v2" && r.ident === "t-cluster-head")!;
    inst.args.name = inst.ident = `${inst.ident}-x`;
    expect(diffParity(tf, renamed)).toEqual(expect.arrayContaining([expect.stringMatching(/^only in pulumi: openstack_compute_instance_v2 t-cluster-head-x$/),
      expect.stringMatching(/^only in terraform: openstack_compute_instance_v2 t-cluster-head$/)]));
    expect(names(renamed)).not.toEqual(names(tf));

    const cidr = structuredClone(tf);
    cidr.find((r) => r.ident === "rule-https-0")!.args.remote_ip_prefix = "10.0.0.0/8";
    expect(securityRules(cidr)).not.toEqual(securityRules(pu));
    expect(diffParity(cidr, pu).join("\n")).toMatch(/rule-https-0: remote_ip_prefix differs/);

    const untagged = structuredClone(pu);
    const net = untagged.find((r) => r.kind === "openstack_networking_network_v2")!;
    net.args.tags = (net.args.tags as string[]).slice(1);
    expect(tagsOf(untagged)).not.toEqual(tagsOf(tf));
    expect(diffParity(tf, untagged).join("\n")).toMatch(/openstack_networking_network_v2 t-cluster-net: tags differs/);
  });

  it("catches a builder whose allocation pool, metadata, rule or port differs from the stacks'", async () => {
    const c = openstackCluster(specs["a subnet that does not start at .0 (10.20.30.64/26), image and flavor by id"]!);
    const { tf } = await both(c);
    const plan = planCluster(c);
    expect(diffBuilder(tf, fromBuilder(plan))).toEqual([]);
    const alter = (key: string, f: (body: Record<string, any>) => void) => {
      const p = structuredClone(plan);
      f(p.find((s) => s.key === key)!.body);
      return diffBuilder(tf, fromBuilder(p)).join("\n");
    };
    // The pool the builder used to derive from the gateway's text: .2-.9 of the /24, outside a subnet at .64.
    expect(alter("subnet", (b) => { b.allocation_pools = [{ start: "10.20.30.2", end: "10.20.30.9" }]; }))
      .toMatch(/openstack_networking_subnet_v2 t-cluster-subnet: allocation_pool differs: terraform \[\{"end":"10.20.30.73","start":"10.20.30.66"\}\] vs builder \[\{"end":"10.20.30.9","start":"10.20.30.2"\}\]/);
    expect(alter("instance-t-cluster-head", (b) => { delete b.metadata[TAG_ROLE]; })).toMatch(/instance_v2 t-cluster-head: metadata differs/);
    expect(alter("instance-t-cluster-head", (b) => { b.imageRef.ref.by = "name"; })).toMatch(/instance_v2 t-cluster-head: image_id differs/);
    expect(alter("rule-ssh-0", (b) => { b.port_range_min = 2222; })).toMatch(/rule-ssh-0: port_range_min differs/);
    expect(alter("port-t-cluster-compute-1", (b) => { b.security_groups.push({ step: "sg-login" }); })).toMatch(/t-cluster-compute-1-port: security_group_ids differs/);
    expect(alter("head-fip", (b) => { b.port_id = { step: "port-t-cluster-compute-1" }; })).toMatch(/head-fip-associate: port_id differs/);
    const dropped = structuredClone(plan).filter((s) => s.key !== "router-interface");
    expect(diffBuilder(tf, fromBuilder(dropped))).toContain("only in terraform: openstack_networking_router_interface_v2 router-interface");
  });

  it("catches a remote group that points at the wrong security group", async () => {
    const { tf, pu } = await both(openstackCluster({}));
    const wrong = structuredClone(pu);
    wrong.find((r) => r.ident === "rule-internal-v4")!.args.remote_group_id = "ref:openstack_networking_secgroup_v2:t-cluster-login";
    expect(diffParity(tf, wrong).join("\n")).toMatch(/rule-internal-v4: remote_group_id differs/);
  });
});
