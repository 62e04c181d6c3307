/**
 * Cluster specs and resolved models for tests, in one place: a valid OpenStack spec with overrides
 * (plus its network and volume variants), a local spec, the shipped examples, the renderer's
 * variants (aai + dns, existing network), and one fixed identity so ids, tags and dates are stable.
 */
import { readFileSync } from "node:fs";
import { stringify } from "yaml";
import { parseSpec, resolveCluster, validateSpec, type Cluster, type ResolveContext } from "../../stacks/model/index.js";

/** The identity tests resolve with: a fixed id and creation time. */
export const FIXED: ResolveContext = { id: "0123456789ab", now: new Date("2026-01-01T00:00:00Z") };

/** A valid OpenStack spec (created network, managed volume, 2 computes), fields replaced by `overrides`. */
export function openstackSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "t-cluster",
    ttl: "8h",
    target: "openstack",
    openstack: { externalNetwork: "public" },
    head: { image: "Debian-12", flavor: "m1.large", cpus: 4, memoryMb: 8192 },
    compute: { count: 2, flavor: "m1.medium", cpus: 2, memoryMb: 4096 },
    network: { create: { cidr: "192.168.44.0/24", dnsServers: ["8.8.8.8"] } },
    access: { sshCidrs: ["203.0.113.0/24"], httpsCidrs: ["0.0.0.0/0"], keypair: "generate" },
    volume: { managed: { sizeGb: 10 } },
    serverGroup: "soft-anti-affinity",
    ...overrides,
  };
}

/** openstackSpec(overrides), validated and resolved with the fixed identity. */
export function openstackCluster(overrides: Record<string, unknown> = {}, ctx: ResolveContext = FIXED): Cluster {
  return resolveCluster(validateSpec(openstackSpec(overrides)), ctx);
}

/** Network and volume variants the stack tests run every combination of. */
export const NETWORKS = {
  create: { network: { create: { cidr: "10.10.0.0/16", dnsServers: ["8.8.8.8"] } } },
  existing: { network: { existing: { network: "shared-net", subnet: "0f5a9d3c-1b2e-4c4d-9e8f-0a1b2c3d4e5f" } } },
};
export const VOLUMES = {
  managed: { volume: { managed: { sizeGb: 20, type: "ssd" } } },
  existing: { volume: { existing: { id: "6b1e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b" } } },
};

/** Options of a small cluster on the test cloud (test/harness/openstack/): its tiny image and flavor. */
export interface CloudSpecOptions {
  computes?: number; ttl?: string; image?: string; flavor?: string; cpus?: number; memoryMb?: number; externalNetwork?: string; cidr?: string;
}

/** A cluster the loopback OpenStack can create: tiny image and flavor, no volume, its own subnet. */
export function cloudSpec(name: string, o: CloudSpecOptions = {}): Record<string, unknown> {
  const size = { flavor: o.flavor ?? "m1.tiny", cpus: o.cpus ?? 1, memoryMb: o.memoryMb ?? 512 };
  return openstackSpec({
    name,
    ttl: o.ttl,
    openstack: { externalNetwork: o.externalNetwork ?? "public", sshUser: "debian" },
    head: { image: o.image ?? "tiny", ...size },
    compute: { count: o.computes ?? 1, ...size },
    network: { create: { cidr: o.cidr ?? "192.168.44.0/24", dnsServers: [] } },
    volume: "none",
  });
}

/** cloudSpec resolved with a fresh id (clusters on one test cloud must not share one), created at `now`. */
export function cloudCluster(name: string, o: CloudSpecOptions & { now?: Date } = {}): Cluster {
  return resolveCluster(validateSpec(cloudSpec(name, o)), { now: o.now });
}

/** A local-target spec: `name`, two compute nodes, fields replaced by `overrides`. */
export function localSpec(name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, target: "local", compute: { count: 2 }, ...overrides };
}

/** A spec as the YAML file a user writes (for the CLI's --spec). */
export function specYaml(spec: Record<string, unknown>): string {
  return stringify(spec);
}

/** A shipped example (examples/NAME.yaml), resolved with the fixed identity. */
export function example(name: "openstack" | "local"): Cluster {
  return resolveCluster(parseSpec(readFileSync(`examples/${name}.yaml`, "utf8"), `examples/${name}.yaml`), FIXED);
}

/** EGI Check-in login and a DNS name (Let's Encrypt). */
export function aaiDns(): Cluster {
  return openstackCluster({
    name: "t-aai",
    aai: { preset: "egi-checkin", clientId: "uws-t", clientSecret: { env: "T_SECRET" }, allow: { entitlements: ["urn:x:vo#aai.egi.eu"] }, admins: { subs: ["admin@egi.eu"] } },
    dns: { name: "jobs.example.org", email: "ops@example.org" },
  });
}

/** An existing network: the cloud assigns addresses, known only after apply. */
export function existingNet(): Cluster {
  return openstackCluster({
    name: "t-exist",
    network: { existing: { network: "project-net", subnet: "project-subnet" } },
    volume: { existing: { id: "5c3e1d9a-0000-4000-8000-000000000001" } },
    aai: { preset: "generic", issuer: "https://login.example.org/realms/main", clientId: "uws-x", clientSecret: { file: "/run/secret" } },
    jobserver: { auth: "oidc", port: 9000, uploadLimitMb: 250 },
  });
}

/** Addresses as the cloud would report them after apply. */
export function assigned(c: Cluster): Record<string, string> {
  return Object.fromEntries(c.nodes.map((n, i) => [n.name, `172.16.5.${20 + i}`]));
}

/** Every spec shape the renderer must handle. */
export const ALL_SPECS: [string, () => Cluster][] = [
  ["examples/openstack.yaml", () => example("openstack")],
  ["aai + dns", aaiDns],
  ["existing network", existingNet],
  ["tokens, no volume, orcid absent", () => openstackCluster({ name: "t-novol", volume: "none", jobserver: { auth: "tokens" } })],
  ["examples/local.yaml", () => example("local")],
];

/** A public key the stacks declare as the cluster's keypair (not a real key). */
export const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxqY3VzdGVyLXRlc3Qta2V5LW5vdC1yZWFs test";

/** What the stacks and engines take besides the model: the public key and a user-data stub per node. */
export function stackInputs(c: Cluster): { publicKey: string; userData: Record<string, string> } {
  return { publicKey: PUBLIC_KEY, userData: Object.fromEntries(c.nodes.map((n) => [n.name, `#cloud-config\nhostname: ${n.name}\n`])) };
}
