/**
 * The cloud power driver: what the head's power agent does on OpenStack for Slurm's resume and
 * suspend, with the cluster's application credential. Every name, tag, address and group comes from
 * the model (stacks/model): the server is `node.name` with `node.metadata` and the cluster's tag
 * list, on a port named `node.portName` (the model's fixed address when the cluster made its
 * network), in the node's security groups and the cluster's server group, booted from the node's
 * image and flavor with the user-data `up` rendered for it.
 *
 * Guards (the credential's access rules match paths only, so these are the agent's):
 * - only this cluster's on-demand nodes; never more than compute.max compute servers tagged with
 *   the cluster id, counted in the cloud (plus creations in flight) under one lock;
 * - a second resume of a node finds its server by name + cluster tag and creates nothing;
 * - suspend deletes by the recorded id only after checking the server carries this cluster's id and
 *   the node's name (a decoy or another cluster's server is refused); 404 = already gone;
 * - quota answers (Nova 403/413, Neutron 409 OverQuota) and a refused credential end in one
 *   `failed REASON` line, never in a retry.
 */
import { TAG_ID, TAG_POWER, TAG_ROLE, pickClusterTags, parseClusterTags, tagToken, type Cluster, type ClusterNode } from "../../../stacks/model/index.js";
import { OpenStackError, type OpenStackClient } from "../../targets/openstack/cloud/client.js";
import { createServer, deleteServer, getServer, listFlavors, listServerGroups, listServers, type Server } from "../../targets/openstack/cloud/compute.js";
import { findImages } from "../../targets/openstack/cloud/image.js";
import { create, list, remove, type Network, type Port, type SecurityGroup } from "../../targets/openstack/cloud/network.js";
import type { HostKeyInbox } from "./host-keys.js";
import { withPhoneHome } from "./host-keys.js";

/**
 * What happens once a server is ACTIVE: configure it (over SSH, with the host key the server posted
 * for this resume: `hostKey`). Absent: ACTIVE is the end (what the loopback cloud can show).
 */
export type AfterMachine = (node: ClusterNode, server: Server, hostKey: () => Promise<string>) => Promise<void>;

export interface DriverOptions {
  client: OpenStackClient;
  cluster: Cluster;
  /** User-data per on-demand node, as `up` rendered it (no secret is ever in user-data). */
  userData: Record<string, string>;
  afterMachine?: AfterMachine;
  /** Where new servers post their host keys (required with afterMachine: each resume gets a nonce in the server's user-data). */
  hostKeys?: HostKeyInbox;
  /** Image, flavor, network, security group and server group ids as `up` looked them up (the credential reads no groups). */
  refs: CloudRefs;
  log?: (s: string) => void;
  /** The credential's own expiry (Keystone's), to tell an expired credential from a revoked one; default the cluster's. */
  credentialExpiresAt?: string | null;
  /** How long a server may take to reach ACTIVE (default: the cluster's resumeTimeout). */
  activeTimeoutMs?: number;
  pollMs?: number;
}

/** The tag on a port this agent made (it deletes it with the node). */
const AGENT_MADE = tagToken(TAG_POWER, "agent");

const oneLine = (s: string) => s.replace(/\s+/g, " ").trim().slice(0, 300);

/** A cloud answer the driver turns into a reason instead of retrying. */
export function reasonOf(e: unknown, expiresAt: string | null): string {
  const m = e instanceof Error ? e.message : String(e);
  if (e instanceof OpenStackError) {
    if ((e.status === 403 || e.status === 413) && /quota/i.test(m + e.body)) return `quota exceeded: ${oneLine(m)}`;
    if (e.status === 409 && /quota|OverQuota/i.test(m + e.body)) return `quota exceeded: ${oneLine(m)}`;
    // Keystone answers 401 for an expired credential and 404 for a deleted one.
    if ((e.status === 401 || e.status === 404) && /auth\/tokens/.test(e.url)) {
      const expired = expiresAt && Date.parse(expiresAt) <= Date.now();
      return expired ? `the power agent's OpenStack credential expired at ${expiresAt} (the cluster's ttl): no node can be created or removed any more`
        : "the power agent's OpenStack credential was refused by Keystone (revoked or deleted?): run `uws-cluster up` again to make a new one";
    }
  }
  return oneLine(m);
}

/** The ids a new server is made from. */
export interface CloudRefs { image: string; flavor: string; network: string; groups: string[]; serverGroup?: string }

/**
 * Image, flavor, network, security groups and server group ids as the model names them, looked up
 * by `up` with the user's credentials after apply and carried in the agent's configuration: the
 * agent's credential then needs no read of security groups or server groups, and every node boots
 * the image the others booted even if a newer one takes its name later.
 */
