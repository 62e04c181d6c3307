/**
 * Creates a cluster's resources through the API the way apply does (same names, tags, metadata,
 * descriptions, allocation pool and lookups as stacks/terraform declares them, all read from the
 * resolved Cluster; test/pulumi/parity.test.ts holds the plan to both stacks), plus decoys.
 * Used by the OpenStack suite to have something real to sweep.
 */
import {
  createdByUp, KEYPAIR_SUFFIX, qualifiedName, SERVER_GROUP_SUFFIX, TAG_ID, TAG_NAME, tagToken, type Cluster, type Lookup,
} from "../../../../stacks/model/index.js";
import type { OpenStackClient } from "../../../../scripts/targets/openstack/cloud/client.js";
import { waitFor } from "../../../harness/wait.js";
import { createKeypair, createServer, createServerGroup, getServer, listFlavors, type CreateServer } from "../../../../scripts/targets/openstack/cloud/compute.js";
import { findImages } from "../../../../scripts/targets/openstack/cloud/image.js";
import { addRouterInterface, create, list, setTags, type Network, type NeutronKind } from "../../../../scripts/targets/openstack/cloud/network.js";

export interface Built {
  cluster: Cluster;
  /** Every created resource: kind → ids (keypair by name). */
  ids: Record<string, string[]>;
}

/** The id of the resource an earlier step created. */
export interface StepRef { step: string }
/** An object of the cloud the plan does not create, found when the plan runs. */
export interface CloudRef { lookup: "image" | "flavor" | "external-network"; ref: Lookup }

export type StepKind = NeutronKind | "router_interface" | "keypair" | "server_group" | "server";

/** One API call of the build: a creation (Neutron/Nova request fields), then its tags. */
export interface Step {
  /** Unique in the plan, the same as the Terraform stack's construct id; later steps refer to it. */
  key: string;
  kind: StepKind;
  /** Request body with StepRef/CloudRef values still unresolved (servers: createServer's fields). */
  body: Record<string, unknown>;
  /** Tags set after creation (Neutron accepts no tags on create for every kind). */
  tags?: string[];
}

const ref = (step: string): StepRef => ({ step });

/**
 * The cluster as apply would create it, as a list of API calls, every value read from the resolved
 * Cluster: network, subnet, router + interface, groups + rules, ports, keypair, server group,
 * servers, floating IP on the head's port. Pure: the parity test compares it with both stacks.
 */
export function planCluster(cluster: Cluster): Step[] {
  if (cluster.network.mode !== "create") throw new Error("planCluster: network mode create only");
  const net = cluster.network;
  const tags = cluster.tagList;
  const steps: Step[] = [];
  const add = (key: string, kind: StepKind, body: Record<string, unknown>, withTags = true) => steps.push({ key, kind, body, ...(withTags ? { tags } : {}) });
  const external: CloudRef = { lookup: "external-network", ref: { by: "name", value: net.externalNetwork } };

  add("network", "network", { name: net.networkName, description: cluster.description, admin_state_up: true });
  add("subnet", "subnet", {
    name: net.subnetName, network_id: ref("network"), cidr: net.cidr, ip_version: 4, gateway_ip: net.gatewayIp, enable_dhcp: true,
    dns_nameservers: net.dnsServers, description: cluster.description,
    allocation_pools: [net.allocationPool],
  });
  add("router", "router", { name: net.routerName, description: cluster.description, admin_state_up: true, external_gateway_info: { network_id: external } });
  add("router-interface", "router_interface", { router_id: ref("router"), subnet_id: ref("subnet") }, false);
  for (const g of cluster.securityGroups) add(`sg-${g.key}`, "security_group", { name: g.name, description: g.description });
  for (const r of cluster.securityRules) {
    add(`rule-${r.id}`, "security_group_rule", {
      security_group_id: ref(`sg-${r.group}`), direction: r.direction, ethertype: r.ethertype, protocol: r.protocol ?? null,
      port_range_min: r.portMin ?? null, port_range_max: r.portMax ?? null, remote_ip_prefix: r.remoteCidr ?? null,
      remote_group_id: r.remoteGroup ? ref(`sg-${r.remoteGroup}`) : null, description: r.description,
    }, false);
  }
  for (const n of createdByUp(cluster)) {
    add(`port-${n.name}`, "port", {
      name: n.portName, network_id: ref("network"), admin_state_up: true, description: n.portDescription,
      fixed_ips: [{ subnet_id: ref("subnet"), ...(n.privateIp ? { ip_address: n.privateIp } : {}) }],
      security_groups: n.securityGroups.map((key) => ref(`sg-${key}`)),
    });
  }
  add("keypair", "keypair", { name: cluster.keypair.name }, false);
  if (cluster.serverGroup) add("server-group", "server_group", { name: cluster.serverGroup.name, policy: cluster.serverGroup.policy }, false);
  for (const n of createdByUp(cluster)) {
    add(`instance-${n.name}`, "server", {
      name: n.name, imageRef: { lookup: "image", ref: n.imageRef }, flavorRef: { lookup: "flavor", ref: n.flavorRef },
      ports: [ref(`port-${n.name}`)], keyName: cluster.keypair.name, availabilityZone: cluster.availabilityZone, metadata: { ...n.metadata }, tags,
      ...(cluster.serverGroup ? { serverGroupId: ref("server-group") } : {}),
    }, false);
  }
  add("head-fip", "floatingip", { floating_network_id: external, port_id: ref(`port-${cluster.head.name}`), description: cluster.floatingIp.description });
  return steps;
}

