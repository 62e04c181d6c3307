import { createHash, randomBytes } from "node:crypto";
import { parseDuration } from "./duration.js";
import { resolve as resolvePath } from "node:path";
import { formatCidr, hostAddress, parseCidr } from "./net.js";
import type { Cluster, ClusterNode, ElasticSettings, LocalLayout, ResolvedNetwork, ResolvedVolume, SecretRef, SecurityRule, Tags } from "./model.js";
import { KEYPAIR_SUFFIX, lookupOf, qualifiedName, SERVER_GROUP_SUFFIX, TAG_EXPIRES, TAG_ID, TAG_NAME, TAG_ROLE, tagToken } from "./naming.js";
import type { ClusterSpec } from "./spec.js";
import type { Cluster as ClusterModel, MachinesLayout } from "./model.js";
import { FIRST_NODE_OFFSET } from "./validate.js";
import { AAI_PRESETS } from "./presets.js";

export interface ResolveContext {
  /** The cluster id, when it was generated before (kept in the local state dir); else one is generated. */
  id?: string;
  /** Creation time of the cluster (ISO), when known from state; else `now`. */
  createdAt?: string;
  /** Folder of the spec file: application folders are relative to it (default: the working directory). */
  specDir?: string;
  now?: Date;
}

/** What generateClusterId returns: 12 lower-case hex digits. */
export const GENERATED_ID_PATTERN = /^[0-9a-f]{12}$/;

export function generateClusterId(): string {
  return randomBytes(6).toString("hex");
}

