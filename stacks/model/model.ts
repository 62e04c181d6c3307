/**
 * The resolved cluster model: every name, tag, node, address and rule that any consumer (Terraform,
 * Pulumi, local target, templates, teardown) needs is computed here once. Consumers render it; they
 * never re-derive a name.
 */
import { TAG_EXPIRES, TAG_ID, TAG_NAME, TAG_ROLE, type Lookup } from "./naming.js";
import type { AaiSpec, AuthMode, MachinesRelease, ServerGroupPolicy, Target } from "./spec.js";

export type Role = "head" | "compute";

export interface ClusterNode {
  /** `<cluster>-head` or `<cluster>-compute-<n>` (n from 1): server name, hostname and Slurm NodeName. */
  name: string;
  role: Role;
  /** 0 for the head, 1..N for compute nodes. */
  index: number;
  image: string;
  flavor: string;
  /** How `image` and `flavor` are looked up in the cloud (by id when a UUID, else by name). */
  imageRef: Lookup;
  flavorRef: Lookup;
  cpus: number;
  memoryMb: number;
  /**
   * Memory Slurm is told the node has (RealMemory). A VM's kernel reports less than its flavor's RAM,
   * and slurmd drains a node configured with more than it reports, so the cloud keeps a margin; the
   * local target uses the configured value as is (slurmd runs with config_overrides there).
   */
  realMemoryMb: number;
  /** Fixed private address when the cluster creates its network (and always on the local target). */
  privateIp?: string;
  /** Resource names derived from the node name. */
  portName: string;
  /** The port's description: the node's name, then the cluster's description (tags as text). */
  portDescription: string;
  /** Security groups of the node's port, by model key: every node is internal, the head also login. */
  securityGroups: SecurityGroup["key"][];
  /** The server's complete metadata: the cluster tags and the node's role. */
  metadata: NodeMetadata;
  /**
   * `always`: created by `up` and kept; `on-demand`: a compute node above `compute.min`, created when
   * Slurm powers it up for waiting jobs and removed after `compute.idle` (Slurm `State=CLOUD`).
   */
  power: "always" | "on-demand";
}

/** Elastic compute nodes (compute.min < compute.max): Slurm's power saving drives them. */
export interface ElasticSettings {
  min: number;
  max: number;
  /** Slurm SuspendTime: seconds a node stays idle before it is removed. */
  idleSeconds: number;
  /** Slurm ResumeTimeout: seconds a powered-up node has to register. */
  resumeTimeoutSeconds: number;
  /** Slurm SuspendTimeout: seconds the removal of a node may take. */
  suspendTimeoutSeconds: number;
  /** Where the head's power programs send resume/suspend requests (the power agent). */
  agent: { host: string; port: number; url: string };
  /**
   * Cloud targets: the port on the head's private address where a new on-demand node posts its SSH
   * host keys at the end of its first boot (cloud-init phone_home, with the one-time nonce the agent
   * put in that server's user-data), so the agent verifies its first SSH connection without reading
   * the console (a server action its credential may not have). Null on the local target.
   */
  hostKeyPort: number | null;
  /** Names of the on-demand nodes. */
  nodes: string[];
}

export interface Tags {
  [TAG_NAME]: string;
  [TAG_ID]: string;
  [TAG_EXPIRES]?: string;
}

export interface NodeMetadata extends Tags {
  [TAG_ROLE]: Role;
}

export type ResolvedNetwork =
  | {
      mode: "create";
      networkName: string;
      subnetName: string;
      routerName: string;
      cidr: string;
      gatewayIp: string;
      /** DHCP and router ports stay in .2 up to below the first node address (FIRST_NODE_OFFSET). */
      allocationPool: { start: string; end: string };
      dnsServers: string[];
      externalNetwork: string;
    }
  | {
      mode: "existing";
      /** As the user wrote them. */
      network: string;
      subnet: string;
      networkRef: Lookup;
      /** Looked up on `networkRef`'s network. */
      subnetRef: Lookup;
    };

export interface SecurityRule {
  /** Name of the rule within its group, unique in the cluster (used as a resource id). */
  id: string;
  group: "internal" | "login";
  direction: "ingress";
  ethertype: "IPv4";
  protocol?: "tcp" | "udp" | "icmp";
  portMin?: number;
  portMax?: number;
  remoteCidr?: string;
  /** Traffic from members of this group of the cluster. */
  remoteGroup?: "internal";
  /** The rule's id, then the cluster's description (tags as text). */
  description: string;
}

export interface SecurityGroup {
  key: "internal" | "login";
  name: string;
  description: string;
}

export type ResolvedKeypair =
  | { mode: "generate"; name: string }
  | { mode: "existing"; name: string; privateKeyFile: string };

export type ResolvedVolume =
  | { mode: "managed"; name: string; sizeGb: number; type?: string; device: string; mountPoint: string }
  | { mode: "existing"; id: string; device: string; mountPoint: string }
  | { mode: "none"; mountPoint: string };