/** Runs planCluster's calls against the cloud, as apply would; servers are created together and awaited ACTIVE. */
export async function buildCluster(c: OpenStackClient, cluster: Cluster): Promise<Built> {
  const steps = planCluster(cluster);
  const ids: Record<string, string[]> = {};
  const created = new Map<string, string>();
  const found = new Map<string, Promise<string>>();
  const lookup = (x: CloudRef): Promise<string> => {
    const k = `${x.lookup}:${x.ref.by}:${x.ref.value}`;
    if (!found.has(k)) found.set(k, findId(c, x));
    return found.get(k)!;
  };
  const resolve = async (v: unknown): Promise<unknown> => {
    if (Array.isArray(v)) return Promise.all(v.map(resolve));
    if (v && typeof v === "object") {
      if ("step" in v) return created.get((v as StepRef).step) ?? Promise.reject(new Error(`buildCluster: step ${(v as StepRef).step} has not run`));
      if ("lookup" in v) return lookup(v as CloudRef);
      return Object.fromEntries(await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await resolve(x)])));
    }
    return v;
  };
  const done = (s: Step, id: string, noted = true) => {
    created.set(s.key, id);
    if (noted) (ids[s.kind] ??= []).push(id);
  };

  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    if (s.kind === "server") {
      // Consecutive servers boot together, as apply creates them.
      const batch: Step[] = [];
      while (steps[i]?.kind === "server") batch.push(steps[i++]!);
      i--;
      const servers = await Promise.all(batch.map(async (b) => createServer(c, await resolve(b.body) as CreateServer)));
      servers.forEach((srv, j) => done(batch[j]!, srv.id));
      await waitActive(c, servers.map((srv) => srv.id));
      continue;
    }
    const body = await resolve(s.body) as Record<string, any>;
    if (s.kind === "router_interface") { await addRouterInterface(c, body.router_id, body.subnet_id); continue; }
    if (s.kind === "keypair") { await createKeypair(c, body.name); done(s, body.name); continue; }
    if (s.kind === "server_group") { done(s, (await createServerGroup(c, body.name, body.policy)).id); continue; }
    const r = await create(c, s.kind, body);
    if (s.tags && s.kind !== "security_group_rule") await setTags(c, s.kind, r.id, s.tags);
    done(s, r.id, s.kind !== "security_group_rule");
  }
  return { cluster, ids };
}

async function findId(c: OpenStackClient, x: CloudRef): Promise<string> {
  const first = (list: { id: string }[]): string => {
    if (!list.length) throw new Error(`buildCluster: no ${x.lookup} with ${x.ref.by} ${x.ref.value}`);
    return list[0]!.id;
  };
  if (x.lookup === "image") return first(await findImages(c, x.ref));
  if (x.lookup === "flavor") return first((await listFlavors(c)).filter((f) => (x.ref.by === "id" ? f.id : f.name) === x.ref.value));
  return first(await list<Network>(c, "network", { [x.ref.by]: x.ref.value, "router:external": "true" }));
}

