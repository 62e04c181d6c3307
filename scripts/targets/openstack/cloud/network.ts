/** Neutron calls the tool needs: networks, subnets, routers + interfaces, ports, floating IPs, security groups + rules, quotas. */
import type { OpenStackClient } from "./client.js";

interface Base { id: string; name: string; description?: string; tags?: string[]; created_at?: string; project_id?: string }
export interface Network extends Base { "router:external"?: boolean; subnets: string[]; status?: string }
export interface Subnet extends Base { network_id: string; cidr: string; gateway_ip?: string | null }
export interface Router extends Base { external_gateway_info?: { network_id: string } | null }
export interface Port extends Base { network_id: string; device_id: string; device_owner: string; fixed_ips: { subnet_id: string; ip_address: string }[]; status?: string }
export interface FloatingIp extends Base { floating_ip_address: string; floating_network_id: string; port_id: string | null; fixed_ip_address?: string | null }
export interface SecurityGroup extends Base { security_group_rules?: SecurityGroupRule[] }
export interface SecurityGroupRule { id: string; security_group_id: string; direction: string; ethertype: string; protocol: string | null; port_range_min: number | null; port_range_max: number | null; remote_ip_prefix: string | null; remote_group_id: string | null; description?: string }

/** Collections by their URL segment and JSON key. */
export const NEUTRON = {
  network: { path: "/networks", key: "networks", one: "network" },
  subnet: { path: "/subnets", key: "subnets", one: "subnet" },
  router: { path: "/routers", key: "routers", one: "router" },
  port: { path: "/ports", key: "ports", one: "port" },
  floatingip: { path: "/floatingips", key: "floatingips", one: "floatingip" },
  security_group: { path: "/security-groups", key: "security_groups", one: "security_group" },
  security_group_rule: { path: "/security-group-rules", key: "security_group_rules", one: "security_group_rule" },
} as const;
export type NeutronKind = keyof typeof NEUTRON;

export function list<T = Base>(c: OpenStackClient, kind: NeutronKind, query: Record<string, string | string[] | boolean | undefined> = {}): Promise<T[]> {
  return c.list<T>("network", NEUTRON[kind].path, NEUTRON[kind].key, query);
}

export async function create<T = Base>(c: OpenStackClient, kind: NeutronKind, body: Record<string, unknown>): Promise<T> {
  const k = NEUTRON[kind];
  return (await c.request("network", "POST", k.path, { body: { [k.one]: body } })).body[k.one];
}

export async function remove(c: OpenStackClient, kind: NeutronKind, id: string): Promise<boolean> {
  return (await c.request("network", "DELETE", `${NEUTRON[kind].path}/${id}`, { ok: [404] })).status !== 404;
}

/** Sets the complete tag list of a resource (Neutron tags are not accepted on create before Zed for every kind). */
export async function setTags(c: OpenStackClient, kind: Exclude<NeutronKind, "security_group_rule">, id: string, tags: string[]): Promise<void> {
  await c.request("network", "PUT", `${NEUTRON[kind].path}/${id}/tags`, { body: { tags } });
}

export async function addRouterInterface(c: OpenStackClient, routerId: string, subnetId: string): Promise<void> {
  await c.request("network", "PUT", `/routers/${routerId}/add_router_interface`, { body: { subnet_id: subnetId } });
}

/** Removes an interface; true when it existed. Safe to repeat (404 = already gone). */
export async function removeRouterInterface(c: OpenStackClient, routerId: string, portId: string): Promise<boolean> {
  const r = await c.request("network", "PUT", `/routers/${routerId}/remove_router_interface`, { body: { port_id: portId }, ok: [404] });
  return r.status !== 404;
}

/** Neutron quota details: {resource: {limit, used, reserved}} (limit -1 = unlimited). */
export async function quotaDetails(c: OpenStackClient, projectId: string): Promise<Record<string, { limit: number; used: number; reserved: number }>> {
  return (await c.request("network", "GET", `/quotas/${projectId}/details`)).body.quota;
}
