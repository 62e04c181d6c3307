/** Cinder calls the tool needs (volumes, limits). Clouds without Cinder (like the test cloud) lack the catalog entry. */
import type { OpenStackClient } from "./client.js";

export interface Volume {
  id: string;
  name: string | null;
  status: string;
  size: number;
  created_at: string;
  metadata: Record<string, string>;
  attachments: { server_id: string; attachment_id?: string }[];
}

export const hasBlockStorage = (c: OpenStackClient) => c.hasService("block-storage");

export const listVolumes = (c: OpenStackClient) => c.list<Volume>("block-storage", "/volumes/detail", "volumes");

export async function getVolume(c: OpenStackClient, id: string): Promise<Volume | undefined> {
  const r = await c.request("block-storage", "GET", `/volumes/${id}`, { ok: [404] });
  return r.status === 404 ? undefined : r.body.volume;
}

export async function deleteVolume(c: OpenStackClient, id: string): Promise<boolean> {
  return (await c.request("block-storage", "DELETE", `/volumes/${id}`, { ok: [404] })).status !== 404;
}

/** Cinder absolute limits: maxTotalVolumes/totalVolumesUsed, maxTotalVolumeGigabytes/totalGigabytesUsed. */
export async function volumeLimits(c: OpenStackClient): Promise<Record<string, number>> {
  return (await c.request("block-storage", "GET", "/limits")).body.limits.absolute;
}