export async function waitActive(c: OpenStackClient, ids: string[], timeoutMs = 90_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (const id of ids) {
    let status: string | undefined;
    await waitFor(async () => {
      status = (await getServer(c, id))?.status;
      if (status === "ERROR") throw new Error(`server ${id} went to ERROR`);
      return status === "ACTIVE";
    }, { timeoutMs: Math.max(0, end - Date.now()), intervalMs: 300, what: () => `server ${id} to be ACTIVE (it is ${status})` });
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
  if (cluster.network.mode !== "create") throw new Error("buildDecoys: network mode create only");
  const net = cluster.network;
  const other = "0123456789ab";
  const otherTags = [tagToken(TAG_NAME, cluster.name), tagToken(TAG_ID, other)];
  const lookalike = [tagToken(TAG_ID, `${cluster.id}x`), tagToken(`${TAG_ID}-old`, cluster.id)];
  const [internal, login] = ["internal", "login"].map((k) => cluster.securityGroups.find((g) => g.key === k)!.name);

  const n1 = await create<Network>(c, "network", { name: net.networkName }); note("network", n1.id); // untagged, same name
  const n2 = await create<Network>(c, "network", { name: net.networkName, description: tagToken(TAG_ID, other) });
  await setTags(c, "network", n2.id, otherTags); note("network", n2.id);
  const n3 = await create<Network>(c, "network", { name: "lookalike", description: `about cluster ${cluster.id}; ${TAG_ID}:${cluster.id}` });
  await setTags(c, "network", n3.id, lookalike); note("network", n3.id);
  const s1 = await create(c, "subnet", { name: net.subnetName, network_id: n1.id, cidr: "10.99.0.0/24", ip_version: 4 }); note("subnet", s1.id);
  const g1 = await create(c, "security_group", { name: internal, description: "untagged decoy" }); note("security_group", g1.id);
  const g2 = await create(c, "security_group", { name: login, description: `${TAG_NAME} ${otherTags.join(" ")}` });
  await setTags(c, "security_group", g2.id, otherTags); note("security_group", g2.id);
  const p1 = await create(c, "port", { name: cluster.head.portName, network_id: n1.id }); note("port", p1.id);
  const r1 = await create(c, "router", { name: net.routerName }); note("router", r1.id);
  await addRouterInterface(c, r1.id, s1.id);
  const ext = (await list<Network>(c, "network", { "router:external": "true" }))[0]!;
  const f1 = await create(c, "floatingip", { floating_network_id: ext.id, description: "untagged decoy" }); note("floatingip", f1.id);
  for (const name of [qualifiedName(cluster.name, other, KEYPAIR_SUFFIX), cluster.name, qualifiedName(cluster.name, cluster.id, "-old")]) {
    await createKeypair(c, name); note("keypair", name);
  }
  const sg = await createServerGroup(c, qualifiedName(cluster.name, other, SERVER_GROUP_SUFFIX), "soft-anti-affinity"); note("server_group", sg.id);
  const sg2 = await createServerGroup(c, `${cluster.name}${SERVER_GROUP_SUFFIX}`, "soft-anti-affinity"); note("server_group", sg2.id);

  const image = await findId(c, { lookup: "image", ref: cluster.head.imageRef });
  const flavor = await findId(c, { lookup: "flavor", ref: cluster.head.flavorRef });
  const pDecoyUntagged = await create(c, "port", { network_id: n1.id }); note("port", pDecoyUntagged.id);
  const pDecoyOther = await create(c, "port", { network_id: n1.id }); note("port", pDecoyOther.id);
  const v1 = await createServer(c, { name: cluster.head.name, imageRef: image, flavorRef: flavor, ports: [pDecoyUntagged.id], metadata: { owner: "someone-else" } });
  const v2 = await createServer(c, { name: cluster.head.name, imageRef: image, flavorRef: flavor, ports: [pDecoyOther.id], metadata: { [TAG_NAME]: cluster.name, [TAG_ID]: other }, tags: otherTags });
  note("server", v1.id); note("server", v2.id);
  await waitActive(c, [v1.id, v2.id]);
  return { ids };
}
