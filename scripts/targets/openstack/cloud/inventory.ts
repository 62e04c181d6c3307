/**
 * What the project holds that belongs to uws-cluster clusters, found by tag only. One scan lists every
 * kind of resource the tool creates and attributes each to a cluster id by an exact match:
 * Neutron resources by tag `uws-cluster-id=<id>` (or that exact token in the description, which
 * security groups and floating IPs also carry), servers by metadata or tag, volumes by metadata,
 * keypairs and server groups (no tags) by their id-bearing names `<name>-<id>` and
 * `<name>-<id>-servers`, application credentials by name `<name>-<id>` or description token.
 */
import {
  GENERATED_ID_PATTERN, type ClusterTags, KEYPAIR_SUFFIX, NAME_PATTERN, parseClusterTags, parseQualifiedName, pickClusterTags, SERVER_GROUP_SUFFIX, TAG_EXPIRES, TAG_ID, TAG_NAME,
} from "../../../../stacks/model/index.js";
import { hasBlockStorage, listVolumes, type Volume } from "./blockstorage.js";
import { OpenStackError, type OpenStackClient } from "./client.js";
import { listKeypairs, listServerGroups, listServers, type Server } from "./compute.js";
import { listApplicationCredentials } from "./identity.js";
import { list, type FloatingIp, type Network, type Port, type Router, type SecurityGroup, type Subnet } from "./network.js";

export type Kind =
  | "server" | "volume" | "floatingip" | "port" | "router" | "subnet" | "network" | "security_group"
  | "keypair" | "server_group" | "application_credential";

/** Deletion order: what holds references first. Router interfaces are removed between ports and routers. */
export const KINDS: Kind[] = ["server", "volume", "floatingip", "port", "router", "subnet", "network", "security_group", "keypair", "server_group", "application_credential"];

export interface Resource {
  kind: Kind;
  id: string;
  name: string;
  clusterId: string;
  /** From the `uws-cluster` tag, when the resource has tags. */
  clusterName?: string;
  expires?: string;
  createdAt?: string;
  /** Kind-specific data the sweep needs (router interface ports, volume attachments). */
  extra?: { attachments?: { serverId: string }[]; status?: string };
}

export interface Scan {
  resources: Resource[];
  /** Router interface ports of every router, by router id (these ports carry no tags). */
  routerInterfaces: Map<string, string[]>;
  notes: string[];
}

const INTERFACE_OWNERS = new Set(["network:router_interface", "network:router_interface_distributed", "network:ha_router_replicated_interface"]);
/** The model's `<name>-<id><suffix>` names → id, for ids seen elsewhere or any 12-hex (generated) id. */
function idFromName(name: string, suffix: string, knownIds: Set<string>): { id: string; clusterName: string } | undefined {
  const m = parseQualifiedName(name, suffix, NAME_PATTERN);
  if (!m || (!knownIds.has(m.id) && !GENERATED_ID_PATTERN.test(m.id))) return undefined;
  return { id: m.id, clusterName: m.name };
}

