/**
 * Creates a cluster's resources through the API the way apply does (same names, tags, metadata and
 * descriptions as stacks/terraform declares them, all read from the resolved Cluster), plus decoys.
 * Used by the OpenStack suite to have something real to sweep.
 */
import { parseSpec, resolveCluster, type Cluster } from "../../stacks/model/index.js";
import { sleep, type OpenStackClient } from "../../scripts/openstack/client.js";
import { createKeypair, createServer, createServerGroup, getServer, listFlavors } from "../../scripts/openstack/compute.js";
import { findImages } from "../../scripts/openstack/image.js";
import { addRouterInterface, create, list, setTags, type Network } from "../../scripts/openstack/network.js";

export function testSpec(name: string, o: { computes?: number; ttl?: string; image?: string; flavor?: string; cpus?: number; memoryMb?: number; externalNetwork?: string; cidr?: string } = {}): string {
  return `name: ${name}
${o.ttl ? `ttl: ${o.ttl}` : ""}
target: openstack
openstack: { externalNetwork: ${o.externalNetwork ?? "public"}, sshUser: debian }
head: { image: ${o.image ?? "tiny"}, flavor: ${o.flavor ?? "m1.tiny"}, cpus: ${o.cpus ?? 1}, memoryMb: ${o.memoryMb ?? 512} }
compute: { count: ${o.computes ?? 1}, flavor: ${o.flavor ?? "m1.tiny"}, cpus: ${o.cpus ?? 1}, memoryMb: ${o.memoryMb ?? 512} }
network: { create: { cidr: ${o.cidr ?? "192.168.44.0/24"}, dnsServers: [] } }
access: { sshCidrs: [203.0.113.0/24], httpsCidrs: [0.0.0.0/0], keypair: generate }
volume: none
serverGroup: soft-anti-affinity
`;
}

export function testCluster(name: string, o: Parameters<typeof testSpec>[1] & { now?: Date } = {}): Cluster {
  return resolveCluster(parseSpec(testSpec(name, o), `${name}.yaml`), { now: o.now });
}

export interface Built {
  cluster: Cluster;
  /** Every created resource: kind → ids (keypair by name). */
  ids: Record<string, string[]>;
}

/** Builds the cluster as apply would: network, subnet, router + interface, groups + rules, ports, keypair, server group, servers, floating IP. */
export async function buildCluster(c: OpenStackClient, cluster: Cluster): Promise<Built> {
  if (cluster.network.mode !== "create") throw new Error("buildCluster: network mode create only");
  const net = cluster.network;
  const ids: Record<string, string[]> = {};
  const note = (k: string, id: string) => (ids[k] ??= []).push(id);
  const tags = cluster.tagList;

  const network = await create<Network>(c, "network", { name: net.networkName, description: cluster.description, admin_state_up: true });
  await setTags(c, "network", network.id, tags); note("network", network.id);
  const subnet = await create(c, "subnet", {
    name: net.subnetName, network_id: network.id, cidr: net.cidr, ip_version: 4, gateway_ip: net.gatewayIp, enable_dhcp: true,
    description: cluster.description, allocation_pools: [{ start: net.gatewayIp.replace(/\d+$/, "2"), end: net.gatewayIp.replace(/\d+$/, "9") }],
  });
  await setTags(c, "subnet", subnet.id, tags); note("subnet", subnet.id);
  const ext = (await list<Network>(c, "network", { name: net.externalNetwork, "router:external": "true" }))[0]!;
  const router = await create(c, "router", { name: net.routerName, description: cluster.description, external_gateway_info: { network_id: ext.id } });
  await setTags(c, "router", router.id, tags); note("router", router.id);
  await addRouterInterface(c, router.id, subnet.id);

  const groups: Record<string, string> = {};
  for (const g of cluster.securityGroups) {
    const sg = await create(c, "security_group", { name: g.name, description: g.description });
    await setTags(c, "security_group", sg.id, tags); note("security_group", sg.id);
    groups[g.key] = sg.id;
  }
  for (const r of cluster.securityRules) {
    await create(c, "security_group_rule", {
      security_group_id: groups[r.group], direction: r.direction, ethertype: r.ethertype, protocol: r.protocol ?? null,
      port_range_min: r.portMin ?? null, port_range_max: r.portMax ?? null, remote_ip_prefix: r.remoteCidr ?? null,
      remote_group_id: r.remoteGroup ? groups[r.remoteGroup] : null, description: `${r.id}; ${cluster.description}`,
    });
  }
  const ports: Record<string, string> = {};
  for (const n of cluster.nodes) {
    const p = await create(c, "port", {
      name: n.portName, network_id: network.id, admin_state_up: true, description: `${n.name}; ${cluster.description}`,
      fixed_ips: [{ subnet_id: subnet.id, ...(n.privateIp ? { ip_address: n.privateIp } : {}) }],
      security_groups: n.role === "head" ? [groups.internal, groups.login] : [groups.internal],
    });
    await setTags(c, "port", p.id, tags); note("port", p.id);
    ports[n.name] = p.id;
  }
  await createKeypair(c, cluster.keypair.name); note("keypair", cluster.keypair.name);
  const group = cluster.serverGroup ? await createServerGroup(c, cluster.serverGroup.name, cluster.serverGroup.policy) : undefined;
  if (group) note("server_group", group.id);

  const image = (await findImages(c, cluster.head.image))[0]!.id;
  const flavors = await listFlavors(c);
  const servers = await Promise.all(cluster.nodes.map((n) => createServer(c, {
    name: n.name, imageRef: image, flavorRef: flavors.find((f) => f.name === n.flavor)!.id, ports: [ports[n.name]!],
    keyName: cluster.keypair.name, metadata: { ...cluster.tags, "uws-cluster-role": n.role }, tags, serverGroupId: group?.id,
  })));
  for (const s of servers) note("server", s.id);
  await waitActive(c, servers.map((s) => s.id));

  const fip = await create(c, "floatingip", { floating_network_id: ext.id, port_id: ports[cluster.head.name], description: cluster.floatingIp.description });
  await setTags(c, "floatingip", fip.id, tags); note("floatingip", fip.id);
  return { cluster, ids };
}