/** A secret the cluster needs: generated per cluster or read from the user's environment at deploy time. */
export interface SecretRef {
  /** Stable key, e.g. `munge.key`; the local secret store file name. */
  key: string;
  /**
   * `atUp`: made by the target while `up` runs (the OpenStack power agent's application credential)
   * or copied from another secret for a second reader; held in memory and pushed, never stored here.
   */
  source: { generate: { bytes: number; encoding: "binary" | "base64url" } } | { env: string } | { file: string } | { atUp: string };
  /** Where it lands on the nodes (pushed over SSH, never in user-data). */
  path: string;
  mode: string;
  owner: string;
  nodes: "all" | "head";
}

export interface LocalLayout {
  /** Linux bridge name (≤ 15 characters). */
  bridge: string;
  /** Prefix of network namespace names; node netns = prefix + node suffix. */
  netnsPrefix: string;
  /** Per-node interface name stem on the host side (≤ 15 characters with its suffix). */
  vethPrefix: string;
  subnet: string;
  /** Host (bridge) address on the subnet: how the host reaches the nodes. */
  hostIp: string;
  /** Host folder shared by every node of the cluster (its local "shared filesystem" and job server data). */
  root: string;
}

/**
 * The machines target's host side (booted systemd-nspawn nodes on a per-cluster bridge): names
 * derived from the cluster name alone, like LocalLayout, so `down --name` finds them.
 */
export interface MachinesLayout {
  release: MachinesRelease;
  /** Linux bridge name (≤ 15 characters). */
  bridge: string;
  subnet: string;
  /** Host (bridge) address: how the host reaches the nodes, and where the apt proxy listens. */
  hostIp: string;
  /** Prefix of the nodes' machine names (systemd-nspawn --machine, ≤ 12 characters with the node index). */
  machinePrefix: string;
  /** Host folder of the cluster: node disks (overlay upper dirs) and the shared folder bound into every node. */
  root: string;
  /** Port of the apt proxy (apt-cacher-ng) on hostIp. */
  proxyPort: number;
}

/** The AAI settings with the preset's claim that carries entitlements. */
export interface ResolvedAai extends AaiSpec {
  entitlementClaim: string;
}

/** An application deployed with the cluster: its name (the folder's) and the folder on this machine. */
export interface ClusterApp {
  name: string;
  /** Absolute path of the application folder on the machine running uws-cluster. */
  source: string;
}

export interface Cluster {
  name: string;
  id: string;
  target: Target;
  createdAt: string;
  expiresAt: string | null;
  tags: Tags;
  /** Tags as `key=value` strings for resources whose tags are a list (Neutron, Nova). */
  tagList: string[];
  /** Text for resources that only have a description field. */
  description: string;
  region?: string;
  availabilityZone?: string;
  sshUser: string;
  nodes: ClusterNode[];
  head: ClusterNode;
  /** Every Slurm compute node up to compute.max (on-demand ones included: see ClusterNode.power). */
  computes: ClusterNode[];
  /** null for a fixed size (compute.count, or min = max). */
  elastic: ElasticSettings | null;
  network: ResolvedNetwork;
  securityGroups: SecurityGroup[];
  securityRules: SecurityRule[];
  keypair: ResolvedKeypair;
  volume: ResolvedVolume;
  serverGroup: { name: string; policy: Exclude<ServerGroupPolicy, "none"> } | null;
  floatingIp: { description: string };
  /** `cgroups`: Slurm tracks and confines jobs with cgroups (cloud VMs); false where nodes cannot delegate them (local namespaces, nspawn containers). */
  slurm: { partition: string; clusterName: string; cgroups: boolean };
  /**
   * How compute nodes see the shared folder (volume.mountPoint): exported by the head over NFS (cloud
   * VMs), or a host folder bound into every node (machines: a container has no kernel NFS).
   */
  sharedFs: { kind: "nfs" } | { kind: "host-bind"; hostDir: string };
  /**
   * Where booted nodes fetch what their image lacks: Debian packages (through `aptProxy` when set),
   * Node.js (a release folder in nodejs.org's layout) and npm packages on the head (`npmEnv`: proxy,
   * prebuilt-binary mirror). Cloud nodes use the internet; machines nodes, which have no route out,
   * use the proxy their target runs on the bridge.
   */
  downloads: { aptProxy: string | null; nodeDist: string; npmEnv: Record<string, string> };
  apps: ClusterApp[];
  jobserver: {
    auth: AuthMode;
    /** Port the job server listens on (on the head; nginx fronts it on 443 in the cloud). */
    port: number;
    uploadLimitMb: number;
    /** Config file and secret files (/etc/uws-server; a private per-node mount on the local target). */
    configDir: string;
    /** SQLite database and job server state. */
    dataDir: string;
    /** Job work dirs, on the shared filesystem so compute nodes see them. */
    workDir: string;
    /** Application folders (one per application), on the shared filesystem so compute nodes run their scripts. */
    appsDir: string;
    /** Public base URL when a DNS name is configured; else the head's floating IP/IP is used. */
    publicUrl?: string;
    /** System user the job server and its Slurm jobs run as, with the same uid on every node (NFS). */
    user: string;
    uid: number;
  };
  aai?: ResolvedAai;
  dns?: { name: string; email: string };
  secrets: SecretRef[];
  local: LocalLayout;
  machines: MachinesLayout;
}
