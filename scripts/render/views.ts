/**
 * Plain view objects for the templates, built from the resolved Cluster. Views hold values, never
 * text fragments: every line a node gets is written in templates/. Optional values are explicit
 * nulls (the engine fails on any field a template reads that the view lacks).
 */
import type { Cluster, ClusterNode, SecretRef } from "../../stacks/model/index.js";
import { JOBSERVER_FILES, NGINX_FILES, SLURM_PATHS, SLURM_PORTS } from "./paths.js";
import { systemdUnitForPath } from "./systemd.js";

/** What is known about addresses when rendering: model IPs, plus those learnt after apply. */
export interface AddressBook {
  /** The node's private IP, or null while the cloud has not assigned it. */
  of(node: ClusterNode): string | null;
  /** The head's public address (floating IP), when known. */
  headPublicIp: string | null;
  /**
   * The Slurm version installed on the head (`22.05.8`), when known: settings that differ between
   * versions follow it. Unknown (user-data, `render`) means the oldest supported, Debian 12's 22.05.
   */
  slurmVersion?: string | null;
}

export function addressBook(cluster: Cluster, addresses?: Record<string, string>, headPublicIp?: string, slurmVersion?: string): AddressBook {
  return {
    of: (n) => addresses?.[n.name] ?? n.privateIp ?? null,
    headPublicIp: headPublicIp ?? null,
    slurmVersion: slurmVersion ?? null,
  };
}

/** The oldest Slurm uws-cluster configures (Debian 12); the version assumed while the head's is unknown. */
export const OLDEST_SLURM = "22.05";

/** `22.05.8` → 2205 (year·100 + month), for comparisons between Slurm releases. */
export function slurmRelease(version: string): number {
  const m = /(\d+)\.(\d+)/.exec(version);
  if (!m) throw new Error(`not a Slurm version: ${JSON.stringify(version)} (expected e.g. 22.05.8)`);
  return Number(m[1]) * 100 + Number(m[2]);
}

/** Where the head's power programs and their logs and records live (Slurm runs them as SlurmUser). */
export const POWER_FILES = {
  resume: "/usr/local/sbin/uws-power-resume",
  suspend: "/usr/local/sbin/uws-power-suspend",
  resumeFail: "/usr/local/sbin/uws-power-resume-fail",
  /** PrologSlurmctld: lets a job start as soon as its powered-up nodes are ready. */
  prolog: "/usr/local/sbin/uws-power-prolog",
  /** One file per powered node: what the agent created for it (its id), written by resume, read by suspend. */
  records: "/var/lib/slurm/uws-power",
  logs: { resume: "/var/log/slurm/power-resume.log", suspend: "/var/log/slurm/power-suspend.log", resumeFail: "/var/log/slurm/power-resume-fail.log" },
  /** The OpenStack power agent on the head: its systemd unit, its one-file bundle and its configuration (model + user-data, no secret). */
  agentUnit: "/etc/systemd/system/uws-power-agent.service",
  agentBundle: "/opt/uws-power-agent/uws-power-agent.mjs",
  agentConfig: "/etc/slurm/uws-power/agent.json",
};

/** The OpenStack power agent's systemd unit: run as SlurmUser, the only user that can read its secrets. */
export function powerAgentView(cluster: Cluster) {
  const e = cluster.elastic;
  if (!e) throw new Error(`cluster ${cluster.name} has no elastic compute nodes: no power agent`);
  const secret = (key: string) => {
    const ref = cluster.secrets.find((s) => s.key === key);
    if (!ref) throw new Error(`elastic cluster ${cluster.name} has no ${key} secret in its model`);
    return ref.path;
  };
  return {
    clusterName: cluster.name,
    user: "slurm",
    nodeBin: JOBSERVER_FILES.nodeBin,
    bundle: POWER_FILES.agentBundle,
    config: POWER_FILES.agentConfig,
    credential: secret("power.openstack-credential"),
    agentUrl: e.agent.url,
  };
}

