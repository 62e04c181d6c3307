/**
 * Pre-flight: everything that would make `up` fail half-way, checked before anything is created.
 * Read-only. Every check runs (one failing check does not hide the next) and the report lists all
 * problems at once; the CLI maps `ok: false` to exit code 3.
 */
import type { Cluster, Lookup } from "../../../../stacks/model/index.js";
import { PreflightError } from "../../../errors.js";
import { getVolume, hasBlockStorage, volumeLimits } from "./blockstorage.js";
import { OpenStackError, type OpenStackClient } from "./client.js";
import { computeLimits, listFlavors, type Flavor } from "./compute.js";
import { findImages } from "./image.js";
import { scanProject, summarize } from "./inventory.js";
import { list, quotaDetails, type Network, type Subnet } from "./network.js";
import { redactText } from "../redact.js";

export interface PreflightProblem {
  /** quota, image, flavor, external-network, network, subnet, volume, region, name-collision, api */
  check: string;
  message: string;
}

export interface PreflightReport {
  ok: boolean;
  problems: PreflightProblem[];
  /** What the cluster needs, per quota resource (for the report). */
  needs: Record<string, number>;
  notes: string[];
}

/** Neutron adds two egress rules (IPv4, IPv6) to every new security group. */
const DEFAULT_RULES_PER_GROUP = 2;

