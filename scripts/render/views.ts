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
}

export function addressBook(cluster: Cluster, addresses?: Record<string, string>, headPublicIp?: string): AddressBook {
  return {
    of: (n) => addresses?.[n.name] ?? n.privateIp ?? null,
    headPublicIp: headPublicIp ?? null,
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
    // Local nodes are killed in fault tests: notice a dead slurmd within seconds.
    slurmdTimeout: local ? 10 : 300,
    partition: cluster.slurm.partition,
    computes: cluster.computes.map((n) => ({ name: n.name, addr: book.of(n), cpus: n.cpus, realMemoryMb: n.realMemoryMb })),
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

