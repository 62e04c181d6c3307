/** Glance calls the tool needs: find an image as the model looks it up (by id or by name). */
import type { Lookup } from "../../../../stacks/model/index.js";
import type { OpenStackClient } from "./client.js";

export interface Image { id: string; name: string; status: string; visibility?: string; min_ram?: number; min_disk?: number }

/** The images `ref` designates: the one with that id, or those with that name (several when ambiguous). */
export async function findImages(c: OpenStackClient, ref: Lookup): Promise<Image[]> {
  if (ref.by === "id") {
    const r = await c.request("image", "GET", `/images/${encodeURIComponent(ref.value)}`, { ok: [404] });
    return r.status === 404 ? [] : [r.body as Image];
  }
  return c.list<Image>("image", "/images", "images", { name: ref.value });
}