export async function preflight(c: OpenStackClient, cluster: Cluster): Promise<PreflightReport> {
  const problems: PreflightProblem[] = [];
  const notes: string[] = [];
  const add = (check: string, message: string) => problems.push({ check, message });
  const guard = async (check: string, fn: () => Promise<void>) => {
    try { await fn(); } catch (e) {
      add(check, `could not be checked: ${redactText((e as Error).message)}`);
    }
  };

  if (cluster.region && c.regions().length && !c.regions().includes(cluster.region)) {
    add("region", `openstack.region "${cluster.region}" is not in this cloud's catalog (regions: ${c.regions().join(", ")})`);
  }

  // Images
  await guard("image", async () => {
    for (const image of new Set(cluster.nodes.map((n) => n.image))) {
      const nodes = cluster.nodes.filter((n) => n.image === image);
      const field = nodes.some((n) => n.role === "head") ? "head.image" : "compute.image";
      const found = await findImages(c, nodes[0]!.imageRef);
      if (!found.length) add("image", `${field}: image "${image}" not found in Glance; use an image name or id from \`openstack image list\``);
      else if (found.length > 1) add("image", `${field}: image name "${image}" is ambiguous (${found.length} images: ${found.map((i) => i.id).join(", ")}); give the image id`);
      else if (found[0]!.status !== "active") add("image", `${field}: image "${image}" is ${found[0]!.status}, not active`);
    }
  });

  // Flavors, and the spec's cpus/memoryMb against them (slurm.conf is written from the spec)
  const flavorOf = new Map<string, Flavor>();
  await guard("flavor", async () => {
    const flavors = await listFlavors(c);
    const seen = new Set<string>();
    for (const n of cluster.nodes) {
      const key = `${n.role}/${n.flavor}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const field = n.role === "head" ? "head" : "compute";
      const f = flavors.find((x) => (n.flavorRef.by === "id" ? x.id : x.name) === n.flavorRef.value);
      if (!f) {
        add("flavor", `${field}.flavor: flavor "${n.flavor}" not found; available: ${flavors.map((x) => x.name).sort().slice(0, 15).join(", ") || "none"}`);
        continue;
      }
      flavorOf.set(n.flavor, f);
      if (f.vcpus < n.cpus) add("flavor", `${field}.cpus is ${n.cpus} but flavor "${f.name}" has ${f.vcpus} vCPUs; lower ${field}.cpus or pick a larger flavor`);
      if (f.ram < n.memoryMb) add("flavor", `${field}.memoryMb is ${n.memoryMb} but flavor "${f.name}" has ${f.ram} MB RAM; lower ${field}.memoryMb or pick a larger flavor`);
    }
  });

  // Networks
  const net = cluster.network;
  if (net.mode === "create") {
    await guard("external-network", async () => {
      const ext = await list<Network>(c, "network", { "router:external": "true" });
      const names = ext.map((n) => n.name).join(", ") || "none";
      if (!net.externalNetwork) add("external-network", `openstack.externalNetwork is not set; external networks in this cloud: ${names}`);
      else if (!ext.some((n) => n.id === net.externalNetwork || n.name === net.externalNetwork)) {
        add("external-network", `openstack.externalNetwork "${net.externalNetwork}" is not an external network here; external networks: ${names}`);
      }
    });
  } else {
    await guard("network", async () => {
      const nets = await list<Network>(c, "network", byRef(net.networkRef));
      if (nets.length !== 1) {
        add("network", nets.length ? `network.existing.network "${net.network}" is ambiguous (${nets.length} networks); give its id` : `network.existing.network "${net.network}" not found`);
        return;
      }
      const subs = await list<Subnet>(c, "subnet", net.subnetRef.by === "id" ? byRef(net.subnetRef) : { ...byRef(net.subnetRef), network_id: nets[0]!.id });
      if (subs.length !== 1) add("subnet", subs.length ? `network.existing.subnet "${net.subnet}" is ambiguous; give its id` : `network.existing.subnet "${net.subnet}" not found on network "${net.network}"`);
      else if (subs[0]!.network_id !== nets[0]!.id) add("subnet", `network.existing.subnet "${net.subnet}" belongs to another network than "${net.network}"`);
    });
  }

  // Quotas: what this cluster needs against limit − used
  const creates = net.mode === "create";
  const cores = cluster.nodes.reduce((s, n) => s + (flavorOf.get(n.flavor)?.vcpus ?? n.cpus), 0);
  const ram = cluster.nodes.reduce((s, n) => s + (flavorOf.get(n.flavor)?.ram ?? n.memoryMb), 0);
  const rules = cluster.securityRules.length + cluster.securityGroups.length * DEFAULT_RULES_PER_GROUP;
  const needs: Record<string, number> = {
    instances: cluster.nodes.length, cores, ram,
    ...(cluster.serverGroup ? { server_groups: 1 } : {}),
    ...(cluster.keypair.mode === "generate" ? { key_pairs: 1 } : {}),
    // node ports + the router interface and a DHCP port on a created network
    port: cluster.nodes.length + (creates ? 2 : 0),
    security_group: cluster.securityGroups.length, security_group_rule: rules,
    ...(creates ? { network: 1, subnet: 1, router: 1, floatingip: 1 } : {}),
    ...(cluster.volume.mode === "managed" ? { volumes: 1, gigabytes: cluster.volume.sizeGb } : {}),
  };
  const check = (what: string, label: string, limit: number | undefined, used: number | undefined) => {
    const need = needs[what];
    if (!need || limit === undefined || limit < 0) return;
    const free = limit - (used ?? 0);
    if (free < need) add("quota", `${label}: the cluster needs ${need}, the project has ${Math.max(0, free)} free (quota ${limit}, used ${used ?? 0}); ask the cloud's support for more or make the cluster smaller`);
  };
  await guard("quota", async () => {
    const l = await computeLimits(c);
    check("instances", "instances", l.maxTotalInstances, l.totalInstancesUsed);
    check("cores", "cores (vCPUs)", l.maxTotalCores, l.totalCoresUsed);
    check("ram", "RAM (MB)", l.maxTotalRAMSize, l.totalRAMUsed);
    check("server_groups", "server groups", l.maxServerGroups, l.totalServerGroupsUsed);
    if (l.maxTotalKeypairs !== undefined) notes.push(`keypairs: quota ${l.maxTotalKeypairs} (usage is not reported by Nova)`);
  });
  await guard("quota", async () => {
    let q: Record<string, { limit: number; used: number; reserved?: number }>;
    try {
      q = await quotaDetails(c, c.projectId);
    } catch (e) {
      if (!(e instanceof OpenStackError && (e.status === 403 || e.status === 404))) throw e;
      // No quota-details extension or no right to read it: limits from /quotas, usage by counting.
      const limits = (await c.request("network", "GET", `/quotas/${c.projectId}`)).body.quota as Record<string, number>;
      const count = async (k: "network" | "subnet" | "router" | "port" | "floatingip" | "security_group" | "security_group_rule") =>
        (await list(c, k, { project_id: c.projectId, fields: ["id"] })).length;
      q = {};
      for (const k of ["network", "subnet", "router", "port", "floatingip", "security_group", "security_group_rule"] as const) {
        if (needs[k]) q[k] = { limit: limits[k] ?? -1, used: await count(k) };
      }
    }
    const labels: Record<string, string> = { network: "networks", subnet: "subnets", router: "routers", port: "ports", floatingip: "floating IPs", security_group: "security groups", security_group_rule: "security group rules" };
    for (const [k, label] of Object.entries(labels)) if (q[k]) check(k, label, q[k]!.limit, q[k]!.used + (q[k]!.reserved ?? 0));
  });

  // Volumes (Cinder)
  if (cluster.volume.mode !== "none") {
    if (!hasBlockStorage(c)) {
      add("volume", `volume is ${cluster.volume.mode} but this cloud has no block-storage (Cinder) service; set volume: none`);
    } else if (cluster.volume.mode === "managed") {
      await guard("quota", async () => {
        const l = await volumeLimits(c);
        check("volumes", "volumes", l.maxTotalVolumes, l.totalVolumesUsed);
        check("gigabytes", "volume gigabytes", l.maxTotalVolumeGigabytes, l.totalGigabytesUsed);
      });
    } else {
      const id = cluster.volume.id;
      await guard("volume", async () => {
        const v = await getVolume(c, id);
        if (!v) add("volume", `volume.existing.id "${id}" not found`);
        else if (v.status !== "available") add("volume", `volume.existing.id "${id}" is ${v.status}; it must be available (detached) to attach it to the head`);
      });
    }
  }

  // Another cluster with the same name (a different id): names of servers, networks, groups would clash
  await guard("name-collision", async () => {
    const scan = await scanProject(c);
    for (const s of summarize(scan)) {
      if (s.name === cluster.name && s.id !== cluster.id) {
        add("name-collision", `a cluster named "${cluster.name}" already exists in this project (id ${s.id}, ${s.count} resources); choose another name, or remove it first (uws-cluster down, or uws-cluster reap when expired)`);
      }
    }
    for (const n of scan.notes) notes.push(n);
  });

  return { ok: problems.length === 0, problems, needs, notes };
}

/** Neutron list filter for a model lookup. */
function byRef(ref: Lookup): Record<string, string> {
  return ref.by === "id" ? { id: ref.value } : { name: ref.value };
}

function formatPreflight(r: PreflightReport): string {
  if (r.ok) return "pre-flight: ok";
  return [`pre-flight failed (${r.problems.length} problem${r.problems.length > 1 ? "s" : ""}):`, ...r.problems.map((p) => `  - [${p.check}] ${p.message}`)].join("\n");
}

/** Thrown by `up` when pre-flight fails: exit code 3 (EXIT.preflight); --json carries the problems. */
export function assertPreflight(report: PreflightReport): void {
  if (!report.ok) throw new PreflightError(formatPreflight(report), report.problems);
}