export async function waitActive(c: OpenStackClient, ids: string[], timeoutMs = 90_000): Promise<void> {
  const t = Date.now() + timeoutMs;
  for (const id of ids) {
    for (;;) {
      const s = await getServer(c, id);
      if (s?.status === "ACTIVE") break;
      if (s?.status === "ERROR") throw new Error(`server ${id} went to ERROR`);
      if (Date.now() > t) throw new Error(`server ${id} still ${s?.status} after ${timeoutMs} ms`);
      await sleep(300);
    }
  }
}

export interface Decoys {
  /** kind → ids that must survive every sweep. */
  ids: Record<string, string[]>;
}

/**
 * Resources that must survive: untagged ones named like the cluster's (same names!), ones tagged for
 * another cluster id, one whose tag differs by a suffix, and one mentioning the id in free text only.
 */
export async function buildDecoys(c: OpenStackClient, cluster: Cluster): Promise<Decoys> {
  const ids: Record<string, string[]> = {};
  const note = (k: string, id: string) => (ids[k] ??= []).push(id);
  const other = "0123456789ab";
  const otherTags = [`uws-cluster=${cluster.name}`, `uws-cluster-id=${other}`];
  const lookalike = [`uws-cluster-id=${cluster.id}x`, `uws-cluster-id-old=${cluster.id}`];

  const n1 = await create<Network>(c, "network", { name: `${cluster.name}-net` }); note("network", n1.id); // untagged, same name
  const n2 = await create<Network>(c, "network", { name: `${cluster.name}-net`, description: `uws-cluster-id=${other}` });
  await setTags(c, "network", n2.id, otherTags); note("network", n2.id);
  const n3 = await create<Network>(c, "network", { name: "lookalike", description: `about cluster ${cluster.id}; uws-cluster-id:${cluster.id}` });
  await setTags(c, "network", n3.id, lookalike); note("network", n3.id);
  const s1 = await create(c, "subnet", { name: `${cluster.name}-subnet`, network_id: n1.id, cidr: "10.99.0.0/24", ip_version: 4 }); note("subnet", s1.id);
  const g1 = await create(c, "security_group", { name: `${cluster.name}-internal`, description: "untagged decoy" }); note("security_group", g1.id);
  const g2 = await create(c, "security_group", { name: `${cluster.name}-login`, description: `uws-cluster uws-cluster=${cluster.name} uws-cluster-id=${other}` });
  await setTags(c, "security_group", g2.id, otherTags); note("security_group", g2.id);
  const p1 = await create(c, "port", { name: `${cluster.head.name}-port`, network_id: n1.id }); note("port", p1.id);
  const r1 = await create(c, "router", { name: `${cluster.name}-router` }); note("router", r1.id);
  await addRouterInterface(c, r1.id, s1.id);
  const ext = (await list<Network>(c, "network", { "router:external": "true" }))[0]!;
  const f1 = await create(c, "floatingip", { floating_network_id: ext.id, description: "untagged decoy" }); note("floatingip", f1.id);
  await createKeypair(c, `${cluster.name}-${other}`); note("keypair", `${cluster.name}-${other}`);
  await createKeypair(c, `${cluster.name}`); note("keypair", cluster.name);
  await createKeypair(c, `${cluster.name}-${cluster.id}-old`); note("keypair", `${cluster.name}-${cluster.id}-old`);
  const sg = await createServerGroup(c, `${cluster.name}-${other}-servers`, "soft-anti-affinity"); note("server_group", sg.id);
  const sg2 = await createServerGroup(c, `${cluster.name}-servers`, "soft-anti-affinity"); note("server_group", sg2.id);

  const image = (await findImages(c, cluster.head.image))[0]!.id;
  const flavor = (await listFlavors(c)).find((f) => f.name === cluster.head.flavor)!.id;
  const pDecoyUntagged = await create(c, "port", { network_id: n1.id }); note("port", pDecoyUntagged.id);
  const pDecoyOther = await create(c, "port", { network_id: n1.id }); note("port", pDecoyOther.id);
  const v1 = await createServer(c, { name: cluster.head.name, imageRef: image, flavorRef: flavor, ports: [pDecoyUntagged.id], metadata: { owner: "someone-else" } });
  const v2 = await createServer(c, { name: cluster.head.name, imageRef: image, flavorRef: flavor, ports: [pDecoyOther.id], metadata: { "uws-cluster": cluster.name, "uws-cluster-id": other }, tags: otherTags });
  note("server", v1.id); note("server", v2.id);
  await waitActive(c, [v1.id, v2.id]);
  return { ids };
}
