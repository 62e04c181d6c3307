/**
 * The per-cluster application credential the head's power agent uses (Keystone API, never through
 * an engine: Terraform and Pulumi keep a credential's secret in their state in plain text).
 *
 * - Roles: the narrowest the user has on the project (`member` when present), never `admin`.
 * - Access rules (Keystone ≥ 3.13, Train) limit it to what the agent does: servers (create, list,
 *   show, delete), ports (create, list, show, delete), and reads of images, flavors and networks.
 *   No server action (a new node's host keys come by phone-home: host-keys.ts), no port update (the
 *   agent's mark is in the port's description), no group reads (`up` looks the ids up). A cloud whose Keystone is older gets a credential without
 *   rules, and `up`/`status` say so. Access rules match method + path only: a rule cannot tell
 *   this cluster's servers from others, so the agent's tag check guards deletes.
 * - `expires_at` = the cluster's expiry (spec `ttl`).
 * - Name `<name>-<id>` and the cluster's tag tokens in its description: `down`'s sweep finds it.
 *
 * The secret goes only to the head's secret file (model secret power.openstack-credential, 0400
 * slurm:slurm: the agent runs as SlurmUser); what is recorded on
 * this machine (CredentialRecord) has no secret.
 */
import { qualifiedName, type Cluster } from "../../../stacks/model/index.js";
import { OpenStackClient, OpenStackError } from "../../targets/openstack/cloud/client.js";
import type { CloudCredentials } from "../../targets/openstack/cloud/credentials.js";
import { deleteApplicationCredential, listApplicationCredentials, type ApplicationCredential } from "../../targets/openstack/cloud/identity.js";
import { registerSecret } from "../../targets/openstack/redact.js";


export interface AccessRule { service: "compute" | "network" | "image"; method: "GET" | "POST" | "DELETE" | "PUT"; path: string }

/** How the cloud treats the credential's access rules. */
export type AccessRulesSupport =
  | "enforced" // created with rules, and a call outside them was refused
  | "not enforced" // created with rules, but a call outside them succeeded: the rules are decoration on this cloud
  | "unsupported" // Keystone older than 3.13 (or it refused the rules): created without
  | "set"; // read back from Keystone (status): rules present, enforcement was probed at up

export interface CredentialRecord {
  id: string;
  name: string;
  userId: string;
  projectId: string;
  expiresAt: string | null;
  roles: string[];
  accessRules: AccessRulesSupport;
  /** The rules as created (empty when unsupported). */
  rules: AccessRule[];
  /** How the support was found (Keystone version, the probe's answer). */
  detail: string;
}

/** What the head's secret file holds. */
export interface HeadCredential {
  authUrl: string;
  region?: string;
  interface: CloudCredentials["interface"];
  id: string;
  secret: string;
  /** Keystone's expiry of the credential (ISO), so the agent can tell an expired credential from a revoked one. */
  expiresAt: string | null;
}

/** Keystone writes `2026-11-25T21:30:00.000000` (UTC, no zone letter). */
const isoOf = (t: string | null | undefined): string | null => (t ? new Date(Date.parse(/Z|[+-]\d\d:?\d\d$/.test(t) ? t : `${t}Z`)).toISOString() : null);

const pathOf = (url: string) => new URL(url).pathname.replace(/\/+$/, "");

/**
 * The access rules for the agent, with each service's path prefix from the catalog (`/v2.1`, or
 * `/compute/v2.1/<project>` behind a proxy): Keystone matches the path the service sees.
 */
export function agentAccessRules(c: OpenStackClient): AccessRule[] {
  const compute = pathOf(c.endpoint("compute")!), network = pathOf(c.endpoint("network")!), image = pathOf(c.endpoint("image")!);
  const r = (service: AccessRule["service"], method: AccessRule["method"], prefix: string, paths: string[]): AccessRule[] =>
    paths.map((p) => ({ service, method, path: prefix + p }));
  return [
    ...r("compute", "POST", compute, ["/servers"]),
    ...r("compute", "GET", compute, ["/servers", "/servers/detail", "/servers/*", "/flavors", "/flavors/detail", "/flavors/*"]),
    ...r("compute", "DELETE", compute, ["/servers/*"]),
    ...r("network", "POST", network, ["/ports"]),
    ...r("network", "GET", network, ["/ports", "/ports/*", "/networks", "/networks/*"]),
    ...r("network", "DELETE", network, ["/ports/*"]),
    ...r("image", "GET", image, ["/images", "/images/*"]),
  ];
}