export async function lookupCloudRefs(c: OpenStackClient, cluster: Cluster): Promise<CloudRefs> {
  const n = cluster.computes[0]!;
  const images = (await findImages(c, n.imageRef)).filter((i) => i.status === "active");
  if (images.length !== 1) throw new Error(`image ${n.image}: ${images.length} active images match`);
  const flavor = (await listFlavors(c)).find((f) => (n.flavorRef.by === "id" ? f.id : f.name) === n.flavorRef.value);
  if (!flavor) throw new Error(`flavor ${n.flavor} not found`);
  const net = cluster.network;
  const nets = net.mode === "create"
    ? (await list<Network>(c, "network", { name: net.networkName })).filter((x) => parseClusterTags(x.tags, x.description)[TAG_ID] === cluster.id)
    : await list<Network>(c, "network", net.networkRef.by === "id" ? { id: net.networkRef.value } : { name: net.networkRef.value });
  if (nets.length !== 1) throw new Error(`network ${net.mode === "create" ? net.networkName : net.network}: ${nets.length} match`);
  const groups: string[] = [];
  for (const key of n.securityGroups) {
    const name = cluster.securityGroups.find((g) => g.key === key)!.name;
    const found = (await list<SecurityGroup>(c, "security_group", { name })).filter((g) => parseClusterTags(g.tags, g.description)[TAG_ID] === cluster.id);
    if (found.length !== 1) throw new Error(`security group ${name} of cluster ${cluster.id}: ${found.length} match`);
    groups.push(found[0]!.id);
  }
  let serverGroup: string | undefined;
  if (cluster.serverGroup) {
    serverGroup = (await listServerGroups(c)).find((g) => g.name === cluster.serverGroup!.name)?.id;
    if (!serverGroup) throw new Error(`server group ${cluster.serverGroup.name} not found`);
  }
  return { image: images[0]!.id, flavor: flavor.id, network: nets[0]!.id, groups, ...(serverGroup ? { serverGroup } : {}) };
}

export class CloudPowerDriver {
  private readonly c: OpenStackClient;
  private readonly cluster: Cluster;
  private readonly log: (s: string) => void;
  private readonly queues = new Map<string, Promise<unknown>>();
  private countLock: Promise<unknown> = Promise.resolve();
  private readonly creating = new Set<string>();
  /** Host keys of the servers this agent configured (a later resume of a running node connects with it). */
  private readonly known = new Map<string, string>();

  constructor(private readonly o: DriverOptions) {
    this.c = o.client;
    this.cluster = o.cluster;
    this.log = o.log ?? (() => {});
    if (!o.cluster.elastic) throw new Error(`cluster ${o.cluster.name} has no elastic compute nodes`);
    if (o.afterMachine && !o.hostKeys) throw new Error("configuring new servers needs their host keys: give the driver a host key inbox");
  }

  private get e() { return this.cluster.elastic!; }

