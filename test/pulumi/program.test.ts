/**
 * The Pulumi program (stacks/pulumi) under `pulumi.runtime.setMocks`: offline, no pulumi CLI, no
 * OpenStack plugin. Checks what the program declares for the resolved model.
 */
import { describe, expect, it } from "vitest";
import { TAG_ROLE, type Cluster } from "../../stacks/model/index.js";
import { NETWORKS, openstackCluster, stackInputs, VOLUMES } from "../harness/specs.js";
import { runProgramWithMocks, type MockRun } from "./mock-run.js";

const T = {
  network: "openstack:networking/network:Network", subnet: "openstack:networking/subnet:Subnet", router: "openstack:networking/router:Router",
  routerInterface: "openstack:networking/routerInterface:RouterInterface", secGroup: "openstack:networking/secGroup:SecGroup",
  rule: "openstack:networking/secGroupRule:SecGroupRule", port: "openstack:networking/port:Port", fip: "openstack:networking/floatingIp:FloatingIp",
  fipAssoc: "openstack:networking/floatingIpAssociate:FloatingIpAssociate", instance: "openstack:compute/instance:Instance",
  keypair: "openstack:compute/keypair:Keypair", serverGroup: "openstack:compute/serverGroup:ServerGroup",
  attach: "openstack:compute/volumeAttach:VolumeAttach", volume: "openstack:blockstorage/volume:Volume",
};


async function run(c: Cluster, opts = stackInputs(c)) {
  return runProgramWithMocks(c, opts);
}
const of = (r: MockRun, type: string) => r.resources.filter((x) => x.type === type);