/**
 * Slurm power saving for elastic clusters (null for a fixed size). Settings that differ between
 * releases are chosen by the head's Slurm version: 22.05 needs NoAddrCache and cloud_reg_addrs
 * (23.11 removed both and logs them as errors), PrivateData=cloud shows powered-down nodes before
 * 24.05, and max_powered_nodes exists from 24.05.
 */
export function powerView(cluster: Cluster, book: AddressBook) {
  const e = cluster.elastic;
  if (!e) return null;
  const release = slurmRelease(book.slurmVersion ?? OLDEST_SLURM);
  const secret = cluster.secrets.find((s) => s.key === "power.agent-token");
  if (!secret) throw new Error(`elastic cluster ${cluster.name} has no power.agent-token secret in its model`);
  const always = cluster.computes.filter((n) => n.power === "always").map((n) => n.name);
  return {
    programs: { resume: POWER_FILES.resume, suspend: POWER_FILES.suspend, resumeFail: POWER_FILES.resumeFail, prolog: POWER_FILES.prolog },
    logs: { ...POWER_FILES.logs },
    records: POWER_FILES.records,
    agentUrl: e.agent.url,
    tokenFile: secret.path,
    idleSeconds: e.idleSeconds,
    resumeTimeoutSeconds: e.resumeTimeoutSeconds,
    suspendTimeoutSeconds: e.suspendTimeoutSeconds,
    max: e.max,
    // Slurm asks every node above min to be reached through the tree: it must span them all.
    treeWidth: Math.max(cluster.computes.length, 50),
    excluded: always.length ? always.join(",") : null,
    slurmVersion: book.slurmVersion ?? OLDEST_SLURM,
    before2311: release < 2311,
    before2405: release < 2405,
    maxPoweredNodes: release >= 2405 ? e.max : null,
  };
}

/** True when every node's address is known, so address lists (hosts, NodeAddr, exports) are complete. */
export function allAddressesKnown(cluster: Cluster, book: AddressBook): boolean {
  return cluster.nodes.every((n) => book.of(n) !== null);
}

function secretPath(cluster: Cluster, key: string): string {
  const ref: SecretRef | undefined = cluster.secrets.find((s) => s.key === key);
  if (!ref) throw new Error(`the cluster model has no secret ${key}; the job server configuration needs it`);
  return ref.path;
}

export function hostsView(cluster: Cluster, node: ClusterNode, book: AddressBook) {
  return {
    clusterName: cluster.name,
    node: node.name,
    nodes: cluster.nodes.map((n) => ({ name: n.name, addr: book.of(n) })),
  };
}

/** The slurm.conf / cgroup.conf / setup view. Tests override ports, paths and addresses for a loopback slurmctld. */
export function slurmView(cluster: Cluster, node: ClusterNode, book: AddressBook) {
  const local = cluster.target === "local";
  return {
    clusterName: cluster.slurm.clusterName,
    isHead: node.role === "head",
    controller: { name: cluster.head.name, addr: book.of(cluster.head) },
    ports: { ...SLURM_PORTS },
    slurmUser: "slurm",
    // The oldest Slurm whose slurmd runs jobs under cgroup v2 (node setup refuses older images).
    minVersion: "22.05",
    authInfo: null as string | null,
    paths: { ...SLURM_PATHS },
    local,
    cgroups: cluster.slurm.cgroups,
    // Local nodes are killed in fault tests: notice a dead slurmd within seconds.
    slurmdTimeout: local ? 10 : 300,
    partition: cluster.slurm.partition,
    computes: cluster.computes.map((n) => ({ name: n.name, addr: book.of(n), cpus: n.cpus, realMemoryMb: n.realMemoryMb, cloud: n.power === "on-demand" })),
    power: powerView(cluster, book),
  };
}

export function mungeView(cluster: Cluster) {
  return { clusterName: cluster.name };
}

