/** Specs the renderer tests use: the shipped examples plus variants (aai + dns, existing network, no volume). */
import { readFileSync } from "node:fs";
import { parseSpec, resolveCluster, validateSpec, type Cluster } from "../../stacks/model/index.js";

const FIXED = { id: "0123456789ab", createdAt: "2025-01-01T00:00:00Z" };

export function example(name: "openstack" | "local"): Cluster {
  return resolveCluster(parseSpec(readFileSync(`examples/${name}.yaml`, "utf8"), `examples/${name}.yaml`), FIXED);
}

function base(): Record<string, unknown> {
  return {
    name: "t-render",
    target: "openstack",
    openstack: { externalNetwork: "public" },
    head: { image: "Debian-12", flavor: "m1.large", cpus: 4, memoryMb: 8192 },
    compute: { count: 2, flavor: "m1.medium", cpus: 2, memoryMb: 4096 },
    network: { create: { cidr: "10.20.0.0/24", dnsServers: ["9.9.9.9"] } },
    access: { sshCidrs: ["203.0.113.0/24"], httpsCidrs: ["0.0.0.0/0"], keypair: "generate" },
    volume: { managed: { sizeGb: 10 } },
  };
}

export function cluster(overrides: Record<string, unknown> = {}): Cluster {
  return resolveCluster(validateSpec({ ...base(), ...overrides }), FIXED);
}

/** EGI Check-in login and a DNS name (Let's Encrypt). */
export function aaiDns(): Cluster {
  return cluster({
    name: "t-aai",
    aai: { preset: "egi-checkin", clientId: "uws-t", clientSecret: { env: "T_SECRET" }, allow: { entitlements: ["urn:x:vo#aai.egi.eu"] }, admins: { subs: ["admin@egi.eu"] } },
    dns: { name: "jobs.example.org", email: "ops@example.org" },
  });
}

/** An existing network: the cloud assigns addresses, known only after apply. */
export function existingNet(): Cluster {
  return cluster({
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

export const ALL_SPECS: [string, () => Cluster][] = [
  ["examples/openstack.yaml", () => example("openstack")],
  ["aai + dns", aaiDns],
  ["existing network", existingNet],
  ["tokens, no volume, orcid absent", () => cluster({ name: "t-novol", volume: "none", jobserver: { auth: "tokens" } })],
  ["examples/local.yaml", () => example("local")],
];