describe("Pulumi program under mocks", () => {
  for (const n of [0, 1, 5]) {
    for (const net of ["create", "existing"] as const) {
      for (const vol of ["managed", "existing"] as const) {
        it(`${n} compute nodes, ${net} network, ${vol} volume`, async () => {
          const c = openstackCluster({ compute: { count: n, flavor: "m1.medium" }, ...NETWORKS[net], ...VOLUMES[vol] });
          const r = await run(c);
          const created = net === "create" ? 1 : 0;
          expect(of(r, T.instance).map((i) => i.inputs.name).sort()).toEqual(c.nodes.map((x) => x.name).sort());
          expect(of(r, T.port).map((p) => p.inputs.name).sort()).toEqual(c.nodes.map((x) => x.portName).sort());
          expect(of(r, T.network)).toHaveLength(created);
          expect(of(r, T.subnet)).toHaveLength(created);
          expect(of(r, T.router)).toHaveLength(created);
          expect(of(r, T.routerInterface)).toHaveLength(created);
          expect(of(r, T.fip)).toHaveLength(created);
          expect(of(r, T.fipAssoc)).toHaveLength(created);
          expect(of(r, T.volume)).toHaveLength(vol === "managed" ? 1 : 0);
          expect(of(r, T.attach)).toHaveLength(1);
          expect(of(r, T.secGroup).map((g) => g.inputs.name).sort()).toEqual([`${c.name}-internal`, `${c.name}-login`]);
          expect(of(r, T.rule)).toHaveLength(c.securityRules.length);
          expect(of(r, T.keypair).map((k) => k.inputs.name)).toEqual([c.keypair.name]);
          expect(of(r, T.serverGroup).map((g) => g.inputs.name)).toEqual([c.serverGroup!.name]);

          // The attached volume is the managed one, or the existing id (never a resource, so never destroyed).
          const attach = of(r, T.attach)[0]!.inputs;
          expect(attach.volumeId).toBe(vol === "managed" ? `ref:openstack_blockstorage_volume_v3:${c.name}-shared` : "6b1e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b");
          expect(attach.instanceId).toBe(`ref:openstack_compute_instance_v2:${c.head.name}`);

          // Existing networks are looked up (id when a UUID, else name), never created.
          const lookups = r.calls.map((x) => `${x.token.split(":").pop()} ${JSON.stringify(x.inputs)}`).sort();
          expect(lookups).toEqual(net === "create"
            ? ['getNetwork {"external":true,"name":"public"}']
            : ['getNetwork {"name":"shared-net"}', 'getSubnet {"networkId":"ref:data.openstack_networking_network_v2:shared-net","subnetId":"0f5a9d3c-1b2e-4c4d-9e8f-0a1b2c3d4e5f"}']);

          // Fixed addresses only where the cluster owns the subnet.
          for (const p of of(r, T.port)) {
            const node = c.nodes.find((x) => x.portName === p.inputs.name)!;
            expect(p.inputs.fixedIps[0].ipAddress).toBe(net === "create" ? node.privateIp : undefined);
          }
          expect(Object.keys(r.outputs.private_ips as object).sort()).toEqual(c.nodes.map((x) => x.name).sort());
          expect(r.outputs.cluster_id).toBe("0123456789ab");
          expect(r.outputs.head_public_ip).toBe(net === "create" ? "ref:openstack_networking_floatingip_v2:head-fip.address" : `ref:openstack_compute_instance_v2:${c.head.name}.access_ip_v4`);
        });
      }
    }
  }

  it("tags every resource that has tags, and puts the tags in metadata where there is metadata", async () => {
    const c = openstackCluster({ compute: { count: 2, flavor: "m1.medium" } });
    const r = await run(c);
    let tagged = 0;
    for (const res of r.resources) {
      if (!res.type.startsWith("openstack:")) continue;
      if ("tags" in res.inputs) { expect(res.inputs.tags, res.name).toEqual(c.tagList); tagged++; }
      if ("metadata" in res.inputs) { expect(res.inputs.metadata, res.name).toMatchObject(c.tags); tagged++; }
    }
    // network, subnet, router, 2 groups, 3 ports, 3 instances (tags + metadata), floating IP, volume
    expect(tagged).toBe(1 + 1 + 1 + 2 + 3 + 6 + 1 + 1);
    // Types without tags or metadata carry the cluster id in their name (the sweep matches them exactly).
    expect(of(r, T.keypair)[0]!.inputs.name).toContain(c.id);
    expect(of(r, T.serverGroup)[0]!.inputs.name).toContain(c.id);
    for (const i of of(r, T.instance)) expect(i.inputs.metadata[TAG_ROLE]).toBe(i.inputs.name === c.head.name ? "head" : "compute");
  });

  it("declares exactly the model's security rules; only the head is in the login group", async () => {
    const c = openstackCluster({ access: { sshCidrs: ["198.51.100.0/24", "203.0.113.7/32"], httpsCidrs: ["192.0.2.0/24"], keypair: "generate" }, dns: { name: "c.example.org", email: "a@example.org" } });
    const r = await run(c);
    const group = (id: string) => id.replace("ref:openstack_networking_secgroup_v2:", "");
    const rules = of(r, T.rule).map((x) => [group(x.inputs.securityGroupId), x.inputs.protocol ?? "any", x.inputs.portRangeMin ?? "", x.inputs.remoteIpPrefix ?? group(x.inputs.remoteGroupId ?? "")].join(" ")).sort();
    expect(rules).toEqual([
      `${c.name}-internal any  ${c.name}-internal`,
      `${c.name}-login tcp 22 198.51.100.0/24`, `${c.name}-login tcp 22 203.0.113.7/32`,
      `${c.name}-login tcp 443 192.0.2.0/24`, `${c.name}-login tcp 80 192.0.2.0/24`,
    ].sort());
    for (const p of of(r, T.port)) {
      const groups = p.inputs.securityGroupIds.map(group);
      expect(groups).toEqual(p.inputs.name === c.head.portName ? [`${c.name}-internal`, `${c.name}-login`] : [`${c.name}-internal`]);
    }
  });

  it("uses an existing keypair without creating one, and no server group when none", async () => {
    const c = openstackCluster({ access: { sshCidrs: ["0.0.0.0/0"], httpsCidrs: [], keypair: { existing: "my-key", privateKeyFile: "/k" } }, serverGroup: "none" });
    const r = await run(c, { publicKey: undefined as unknown as string, userData: {} });
    expect(of(r, T.keypair)).toHaveLength(0);
    expect(of(r, T.serverGroup)).toHaveLength(0);
    expect(of(r, T.instance).every((i) => i.inputs.keyPair === "my-key" && i.inputs.schedulerHints === undefined)).toBe(true);
  });

  it("refuses to generate a keypair without its public key", async () => {
    const c = openstackCluster({});
    await expect(runProgramWithMocks(c, {})).rejects.toThrow(/publicKey/);
  });

  it("passes each node its own user-data and a region to the provider; no credential anywhere", async () => {
    process.env.OS_PASSWORD = "fake-os-password-4711";
    process.env.OS_APPLICATION_CREDENTIAL_SECRET = "fake-app-cred-secret-0815";
    try {
      const c = openstackCluster({ openstack: { externalNetwork: "public", region: "RegionTwo", availabilityZone: "nova-b" } });
      const r = await run(c);
      for (const i of of(r, T.instance)) {
        expect(i.inputs.userData).toBe(`#cloud-config\nhostname: ${i.inputs.name}\n`);
        expect(i.inputs.availabilityZone).toBe("nova-b");
      }
      const provider = r.resources.find((x) => x.type === "pulumi:providers:openstack")!;
      expect(provider.inputs.region).toBe("RegionTwo");
      const text = JSON.stringify(r);
      for (const bad of ["fake-os-password-4711", "fake-app-cred-secret-0815", "PRIVATE KEY", "munge"]) expect(text).not.toContain(bad);
    } finally {
      delete process.env.OS_PASSWORD;
      delete process.env.OS_APPLICATION_CREDENTIAL_SECRET;
    }
  });

  it("parents every resource in the cluster component (one tree per cluster)", async () => {
    const r = await run(openstackCluster({}));
    expect(r.resources.filter((x) => x.type.startsWith("uws-cluster:")).map((x) => x.type).sort()).toEqual([
      "uws-cluster:openstack:Cluster", "uws-cluster:openstack:Compute", "uws-cluster:openstack:Network",
      "uws-cluster:openstack:Security", "uws-cluster:openstack:SharedVolume",
    ]);
  });
});