  /** One operation per node at a time: a resume racing a suspend of the same node cannot duplicate it. */
  private serial<T>(node: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.queues.get(node) ?? Promise.resolve()).catch(() => {}).then(fn);
    this.queues.set(node, next);
    return next;
  }

  private mine(s: Server): boolean {
    return ({ ...parseClusterTags(s.tags), ...pickClusterTags(s.metadata) })[TAG_ID] === this.cluster.id;
  }

  /** This cluster's compute servers, found by the cluster id in metadata or tags (never by name alone). */
  async computeServers(): Promise<Server[]> {
    return (await listServers(this.c)).filter((s) => this.mine(s) && s.metadata?.[TAG_ROLE] !== "head" && s.status !== "DELETED");
  }

  private async serverOf(node: string): Promise<Server[]> {
    // Nova's name filter is a regular expression: anchored, and checked exactly below.
    return (await listServers(this.c, { name: `^${node}$` })).filter((s) => s.name === node && this.mine(s));
  }

  /** `NODE ok id=SERVER [port=PORT]` (port: made by this agent) or `NODE failed REASON`. */
  resume(nodeName: string): Promise<string> {
    const node = this.cluster.computes.find((n) => n.name === nodeName);
    if (!node || !this.e.nodes.includes(nodeName)) return Promise.resolve(`${nodeName} failed refused: not an on-demand node of cluster ${this.cluster.name}`);
    return this.serial(nodeName, async () => {
      let portId: string | undefined, createdPort = false, serverId: string | undefined;
      const deadline = Date.now() + this.e.resumeTimeoutSeconds * 1000;
      const ticket = this.o.hostKeys?.expect(nodeName);
      try {
        const existing = await this.serverOf(nodeName);
        const live = existing.filter((s) => s.status !== "ERROR");
        const key = live[0] && this.known.get(live[0].id);
        if (live.length && (!this.o.afterMachine || key)) {
          const s = live[0]!;
          await this.o.afterMachine?.(node, s, async () => key!);
          // The same record as the first resume answered: the port when this agent made it.
          const port = (await list<Port>(this.c, "port", { device_id: s.id })).find((p) => this.agentPort(p, node));
          return `${nodeName} ok id=${s.id}${port ? ` port=${port.id}` : ""} (already there)`;
        }
        for (const s of existing) {
          // A running server whose host key this agent never received (it restarted meanwhile) cannot be
          // connected to safely: it is replaced, as one left in ERROR is.
          this.log(`${nodeName}: removing server ${s.id} ${s.status === "ERROR" ? "left in ERROR" : "whose host key this agent does not know"}`);
          await deleteServer(this.c, s.id);
        }
        await this.waitGone(existing.map((s) => s.id));
        // Count and reserve under one lock: concurrent resumes cannot overshoot compute.max.
        const reserved = await this.withCountLock(async () => {
          const count = new Set([...(await this.computeServers()).map((s) => s.name), ...this.creating]).size;
          if (count >= this.e.max) return false;
          this.creating.add(nodeName);
          return true;
        });
        if (!reserved) return `${nodeName} failed refused: ${this.e.max} compute servers (compute.max) of cluster ${this.cluster.name} exist already`;
        try {
          const refs = this.o.refs;
          const port = await this.port(node, refs);
          portId = port.id; createdPort = port.created;
          let userData = this.o.userData[node.name];
          if (ticket) {
            if (!userData) throw new Error(`no user-data for ${node.name} in the agent's configuration: run \`uws-cluster up\` again`);
            userData = withPhoneHome(userData, ticket.url, node.name);
          }
          const s = await createServer(this.c, {
            name: node.name, imageRef: refs.image, flavorRef: refs.flavor, ports: [port.id], metadata: { ...node.metadata }, tags: [...this.cluster.tagList],
            ...(this.cluster.keypair ? { keyName: this.cluster.keypair.name } : {}),
            ...(userData ? { userData } : {}),
            ...(this.cluster.availabilityZone ? { availabilityZone: this.cluster.availabilityZone } : {}),
            ...(refs.serverGroup ? { serverGroupId: refs.serverGroup } : {}),
          });
          serverId = s.id;
          ticket?.bind(s.id);
          this.log(`${nodeName}: server ${s.id} created on port ${port.id}`);
        } finally {
          this.creating.delete(nodeName);
        }
        const active = await this.waitActive(serverId);
        const id = serverId;
        await this.o.afterMachine?.(node, active, async () => {
          const k = await ticket!.wait(Math.max(1000, deadline - Date.now()));
          this.known.set(id, k);
          return k;
        });
        // port= only for a port this agent made: suspend deletes it; one `up` made stays with the cluster.
        return `${nodeName} ok id=${serverId}${createdPort ? ` port=${portId}` : ""}`;
      } catch (err) {
        const why = reasonOf(err, this.o.credentialExpiresAt ?? this.cluster.expiresAt);
        this.log(`${nodeName}: resume FAILED: ${why}`);
        // What this try created goes; a port that existed before stays for the next try.
        if (serverId) {
          this.known.delete(serverId);
          await deleteServer(this.c, serverId).catch((e) => this.log(`${nodeName}: cleanup of server ${serverId}: ${(e as Error).message}`));
        }
        if (portId && createdPort && !serverId) await remove(this.c, "port", portId).catch((e) => this.log(`${nodeName}: cleanup of port ${portId}: ${(e as Error).message}`));
        return `${nodeName} failed ${why}`;
      } finally {
        ticket?.close();
      }
    });
  }

  private withCountLock<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.countLock.catch(() => {}).then(fn);
    this.countLock = next;
    return next;
  }

  /**
   * The node's port: an unbound one of this cluster (made by `up`, or left by an earlier try), else a
   * new one. The cluster's tag tokens and this agent's mark go in its description, set at creation
   * (a tag would need a second call, and an access rule for updating any port's tags).
   */
  private async port(node: ClusterNode, refs: { network: string; groups: string[] }): Promise<{ id: string; created: boolean }> {
    const found = (await list<Port>(this.c, "port", { name: node.portName, network_id: refs.network }))
      .filter((p) => parseClusterTags(p.tags, p.description)[TAG_ID] === this.cluster.id);
    const free = found.find((p) => !p.device_id);
    if (free) return { id: free.id, created: this.agentPort(free, node) };
    if (found.length) throw new Error(`port ${node.portName} is still bound to ${found[0]!.device_id}`);
    const p = await create<Port>(this.c, "port", {
      name: node.portName, description: `${node.portDescription} ${AGENT_MADE}`, network_id: refs.network, security_groups: refs.groups,
      ...(node.privateIp ? { fixed_ips: [{ ip_address: node.privateIp }] } : {}),
    });
    return { id: p.id, created: true };
  }

  private agentPort(p: Port, node: ClusterNode): boolean {
    return p.name === node.portName && parseClusterTags(p.tags, p.description)[TAG_ID] === this.cluster.id
      && [...(p.tags ?? []), ...(p.description ?? "").split(/\s+/)].includes(AGENT_MADE);
  }

  private async waitActive(id: string): Promise<Server> {
    const until = Date.now() + (this.o.activeTimeoutMs ?? this.e.resumeTimeoutSeconds * 1000);
    for (;;) {
      const s = await getServer(this.c, id);
      if (!s) throw new Error(`server ${id} disappeared while building`);
      if (s.status === "ACTIVE") return s;
      if (s.status === "ERROR") throw new Error(`server ${id} went to ERROR: ${(s as Server & { fault?: { message?: string } }).fault?.message ?? "no fault given"}`);
      if (Date.now() > until) throw new Error(`server ${id} not ACTIVE after ${Math.round((this.o.activeTimeoutMs ?? this.e.resumeTimeoutSeconds * 1000) / 1000)} s (status ${s.status})`);
      await new Promise((r) => setTimeout(r, this.o.pollMs ?? 500));
    }
  }

  /** `NODE ok removed` | `NODE ok already gone` | `NODE failed REASON`; `record` is what resume answered (`id=… port=…`). */
  suspend(nodeName: string, record: string): Promise<string> {
    if (!this.e.nodes.includes(nodeName)) return Promise.resolve(`${nodeName} failed refused: not an on-demand node of cluster ${this.cluster.name}`);
    const node = this.cluster.computes.find((n) => n.name === nodeName)!;
    const fields = Object.fromEntries(record.split(/\s+/).map((t) => t.split("=")).filter((kv) => kv.length === 2)) as Record<string, string>;
    const uuid = /^[0-9a-f-]{36}$/i;
    if ((fields.id && !uuid.test(fields.id)) || (fields.port && !uuid.test(fields.port))) return Promise.resolve(`${nodeName} failed refused: record ${JSON.stringify(record)} is not id=SERVER port=PORT`);
    return this.serial(nodeName, async () => {
      try {
        let servers: Server[];
        if (fields.id) {
          const s = await getServer(this.c, fields.id);
          if (s && (!this.mine(s) || s.name !== nodeName)) {
            this.log(`${nodeName}: REFUSED to delete server ${fields.id} (${s.name}): it is not ${nodeName} of cluster ${this.cluster.id}`);
            return `${nodeName} failed refused: server ${fields.id} is not ${nodeName} of cluster ${this.cluster.name} (its name or ${TAG_ID} differs)`;
          }
          servers = s ? [s] : [];
        } else {
          // No record (resume's answer lost): by name, with this cluster's id only.
          servers = await this.serverOf(nodeName);
        }
        for (const s of servers) await deleteServer(this.c, s.id);
        await this.waitGone(servers.map((s) => s.id));
        // Only a port this agent made (an unbound port of `up` stays with the cluster).
        const ports = (await list<Port>(this.c, "port", fields.port ? { id: fields.port } : { name: node.portName })).filter((p) => this.agentPort(p, node));
        for (const p of ports) await remove(this.c, "port", p.id);
        const what = servers.length ? "removed" : "already gone";
        this.log(`${nodeName}: ${what}${servers.length ? ` (server ${servers.map((s) => s.id).join(", ")})` : ""}`);
        return `${nodeName} ok ${what}`;
      } catch (err) {
        const why = reasonOf(err, this.o.credentialExpiresAt ?? this.cluster.expiresAt);
        this.log(`${nodeName}: suspend FAILED: ${why}`);
        return `${nodeName} failed ${why}`;
      }
    });
  }

  private async waitGone(ids: string[]): Promise<void> {
    const until = Date.now() + this.e.suspendTimeoutSeconds * 1000;
    for (const id of ids) {
      while (Date.now() < until && (await getServer(this.c, id))) await new Promise((r) => setTimeout(r, this.o.pollMs ?? 500));
    }
  }
}
