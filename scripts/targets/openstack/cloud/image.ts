/** Glance calls the tool needs: find an image by name or id. */
import type { OpenStackClient } from "./client.js";

export interface Image { id: string; name: string; status: string; visibility?: string; min_ram?: number; min_disk?: number }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Images whose id or name is `ref` (several when a name is ambiguous). */
export async function findImages(c: OpenStackClient, ref: string): Promise<Image[]> {
  if (UUID.test(ref)) {
    const r = await c.request("image", "GET", `/images/${ref}`, { ok: [404] });
    if (r.status !== 404) return [r.body as Image];
  }
  return c.list<Image>("image", "/images", "images", { name: ref });
}