/** Resolves a validated spec into the Cluster model. Pure apart from id generation when none is given. */
export function resolveCluster(spec: ClusterSpec, ctx: ResolveContext = {}): Cluster {
  const id = spec.id ?? ctx.id ?? generateClusterId();
  const createdAt = ctx.createdAt ?? (ctx.now ?? new Date()).toISOString().replace(/\.\d+Z$/, "Z");
  const ttl = spec.ttl ? parseDuration(spec.ttl)! : undefined;
  const expiresAt = ttl ? new Date(Date.parse(createdAt) + ttl * 1000).toISOString().replace(/\.\d+Z$/, "Z") : null;
  const tags: Tags = { [TAG_NAME]: spec.name, [TAG_ID]: id };
  if (expiresAt) tags[TAG_EXPIRES] = expiresAt;
  const tagList = Object.entries(tags).map(([k, v]) => tagToken(k, v));
  const description = `${TAG_NAME} ${tagList.join(" ")}`;

  const local = localLayout(spec);
  const machines = machinesLayout(spec);
  const localRoot = local.root;
  const network = resolveNetwork(spec);
  // Fixed addresses: the created subnet (cloud) or the local bridge subnet. With an existing
  // network the cloud assigns them and they are known only after apply.
  const addressSubnet = spec.target === "local" ? local.subnet : spec.target === "machines" ? machines.subnet : network.mode === "create" ? network.cidr : undefined;
  const ipOf = (index: number) => (addressSubnet ? hostAddress(parseCidr(addressSubnet)!, FIRST_NODE_OFFSET + index) : undefined);

  const local_ = spec.target === "local";
  const nodeCtx = { tags, description, local: local_ };
  const head: ClusterNode = node(`${spec.name}-head`, "head", 0, spec.head, ipOf(0), nodeCtx);
  const computes: ClusterNode[] = [];
  for (let n = 1; n <= spec.compute.count; n++) {
    computes.push(node(`${spec.name}-compute-${n}`, "compute", n, spec.compute, ipOf(n), nodeCtx, n > spec.compute.min ? "on-demand" : "always"));
  }
  const elastic = resolveElastic(spec, computes, local);

  const sg = (key: "internal" | "login", what: string) => ({ key, name: `${spec.name}-${key}`, description: `${what}; ${description}` });
  const securityGroups = [sg("internal", "all traffic between cluster nodes"), sg("login", "SSH and HTTPS from allowed networks")];
  type Rule = Omit<SecurityRule, "description">;
  const tcpFrom = (name: string, port: number, cidrs: string[]) =>
    cidrs.map((cidr, i): Rule => ({ id: `${name}-${i}`, group: "login", direction: "ingress", ethertype: "IPv4", protocol: "tcp", portMin: port, portMax: port, remoteCidr: cidr }));
  const rules: Rule[] = [
    { id: "internal-v4", group: "internal", direction: "ingress", ethertype: "IPv4", remoteGroup: "internal" },
    ...tcpFrom("ssh", 22, spec.access.sshCidrs),
    ...tcpFrom("https", 443, spec.access.httpsCidrs),
    // Let's Encrypt's HTTP-01 challenge and the HTTP→HTTPS redirect need port 80 where HTTPS is open.
    ...(spec.dns ? tcpFrom("http", 80, spec.access.httpsCidrs) : []),
  ];
  const securityRules: SecurityRule[] = rules.map((r) => ({ ...r, description: `${r.id}; ${description}` }));

  const keypair = spec.access.keypair === "generate"
    ? { mode: "generate" as const, name: qualifiedName(spec.name, id, KEYPAIR_SUFFIX) }
    : { mode: "existing" as const, name: spec.access.keypair.existing, privateKeyFile: spec.access.keypair.privateKeyFile };

  const mountPoint = spec.target === "local" ? `${localRoot}/shared` : "/shared";
  const volume: ResolvedVolume = spec.volume === "none" ? { mode: "none", mountPoint }
    : "managed" in spec.volume ? { mode: "managed", name: `${spec.name}-shared`, ...spec.volume.managed, device: "/dev/vdb", mountPoint }
    : { mode: "existing", id: spec.volume.existing.id, device: "/dev/vdb", mountPoint };

  const secrets: SecretRef[] = [
    { key: "munge.key", source: { generate: { bytes: 1024, encoding: "binary" } }, path: "/etc/munge/munge.key", mode: "0400", owner: "munge:munge", nodes: "all" },
    { key: "jobserver.admin-token", source: { generate: { bytes: 32, encoding: "base64url" } }, path: "/etc/uws-server/admin-token", mode: "0400", owner: "uws:uws", nodes: "head" },
    { key: "jobserver.job-secret", source: { generate: { bytes: 32, encoding: "base64url" } }, path: "/etc/uws-server/job-secret", mode: "0400", owner: "uws:uws", nodes: "head" },
  ];
  if (elastic) {
    // The head's power programs (run as SlurmUser) authenticate to the power agent with it.
    secrets.push({ key: "power.agent-token", source: { generate: { bytes: 32, encoding: "base64url" } }, path: "/etc/slurm/uws-power.token", mode: "0400", owner: "slurm:slurm", nodes: "head" });
    if (spec.target === "openstack") {
      // The head's power agent (run as SlurmUser) creates servers with the per-cluster application
      // credential `up` makes through Keystone, and configures them over SSH as `up` does: with the
      // cluster key and the munge key, its own copies (munge's file is readable by munge only).
      const agent = (key: string, file: string, what: string): SecretRef => ({ key, source: { atUp: what }, path: `/etc/slurm/uws-power/${file}`, mode: "0400", owner: "slurm:slurm", nodes: "head" });
      secrets.push(
        agent("power.openstack-credential", "openstack-credential.json", "the power agent's application credential, made by up through Keystone"),
        agent("power.node-ssh-key", "cluster-key", "the cluster's SSH key, for the power agent to configure new nodes"),
        agent("power.node-munge-key", "munge.key", "the munge key, for the power agent to push to new nodes"),
      );
    }
  }
  if (spec.aai) {
    secrets.push({ key: "oidc.client-secret", source: spec.aai.clientSecret, path: "/etc/uws-server/oidc-client-secret", mode: "0400", owner: "uws:uws", nodes: "head" });
  }

  return {
    name: spec.name, id, target: spec.target, createdAt, expiresAt, tags, tagList, description,
    region: spec.openstack.region, availabilityZone: spec.openstack.availabilityZone, sshUser: spec.target === "local" ? "root" : spec.openstack.sshUser,
    nodes: [head, ...computes], head, computes, elastic, network, securityGroups, securityRules, keypair, volume,
    // Keypairs and server groups have no tags: their names carry the cluster id so the sweep can match them exactly.
    serverGroup: spec.serverGroup === "none" ? null : { name: qualifiedName(spec.name, id, SERVER_GROUP_SUFFIX), policy: spec.serverGroup },
    floatingIp: { description: `head of ${spec.name}; ${description}` },
    slurm: { partition: spec.slurm.partition, clusterName: spec.name.replace(/-/g, "_"), cgroups: spec.target === "openstack" },
    sharedFs: spec.target === "machines" ? { kind: "host-bind", hostDir: `${machines.root}/shared` } : { kind: "nfs" },
    downloads: downloadsFor(spec, machines),
    jobserver: {
      ...spec.jobserver,
      configDir: "/etc/uws-server",
      dataDir: spec.target === "local" ? `${localRoot}/uws-server` : "/var/lib/uws-server",
      workDir: `${mountPoint}/uws-jobs`,
      appsDir: `${mountPoint}/uws-apps`,
      publicUrl: spec.dns ? `https://${spec.dns.name}` : undefined,
      user: JOBSERVER_USER,
      uid: JOBSERVER_UID,
    },
    aai: spec.aai && { ...spec.aai, entitlementClaim: spec.aai.preset === "generic" ? "eduperson_entitlement" : AAI_PRESETS[spec.aai.preset].entitlementClaim },
    dns: spec.dns, secrets, local, machines,
    apps: spec.apps.map((a) => ({ name: a.replace(/\/+$/, "").split("/").pop()!, source: resolvePath(ctx.specDir ?? process.cwd(), a) })),
  };
}

