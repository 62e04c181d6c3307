/**
 * The names, tag keys and lookups every rendering and the teardown share. The Terraform stack, the
 * Pulumi program, the cloud client (inventory, sweep, pre-flight) and the tests read these; none of
 * them spells a tag key, a name suffix or a UUID test of its own.
 */

/**
 * Tag (Neutron, Nova) and metadata (Nova, Cinder) keys. Teardown finds a cluster by exactly these,
 * so changing one orphans every existing cluster.
 */
export const TAG_NAME = "uws-cluster";
export const TAG_ID = "uws-cluster-id";
export const TAG_EXPIRES = "uws-cluster-expires";
/** Servers only: `head` or `compute`. */
export const TAG_ROLE = "uws-cluster-role";
/** Ports only: `agent` on a port an elastic cluster's power agent made for a node (it deletes it with the node). */
export const TAG_POWER = "uws-cluster-power";
/** The keys that attribute a resource to a cluster (the role is not among them). */
export const CLUSTER_TAG_KEYS = [TAG_NAME, TAG_ID, TAG_EXPIRES] as const;
export type ClusterTagKey = (typeof CLUSTER_TAG_KEYS)[number];
/** Cluster tags read back from a resource (any of them may be missing). */
export type ClusterTags = Partial<Record<ClusterTagKey, string>>;

/** `key=value`: one entry of a tag list, and one token of a description. */
export function tagToken(key: string, value: string): string {
  return `${key}=${value}`;
}

/** The cluster tags in a tag list and/or description text (`...; uws-cluster uws-cluster=NAME uws-cluster-id=ID ...`). */
export function parseClusterTags(tags: readonly string[] | undefined, description?: string | null): ClusterTags {
  const out: ClusterTags = {};
  const add = (t: string) => {
    const i = t.indexOf("=");
    if (i <= 0) return;
    const k = t.slice(0, i);
    if ((CLUSTER_TAG_KEYS as readonly string[]).includes(k)) out[k as ClusterTagKey] ??= t.slice(i + 1);
  };
  for (const t of tags ?? []) add(t);
  if (description) for (const tok of description.split(/[\s;,]+/)) add(tok);
  return out;
}

/** The cluster tags among a metadata map (Nova, Cinder). */
export function pickClusterTags(metadata: Record<string, string> | undefined): ClusterTags {
  const out: ClusterTags = {};
  for (const k of CLUSTER_TAG_KEYS) if (metadata?.[k]) out[k] = metadata[k];
  return out;
}

/**
 * Resources without tags (keypairs, server groups, application credentials, engine state) carry the
 * cluster id in their name: `<name>-<id>`, then a kind suffix.
 */
export function qualifiedName(name: string, id: string, suffix = ""): string {
  return `${name}-${id}${suffix}`;
}
/** Suffix of the server group's name (`<name>-<id>-servers`). */
export const SERVER_GROUP_SUFFIX = "-servers";
/** Suffix of the generated keypair's name (`<name>-<id>`). */
export const KEYPAIR_SUFFIX = "";

/** The inverse of qualifiedName: `<name>-<id><suffix>` → name and id, or undefined. The caller decides which ids it trusts. */
export function parseQualifiedName(text: string, suffix: string, namePattern: RegExp): { name: string; id: string } | undefined {
  if (!text.endsWith(suffix)) return undefined;
  const stem = text.slice(0, text.length - suffix.length);
  const dash = stem.lastIndexOf("-");
  if (dash <= 0) return undefined;
  const name = stem.slice(0, dash), id = stem.slice(dash + 1);
  return namePattern.test(name) && id ? { name, id } : undefined;
}

/**
 * How a reference to an existing cloud object (image, flavor, network, subnet) is looked up: by id
 * when the user gave a UUID (ids are stable), else by name.
 */
export interface Lookup {
  by: "id" | "name";
  value: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function lookupOf(ref: string): Lookup {
  return { by: UUID.test(ref) ? "id" : "name", value: ref };
}

/**
 * The nodes `up` creates: the head and the compute nodes that always exist. The on-demand ones
 * (elastic clusters, above compute.min) are created later by the power agent when Slurm asks.
 */
export function createdByUp<N extends { power: "always" | "on-demand" }>(cluster: { nodes: N[] }): N[] {
  return cluster.nodes.filter((n) => n.power === "always");
}

/** Length of the one-time nonce (hex) in an on-demand node's phone-home URL. */
export const HOST_KEY_NONCE_HEX = 32;

/**
 * Where an on-demand node posts its SSH host keys (cloud-init phone_home): the head's private
 * address, the model's port, the resume's one-time nonce as the last path segment.
 */
export function hostKeyUrl(headAddress: string, port: number, nonce: string): string {
  return `http://${headAddress}:${port}/host-keys/${nonce}`;
}