/** The user's roles on the project the credential gets: `member` (or `_member_`) alone when present, else every role but admin. */
export function narrowestRoles(roles: { name: string }[]): string[] {
  const names = roles.map((r) => r.name);
  for (const n of ["member", "_member_", "Member"]) if (names.includes(n)) return [n];
  const rest = names.filter((n) => n.toLowerCase() !== "admin" && n !== "reader");
  if (!rest.length) {
    throw new Error(`the OpenStack user's roles on the project (${names.join(", ") || "none"}) leave nothing but admin or reader for the power agent's credential; `
      + "uws-cluster never gives a cluster the admin role: give the user the member role on the project");
  }
  return rest;
}

/** Keystone's API version (`3.14`) from its version document. */
export async function identityVersion(c: OpenStackClient): Promise<string | undefined> {
  try {
    const r = await c.raw("GET", c.endpoint("identity")!, {});
    return String(r.body?.version?.id ?? "").replace(/^v/, "") || undefined;
  } catch {
    return undefined;
  }
}

const atLeast = (v: string, major: number, minor: number) => {
  const [a = 0, b = 0] = v.split(".").map(Number);
  return a > major || (a === major && b >= minor);
};

export interface CreateOptions {
  /** Only for tests: pretend Keystone does not support access rules. */
  withoutAccessRules?: boolean;
}

/**
 * Creates the cluster's credential (replacing one of the same name: Keystone shows a secret once,
 * so a re-run of `up` makes a new one). Returns the record (no secret) and the secret for the head.
 */
export async function createClusterCredential(c: OpenStackClient, cluster: Pick<Cluster, "name" | "id" | "description" | "expiresAt" | "elastic">, o: CreateOptions = {}): Promise<{ record: CredentialRecord; head: HeadCredential }> {
  if (!cluster.elastic) throw new Error(`cluster ${cluster.name} has no elastic compute nodes: it needs no power credential`);
  if (!c.session) await c.authenticate();
  if (c.session!.methods.includes("application_credential")) {
    throw new Error("the power agent's credential is made by Keystone for a user: log in with a password, token or OIDC (an application credential may not create another)");
  }
  const name = qualifiedName(cluster.name, cluster.id);
  for (const old of (await listApplicationCredentials(c)).filter((a) => a.name === name)) await deleteApplicationCredential(c, old.id);
  const roles = narrowestRoles(c.session!.roles);
  const version = await identityVersion(c);
  const rules = !o.withoutAccessRules && version && atLeast(version, 3, 13) ? agentAccessRules(c) : [];
  const body = (withRules: boolean) => ({
    application_credential: {
      name, description: `power agent of ${cluster.name} (elastic compute nodes); ${cluster.description}`,
      roles: roles.map((n) => ({ name: n })), expires_at: cluster.expiresAt, unrestricted: false,
      ...(withRules ? { access_rules: rules } : {}),
    },
  });
  let detail = `Keystone API ${version ?? "version unknown"}`;
  let created: { id: string; secret: string; expires_at: string | null };
  try {
    created = (await c.request("identity", "POST", `/users/${c.userId}/application_credentials`, { body: body(rules.length > 0) })).body.application_credential;
  } catch (e) {
    // A Keystone that reports 3.13+ but rejects the field (a proxy, a patched cloud): without rules, said so.
    if (!(rules.length && e instanceof OpenStackError && e.status === 400)) throw e;
    detail += `; access rules refused (${e.message.slice(0, 120)})`;
    rules.length = 0;
    created = (await c.request("identity", "POST", `/users/${c.userId}/application_credentials`, { body: body(false) })).body.application_credential;
  }
  registerSecret(created.secret);
  const head: HeadCredential = { authUrl: c.creds.authUrl, ...(c.creds.regionName ? { region: c.creds.regionName } : {}), interface: c.creds.interface, id: created.id, secret: created.secret, expiresAt: isoOf(created.expires_at) };
  let support: AccessRulesSupport = "unsupported";
  if (rules.length) {
    const probe = await probeAccessRules(head);
    support = probe.enforced ? "enforced" : "not enforced";
    detail += `; ${probe.detail}`;
  } else if (!detail.includes("refused")) {
    detail += o.withoutAccessRules ? "; access rules not requested" : "; access rules need Keystone 3.13 (Train) or later";
  }
  return {
    record: { id: created.id, name, userId: c.userId, projectId: c.projectId, expiresAt: isoOf(created.expires_at), roles, accessRules: support, rules, detail },
    head,
  };
}