/** Lists the project and returns every resource attributed to some cluster id. */
export async function scanProject(c: OpenStackClient, opts: { onlyId?: string } = {}): Promise<Scan> {
  const notes: string[] = [];
  const resources: Resource[] = [];
  const projectQuery = c.session?.projectId ? { project_id: c.session.projectId } : {};
  const push = (kind: Kind, id: string, name: string, t: ClusterTags, createdAt?: string, extra?: Resource["extra"]) => {
    const clusterId = t[TAG_ID];
    if (!clusterId || (opts.onlyId && clusterId !== opts.onlyId)) return;
    resources.push({ kind, id, name, clusterId, clusterName: t[TAG_NAME], expires: t[TAG_EXPIRES], createdAt, ...(extra ? { extra } : {}) });
  };

  const [servers, fips, ports, routers, subnets, networks, groups] = await Promise.all([
    listServers(c),
    list<FloatingIp>(c, "floatingip", projectQuery),
    list<Port>(c, "port", projectQuery),
    list<Router>(c, "router", projectQuery),
    list<Subnet>(c, "subnet", projectQuery),
    list<Network>(c, "network", projectQuery),
    list<SecurityGroup>(c, "security_group", { ...projectQuery, fields: ["id", "name", "description", "tags", "created_at", "project_id"] }),
  ]);
  for (const s of servers as Server[]) {
    push("server", s.id, s.name, { ...parseClusterTags(s.tags), ...pickClusterTags(s.metadata) }, s.created, { status: s.status });
  }
  for (const f of fips) push("floatingip", f.id, f.floating_ip_address, parseClusterTags(f.tags, f.description), f.created_at);
  const routerInterfaces = new Map<string, string[]>();
  for (const p of ports) {
    if (INTERFACE_OWNERS.has(p.device_owner)) routerInterfaces.set(p.device_id, [...(routerInterfaces.get(p.device_id) ?? []), p.id]);
    push("port", p.id, p.name, parseClusterTags(p.tags, p.description), p.created_at);
  }
  for (const r of routers) push("router", r.id, r.name, parseClusterTags(r.tags, r.description), r.created_at);
  for (const s of subnets) push("subnet", s.id, s.name, parseClusterTags(s.tags, s.description), s.created_at);
  for (const n of networks) push("network", n.id, n.name, parseClusterTags(n.tags, n.description), n.created_at);
  for (const g of groups) push("security_group", g.id, g.name, parseClusterTags(g.tags, g.description), g.created_at);

  if (hasBlockStorage(c)) {
    for (const v of await listVolumes(c) as Volume[]) {
      push("volume", v.id, v.name ?? "", pickClusterTags(v.metadata), v.created_at,
        { status: v.status, attachments: (v.attachments ?? []).map((a) => ({ serverId: a.server_id })) });
    }
  } else {
    notes.push("the cloud has no block-storage (Cinder) service: volumes were not checked");
  }

  // Untagged kinds: names carry the id. Ids seen on tagged resources make the match exact.
  const knownIds = new Set(resources.map((r) => r.clusterId));
  if (opts.onlyId) knownIds.add(opts.onlyId);
  const named = (kind: Kind, id: string, name: string, suffix: string) => {
    const m = idFromName(name, suffix, knownIds);
    if (m) push(kind, id, name, { [TAG_ID]: m.id, [TAG_NAME]: m.clusterName });
  };
  for (const k of await listKeypairs(c)) named("keypair", k.name, k.name, KEYPAIR_SUFFIX);
  for (const g of await listServerGroups(c)) named("server_group", g.id, g.name, SERVER_GROUP_SUFFIX);
  try {
    for (const a of await listApplicationCredentials(c)) {
      const t = parseClusterTags(undefined, a.description);
      if (t[TAG_ID]) push("application_credential", a.id, a.name, t);
      else named("application_credential", a.id, a.name, "");
    }
  } catch (e) {
    if (!(e instanceof OpenStackError && (e.status === 403 || e.status === 401))) throw e;
    notes.push("application credentials could not be listed with these credentials (an application credential may not manage others): none checked");
  }
  return { resources, routerInterfaces, notes };
}


export interface ClusterSummary {
  id: string;
  name?: string;
  expires?: string;
  expired: boolean;
  createdAt?: string;
  ageSeconds?: number;
  resources: Partial<Record<Kind, { id: string; name: string }[]>>;
  count: number;
}

/** Groups a scan by cluster id. */
export function summarize(scan: Scan, now: Date = new Date()): ClusterSummary[] {
  const by = new Map<string, ClusterSummary>();
  for (const r of scan.resources) {
    let s = by.get(r.clusterId);
    if (!s) { s = { id: r.clusterId, expired: false, resources: {}, count: 0 }; by.set(r.clusterId, s); }
    s.name ??= r.clusterName;
    if (r.expires && (!s.expires || r.expires < s.expires)) s.expires = r.expires;
    if (r.createdAt && (!s.createdAt || r.createdAt < s.createdAt)) s.createdAt = r.createdAt;
    (s.resources[r.kind] ??= []).push({ id: r.id, name: r.name });
    s.count++;
  }
  for (const s of by.values()) {
    if (s.expires) { const t = Date.parse(s.expires); s.expired = Number.isFinite(t) && t <= now.getTime(); }
    if (s.createdAt) {
      const t = Date.parse(/Z|[+-]\d\d:?\d\d$/.test(s.createdAt) ? s.createdAt : s.createdAt + "Z");
      if (Number.isFinite(t)) s.ageSeconds = Math.max(0, Math.round((now.getTime() - t) / 1000));
    }
  }
  return [...by.values()].sort((a, b) => (a.name ?? "").localeCompare(b.name ?? "") || a.id.localeCompare(b.id));
}
