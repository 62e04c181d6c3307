/** Nova calls the tool needs: servers, flavors, keypairs, server groups, limits, volume attachments. */
import type { OpenStackClient } from "./client.js";

export interface Server {
  id: string;
  name: string;
  status: string;
  created: string;
  metadata: Record<string, string>;
  tags?: string[];
  addresses?: Record<string, { addr: string; "OS-EXT-IPS:type"?: string }[]>;
  "os-extended-volumes:volumes_attached"?: { id: string }[];
}
export interface Flavor { id: string; name: string; vcpus: number; ram: number; disk: number }
export interface Keypair { name: string; fingerprint?: string; public_key?: string; type?: string }
export interface ServerGroup { id: string; name: string; policy?: string; policies?: string[]; members: string[] }

export const listServers = (c: OpenStackClient, query: Record<string, string> = {}) =>
  c.list<Server>("compute", "/servers/detail", "servers", query);

export async function getServer(c: OpenStackClient, id: string): Promise<Server | undefined> {
  const r = await c.request("compute", "GET", `/servers/${id}`, { ok: [404] });
  return r.status === 404 ? undefined : r.body.server;
}

export interface CreateServer {
  name: string;
  imageRef: string;
  flavorRef: string;
  ports: string[];
  keyName?: string;
  metadata?: Record<string, string>;
  tags?: string[];
  userData?: string;
  availabilityZone?: string;
  serverGroupId?: string;
}

export async function createServer(c: OpenStackClient, s: CreateServer): Promise<Server> {
  const body: Record<string, unknown> = {
    server: {
      name: s.name, imageRef: s.imageRef, flavorRef: s.flavorRef, networks: s.ports.map((port) => ({ port })),
      ...(s.keyName ? { key_name: s.keyName } : {}), ...(s.metadata ? { metadata: s.metadata } : {}), ...(s.tags ? { tags: s.tags } : {}),
      ...(s.userData ? { user_data: Buffer.from(s.userData).toString("base64") } : {}),
      ...(s.availabilityZone ? { availability_zone: s.availabilityZone } : {}),
    },
    ...(s.serverGroupId ? { "os:scheduler_hints": { group: s.serverGroupId } } : {}),
  };
  return (await c.request("compute", "POST", "/servers", { body })).body.server;
}

/** Deletes a server; true when it was there. */
export async function deleteServer(c: OpenStackClient, id: string): Promise<boolean> {
  return (await c.request("compute", "DELETE", `/servers/${id}`, { ok: [404] })).status !== 404;
}

export const listFlavors = (c: OpenStackClient) => c.list<Flavor>("compute", "/flavors/detail", "flavors", { is_public: "None" });

export const listKeypairs = async (c: OpenStackClient): Promise<Keypair[]> =>
  (await c.list<{ keypair: Keypair }>("compute", "/os-keypairs", "keypairs")).map((k) => k.keypair);

export async function createKeypair(c: OpenStackClient, name: string, publicKey?: string): Promise<Keypair> {
  return (await c.request("compute", "POST", "/os-keypairs", { body: { keypair: publicKey ? { name, public_key: publicKey } : { name } } })).body.keypair;
}

export async function deleteKeypair(c: OpenStackClient, name: string): Promise<boolean> {
  return (await c.request("compute", "DELETE", `/os-keypairs/${encodeURIComponent(name)}`, { ok: [404] })).status !== 404;
}

export const listServerGroups = (c: OpenStackClient) => c.list<ServerGroup>("compute", "/os-server-groups", "server_groups");

export async function createServerGroup(c: OpenStackClient, name: string, policy: string): Promise<ServerGroup> {
  return (await c.request("compute", "POST", "/os-server-groups", { body: { server_group: { name, policy } } })).body.server_group;
}

export async function deleteServerGroup(c: OpenStackClient, id: string): Promise<boolean> {
  return (await c.request("compute", "DELETE", `/os-server-groups/${id}`, { ok: [404] })).status !== 404;
}

/** Nova absolute limits: maxTotalInstances/totalInstancesUsed, cores, RAM, server groups, keypairs (-1 = unlimited). */
export async function computeLimits(c: OpenStackClient): Promise<Record<string, number>> {
  return (await c.request("compute", "GET", "/limits")).body.limits.absolute;
}

export async function detachVolume(c: OpenStackClient, serverId: string, volumeId: string): Promise<boolean> {
  return (await c.request("compute", "DELETE", `/servers/${serverId}/os-volume_attachments/${volumeId}`, { ok: [404] })).status !== 404;
}
