/**
 * The cluster spec as a user writes it (cluster.yaml). Everything optional here gets its default in
 * validate(); consumers never read a ClusterSpec, they read the resolved Cluster (model.ts).
 */
export type Target = "openstack" | "local" | "machines";
/** Debian releases the machines target boots (its image is built once per release). */
export type MachinesRelease = "bookworm" | "trixie";
export type ServerGroupPolicy = "anti-affinity" | "soft-anti-affinity" | "none";
export type AaiPreset = "eduteams" | "egi-checkin" | "orcid" | "generic";
export type AuthMode = "oidc" | "tokens" | "none";

export interface RoleSpec {
  image: string;
  flavor: string;
  /** Flavor data Slurm needs (CPUs, RealMemory); the cloud's flavor is checked against it in pre-flight. */
  cpus: number;
  memoryMb: number;
}

/**
 * How many compute nodes: `count` is a fixed size (min = max = count); with `min` < `max` the nodes
 * above `min` are powered on demand by Slurm (elastic compute nodes).
 */
export interface ComputeSize {
  /** The number of Slurm compute nodes (= max). */
  count: number;
  /** Nodes that always exist. */
  min: number;
  max: number;
  /** How long a node stays idle before Slurm removes it (e.g. `10m`; seconds allowed). */
  idle: string;
  /** How long a powered-up node may take to register with Slurm before the resume counts as failed. */
  resumeTimeout: string;
}

export type NetworkSpec =
  | { create: { cidr: string; dnsServers: string[] } }
  | { existing: { network: string; subnet: string } };

export type KeypairSpec = "generate" | { existing: string; privateKeyFile: string };

export type VolumeSpec =
  | { managed: { sizeGb: number; type?: string } }
  | { existing: { id: string } }
  | "none";

/** A secret is never written in a spec: it is named by where it comes from at deploy time. */
export type SecretSource = { env: string } | { file: string };

export interface AaiSpec {
  preset: AaiPreset;
  issuer: string;
  clientId: string;
  clientSecret: SecretSource;
  scopes: string[];
  /** Access rules: a user is allowed when any rule matches (empty = every authenticated user). */
  allow: { entitlements: string[]; subs: string[] };
  admins: { entitlements: string[]; subs: string[] };
}

export interface ClusterSpec {
  name: string;
  id?: string;
  ttl?: string;
  target: Target;
  openstack: { externalNetwork?: string; region?: string; availabilityZone?: string; sshUser: string };
  head: RoleSpec;
  compute: RoleSpec & ComputeSize;
  network: NetworkSpec;
  access: { sshCidrs: string[]; httpsCidrs: string[]; keypair: KeypairSpec };
  volume: VolumeSpec;
  serverGroup: ServerGroupPolicy;
  slurm: { partition: string };
  jobserver: { auth: AuthMode; port: number; uploadLimitMb: number };
  aai?: AaiSpec;
  dns?: { name: string; email: string };
  local: { subnet?: string };
  /** The machines target: the Debian release its nodes boot, and its bridge subnet (derived from the name when absent). */
  machines: { release: MachinesRelease; subnet?: string };
  /** Application folders (job definitions, scripts, data, app.yaml), as written: relative to the spec file. */
  apps: string[];
}
