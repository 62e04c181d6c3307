/**
 * Cloud side of `uws-cluster status`: the project's resources by tag, grouped per cluster, with age
 * and expiry. Pure read; safe to print (no credential appears in it).
 */
import type { OpenStackClient } from "./client.js";
import { KINDS, type ClusterSummary } from "./inventory.js";
import { listClusters } from "./sweep.js";

export interface CloudStatus {
  project?: string;
  clusters: ClusterSummary[];
  notes: string[];
}

/** Clusters found by tag; `filter` narrows to one name and/or id. */
export async function cloudStatus(c: OpenStackClient, filter: { name?: string; id?: string; now?: Date } = {}): Promise<CloudStatus> {
  const { clusters, notes } = await listClusters(c, { now: filter.now });
  return {
    project: c.session?.projectName ?? c.session?.projectId,
    clusters: clusters.filter((s) => (!filter.name || s.name === filter.name) && (!filter.id || s.id === filter.id)),
    notes,
  };
}

export function formatAge(seconds: number | undefined): string {
  if (seconds === undefined) return "?";
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

/** Human table: one line per cluster, then its resources by kind. */
export function formatStatus(st: CloudStatus): string {
  if (!st.clusters.length) return `no uws-cluster resources in project ${st.project ?? "?"}` + st.notes.map((n) => `\nnote: ${n}`).join("");
  const lines: string[] = [];
  for (const s of st.clusters) {
    const exp = s.expires ? `${s.expires}${s.expired ? " (EXPIRED)" : ""}` : "never";
    lines.push(`${s.name ?? "?"} id=${s.id} age=${formatAge(s.ageSeconds)} expires=${exp} resources=${s.count}`);
    for (const k of KINDS) {
      const items = s.resources[k];
      if (items?.length) lines.push(`  ${k}: ${items.map((i) => i.name || i.id).join(", ")}`);
    }
  }
  for (const n of st.notes) lines.push(`note: ${n}`);
  return lines.join("\n");
}