/** The credential as the client's credentials (what the agent logs in with). */
export function credentialLogin(h: HeadCredential): CloudCredentials {
  return {
    source: "power agent credential", authType: "v3applicationcredential", authUrl: h.authUrl, applicationCredentialId: h.id,
    applicationCredentialSecret: h.secret, interface: h.interface, ...(h.region ? { regionName: h.region } : {}),
  };
}

/**
 * Does the cloud enforce the rules? Logs in with the credential and lists keypairs (outside the
 * rules, harmless): a refusal means enforced. Some clouds accept access rules and ignore them.
 */
export async function probeAccessRules(h: HeadCredential): Promise<{ enforced: boolean; detail: string }> {
  const c = await OpenStackClient.connect(credentialLogin(h), { retries: 1, timeoutMs: 20_000 });
  const r = await c.request("compute", "GET", "/os-keypairs", { ok: [401, 403] });
  return r.status === 401 || r.status === 403
    ? { enforced: true, detail: `a call outside the rules (GET os-keypairs) was refused (${r.status})` }
    : { enforced: false, detail: "a call outside the rules (GET os-keypairs) was ALLOWED: this cloud does not enforce access rules" };
}

/** Deletes the cluster's credential(s) by name; the ids deleted. */
export async function deleteClusterCredential(c: OpenStackClient, cluster: Pick<Cluster, "name" | "id">): Promise<string[]> {
  const name = qualifiedName(cluster.name, cluster.id);
  const gone: string[] = [];
  for (const a of (await listApplicationCredentials(c)).filter((x) => x.name === name)) if (await deleteApplicationCredential(c, a.id)) gone.push(a.id);
  return gone;
}

/** The cluster's credential as Keystone lists it (no secret), for `status`; undefined when there is none. */
export async function findClusterCredential(c: OpenStackClient, cluster: Pick<Cluster, "name" | "id">): Promise<Omit<CredentialRecord, "detail" | "userId" | "projectId"> | undefined> {
  const name = qualifiedName(cluster.name, cluster.id);
  const a = (await listApplicationCredentials(c)).find((x) => x.name === name) as (ApplicationCredential & { roles?: { name: string }[]; access_rules?: AccessRule[] }) | undefined;
  if (!a) return undefined;
  const rules = a.access_rules ?? [];
  return { id: a.id, name, expiresAt: isoOf(a.expires_at), roles: (a.roles ?? []).map((r) => r.name), accessRules: rules.length ? "set" : "unsupported", rules };
}

/** One line for `up` and `status`. */
export function describeCredential(r: Pick<CredentialRecord, "name" | "expiresAt" | "roles" | "accessRules" | "rules">): string {
  const rules = r.accessRules === "unsupported" ? "no access rules (the cloud's Keystone does not support them): the credential can do all its roles allow"
    : r.accessRules === "not enforced" ? `${r.rules.length} access rules, NOT enforced by this cloud: the credential can do all its roles allow`
    : r.accessRules === "set" ? `${r.rules.length} access rules (servers, ports; reads of images, flavors, networks, security groups)`
    : `${r.rules.length} access rules (servers, ports; reads of images, flavors, networks, security groups), enforced`;
  return `power credential ${r.name}: roles ${r.roles.join(", ")}; expires ${r.expiresAt ?? "never"}; ${rules}`;
}