/** The job server's system user; a fixed uid below Debian's dynamic system range keeps NFS ownership equal on every node. */
const JOBSERVER_USER = "uws";
const JOBSERVER_UID = 900;

function node(
  name: string, role: "head" | "compute", index: number, r: { image: string; flavor: string; cpus: number; memoryMb: number },
  privateIp: string | undefined, c: { tags: Tags; description: string; local: boolean }, power: ClusterNode["power"] = "always",
): ClusterNode {
  // A VM's kernel reports about 3-7 % less than the flavor's RAM; 10 % (at least 256 MiB) keeps slurmd from draining the node.
  const realMemoryMb = c.local ? r.memoryMb : Math.max(r.memoryMb - Math.max(256, Math.ceil(r.memoryMb * 0.1)), Math.floor(r.memoryMb / 2));
  const n: ClusterNode = {
    name, role, index, image: r.image, flavor: r.flavor, imageRef: lookupOf(r.image), flavorRef: lookupOf(r.flavor),
    cpus: r.cpus, memoryMb: r.memoryMb, realMemoryMb,
    portName: `${name}-port`, portDescription: `${name}; ${c.description}`,
    securityGroups: role === "head" ? ["internal", "login"] : ["internal"],
    metadata: { ...c.tags, [TAG_ROLE]: role },
    power,
  };
  if (privateIp) n.privateIp = privateIp;
  return n;
}

/** The power agent's port: on the local bridge address (host-side helper) or on the head's loopback (cloud). */
export const POWER_AGENT_PORT = 6820;
/** Where the OpenStack power agent receives new nodes' host keys (head's private address). */
export const HOST_KEY_PORT = 6821;

function resolveElastic(spec: ClusterSpec, computes: ClusterNode[], local: LocalLayout): ElasticSettings | null {
  const { min, max } = spec.compute;
  if (min >= max) return null;
  const host = spec.target === "local" ? local.hostIp : "127.0.0.1";
  return {
    min, max,
    idleSeconds: parseDuration(spec.compute.idle)!,
    resumeTimeoutSeconds: parseDuration(spec.compute.resumeTimeout)!,
    // Removing a namespace node takes well under a second, deleting a server a few seconds; Slurm
    // keeps the node POWERING_DOWN (unusable) for this long after the suspend request.
    suspendTimeoutSeconds: spec.target === "local" ? 5 : 120,
    agent: { host, port: POWER_AGENT_PORT, url: `http://${host}:${POWER_AGENT_PORT}` },
    hostKeyPort: spec.target === "local" ? null : HOST_KEY_PORT,
    nodes: computes.filter((n) => n.power === "on-demand").map((n) => n.name),
  };
}