export function nfsView(cluster: Cluster, book: AddressBook) {
  const v = cluster.volume;
  const net = cluster.network;
  // Export to the created subnet; on an existing network only to the compute nodes' own addresses.
  const clients = net.mode === "create" ? [net.cidr] : cluster.computes.map((n) => book.of(n)).filter((a): a is string => a !== null);
  const unit = systemdUnitForPath(v.mountPoint);
  return {
    clusterName: cluster.name,
    head: cluster.head.name,
    mountPoint: v.mountPoint,
    device: v.mode === "none" ? null : v.device,
    workDir: cluster.jobserver.workDir,
    user: cluster.jobserver.user,
    clients,
    server: book.of(cluster.head) ?? cluster.head.name,
    nfs: cluster.sharedFs.kind === "nfs",
    mountUnit: `${unit}.mount`,
    automountUnit: `${unit}.automount`,
  };
}

export function jobserverView(cluster: Cluster, book: AddressBook) {
  const js = cluster.jobserver;
  const aai = cluster.aai;
  const configFile = `${js.configDir}/${JOBSERVER_FILES.config}`;
  const headAddr = book.of(cluster.head);
  if (cluster.target === "local" && !headAddr) throw new Error(`the head of local cluster ${cluster.name} has no private IP in the model`);
  return {
    clusterName: cluster.name,
    // On the cloud nginx is the only way in; locally there is no nginx and the host reaches the head's IP.
    host: cluster.target === "local" ? headAddr : "127.0.0.1",
    port: js.port,
    data: js.dataDir,
    workDir: js.workDir,
    appsDir: js.appsDir,
    partition: cluster.slurm.partition,
    slurmConf: SLURM_PATHS.conf,
    auth: js.auth,
    tokensFile: js.auth === "tokens" ? `${js.configDir}/${JOBSERVER_FILES.tokens}` : null,
    adminTokenFile: secretPath(cluster, "jobserver.admin-token"),
    jobSecretFile: secretPath(cluster, "jobserver.job-secret"),
    oidc: aai
      ? {
          preset: aai.preset,
          issuer: aai.issuer,
          clientId: aai.clientId,
          clientSecretFile: secretPath(cluster, "oidc.client-secret"),
          scopes: aai.scopes,
          entitlementClaim: aai.entitlementClaim,
          allow: { entitlements: aai.allow.entitlements, subs: aai.allow.subs },
          admins: { entitlements: aai.admins.entitlements, subs: aai.admins.subs },
        }
      : null,
    uploadLimitMb: js.uploadLimitMb,
    publicUrl: js.publicUrl ?? (book.headPublicIp ? `https://${book.headPublicIp}` : null),
    configDir: js.configDir,
    configFile,
    dataDir: js.dataDir,
    user: js.user,
    installDir: JOBSERVER_FILES.installDir,
    entry: JOBSERVER_FILES.entry,
    nodeMajor: JOBSERVER_FILES.nodeMajor,
    nodeDist: cluster.downloads.nodeDist,
    nodeHome: JOBSERVER_FILES.nodeHome,
    nodeBin: JOBSERVER_FILES.nodeBin,
  };
}

/** The nginx site and TLS scripts view. Tests point `tls` at a throw-away certificate. */
export function nginxView(cluster: Cluster, book: AddressBook) {
  const dns = cluster.dns ?? null;
  const head = cluster.head.name;
  const san = [`DNS:${head}`, ...(dns ? [`DNS:${dns.name}`] : []), ...(book.headPublicIp ? [`IP:${book.headPublicIp}`] : [])];
  return {
    clusterName: cluster.name,
    head,
    serverName: dns ? dns.name : "_",
    redirectHost: dns ? dns.name : "$host",
    port: cluster.jobserver.port,
    uploadLimitMb: cluster.jobserver.uploadLimitMb,
    acmeRoot: NGINX_FILES.acmeRoot,
    tls: { dir: NGINX_FILES.tlsDir, cert: `${NGINX_FILES.tlsDir}/fullchain.pem`, key: `${NGINX_FILES.tlsDir}/privkey.pem` },
    dns: dns ? { name: dns.name, email: dns.email } : null,
    liveDir: dns ? `/etc/letsencrypt/live/${dns.name}` : null,
    subject: `/CN=${dns ? dns.name : head}`,
    subjectAltName: `subjectAltName=${san.join(",")}`,
  };
}

export function sshView(cluster: Cluster) {
  return { clusterName: cluster.name };
}