function resolveNetwork(spec: ClusterSpec): ResolvedNetwork {
  if ("existing" in spec.network) {
    const { network, subnet } = spec.network.existing;
    return { mode: "existing", network, subnet, networkRef: lookupOf(network), subnetRef: lookupOf(subnet) };
  }
  const cidr = parseCidr(spec.network.create.cidr)!;
  return {
    mode: "create",
    networkName: `${spec.name}-net`,
    subnetName: `${spec.name}-subnet`,
    routerName: `${spec.name}-router`,
    cidr: formatCidr(cidr),
    gatewayIp: hostAddress(cidr, 1),
    allocationPool: { start: hostAddress(cidr, 2), end: hostAddress(cidr, FIRST_NODE_OFFSET - 1) },
    dnsServers: spec.network.create.dnsServers,
    externalNetwork: spec.openstack.externalNetwork ?? "",
  };
}

/**
 * The machines target's names, from a hash of the cluster name like the local layout's but in
 * other ranges (10.150–199.x.0/24, `uwsm-` bridges), so a local and a machines cluster coexist.
 */
function machinesLayout(spec: ClusterSpec): MachinesLayout {
  const h = createHash("sha256").update(`machines:${spec.name}`).digest();
  const tag = h.subarray(0, 3).toString("hex");
  const subnet = spec.machines.subnet ?? `10.${150 + (h[3]! % 50)}.${h[4]!}.0/24`;
  return {
    release: spec.machines.release, bridge: `uwsm-${tag}`, subnet, hostIp: hostAddress(parseCidr(subnet)!, 1),
    machinePrefix: `m${tag}-`, root: `/var/lib/uws-cluster/machines/${spec.name}`, proxyPort: 3142,
  };
}

/** Where a machines node sees this host's CA bundle (the trust of the network its downloads go through). */
export const MACHINES_HOST_CA = "/etc/uws-cluster/host-ca.pem";

/** Where nodes download from (see Cluster.downloads): the internet, or the machines target's proxy on the bridge. */
function downloadsFor(spec: ClusterSpec, m: MachinesLayout): ClusterModel["downloads"] {
  if (spec.target !== "machines") return { aptProxy: null, nodeDist: "https://nodejs.org/dist", npmEnv: {} };
  const proxy = `http://${m.hostIp}:${m.proxyPort}`;
  return {
    aptProxy: proxy,
    // The proxy serves a release folder built from this machine's Node.js, and the job server's
    // native module prebuilt here, in the layouts nodejs.org and prebuild-install expect.
    nodeDist: `${proxy}/uws-mirror/node`,
    // npm reaches the registry through the host's network, so it trusts the host's CA bundle (bound in read-only).
    npmEnv: {
      npm_config_https_proxy: proxy, npm_config_proxy: proxy, npm_config_cafile: MACHINES_HOST_CA,
      npm_config_better_sqlite3_binary_host: `${proxy}/uws-mirror/prebuilds/better-sqlite3`,
    },
  };
}

/**
 * Local names come from a hash of the cluster name, so two local clusters coexist and the same
 * name always maps to the same bridge and subnet (down works from the name alone).
 */
function localLayout(spec: ClusterSpec): LocalLayout {
  const h = createHash("sha256").update(spec.name).digest();
  const tag = h.subarray(0, 3).toString("hex"); // 6 hex chars
  const subnet = spec.local.subnet ?? `10.${200 + (h[3]! % 50)}.${h[4]!}.0/24`;
  const c = parseCidr(subnet)!;
  // Local nodes share the host's filesystem, so per-cluster paths keep two local clusters apart.
  const root = `/var/lib/uws-cluster/${spec.name}`;
  return { bridge: `uwsc-${tag}`, netnsPrefix: `uwsc-${tag}-`, vethPrefix: `uc${tag}`, subnet, hostIp: hostAddress(c, 1), root };
}
