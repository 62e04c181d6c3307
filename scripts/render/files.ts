/**
 * The files each node gets: one row per rendered file (template, where it lands, who owns it, which
 * roles and targets need it). Secrets are not rows here: they come from the model's SecretRefs.
 */
import type { Cluster, ClusterNode, Role, Target } from "../../stacks/model/index.js";
import { JOBSERVER_FILES, NFS_FILES, NGINX_FILES, NODE_FILES, SLURM_PATHS } from "./paths.js";
import { hostsView, jobserverView, nfsView, nginxView, POWER_FILES, powerAgentView, powerView, slurmView, sshView, type AddressBook } from "./views.js";

export type Concern = "slurm" | "munge" | "nfs" | "jobserver" | "nginx" | "aai" | "hosts" | "ssh" | "power";

export interface FileRow {
  template: string;
  path: (c: Cluster) => string;
  mode: string;
  owner: (c: Cluster) => string;
  concern: Concern;
  targets: Target[];
  roles: Role[];
  /** The file lists node addresses: it goes into user-data only when every address is known before apply. */
  addressList?: boolean;
  when?: (c: Cluster) => boolean;
  view: (c: Cluster, node: ClusterNode, book: AddressBook) => object;
}

/** Every target; CLOUD: the targets whose nodes are booted machines (systemd, cloud-init, apt). */
const BOTH: Target[] = ["openstack", "local", "machines"];
const CLOUD: Target[] = ["openstack", "machines"];
/** The shared folder travels over NFS (not where the model binds a host folder into every node). */
const nfs = (c: Cluster) => c.sharedFs.kind === "nfs";
const ALL: Role[] = ["head", "compute"];
const HEAD: Role[] = ["head"];
const COMPUTE: Role[] = ["compute"];
const root = () => "root:root";
const at = (p: string) => () => p;

export const FILE_ROWS: FileRow[] = [
  { template: "hosts/hosts", path: at(NODE_FILES.hosts), mode: "0644", owner: root, concern: "hosts", targets: BOTH, roles: ALL, addressList: true, view: hostsView },
  { template: "slurm/slurm.conf", path: at(SLURM_PATHS.conf), mode: "0644", owner: root, concern: "slurm", targets: BOTH, roles: ALL, addressList: true, view: slurmView },
  // Nodes without cgroup delegation (proctrack/linuxproc, task/none) get no cgroup.conf.
  { template: "slurm/cgroup.conf", path: at(SLURM_PATHS.cgroupConf), mode: "0644", owner: root, concern: "slurm", targets: CLOUD, roles: ALL, when: (c) => c.slurm.cgroups, view: slurmView },
  { template: "nfs/exports", path: at(NFS_FILES.exports), mode: "0644", owner: root, concern: "nfs", targets: CLOUD, roles: HEAD, addressList: true, when: nfs, view: (c, _n, b) => nfsView(c, b) },
  { template: "nfs/shared-setup.sh", path: at(NFS_FILES.sharedSetup), mode: "0755", owner: root, concern: "nfs", targets: CLOUD, roles: HEAD, view: (c, _n, b) => nfsView(c, b) },
  { template: "nfs/shared.mount", path: (c) => `${NFS_FILES.unitDir}/${nfsView(c, NO_ADDR).mountUnit}`, mode: "0644", owner: root, concern: "nfs", targets: CLOUD, roles: COMPUTE, when: nfs, view: (c, _n, b) => nfsView(c, b) },
  { template: "nfs/shared.automount", path: (c) => `${NFS_FILES.unitDir}/${nfsView(c, NO_ADDR).automountUnit}`, mode: "0644", owner: root, concern: "nfs", targets: CLOUD, roles: COMPUTE, when: nfs, view: (c, _n, b) => nfsView(c, b) },
  { template: "jobserver/config.yaml", path: (c) => `${c.jobserver.configDir}/${JOBSERVER_FILES.config}`, mode: "0640", owner: (c) => `root:${c.jobserver.user}`, concern: "jobserver", targets: BOTH, roles: HEAD, view: (c, _n, b) => jobserverView(c, b) },
  { template: "jobserver/tokens", path: (c) => `${c.jobserver.configDir}/${JOBSERVER_FILES.tokens}`, mode: "0640", owner: (c) => `root:${c.jobserver.user}`, concern: "jobserver", targets: BOTH, roles: HEAD, when: (c) => c.jobserver.auth === "tokens", view: (c, _n, b) => jobserverView(c, b) },
  { template: "jobserver/uws-server.service", path: at(JOBSERVER_FILES.unit), mode: "0644", owner: root, concern: "jobserver", targets: CLOUD, roles: HEAD, view: (c, _n, b) => jobserverView(c, b) },
  { template: "jobserver/install-node.sh", path: at(JOBSERVER_FILES.installNode), mode: "0755", owner: root, concern: "jobserver", targets: CLOUD, roles: HEAD, view: (c, _n, b) => jobserverView(c, b) },
  { template: "nginx/uws-cluster.conf", path: at(NGINX_FILES.site), mode: "0644", owner: root, concern: "nginx", targets: CLOUD, roles: HEAD, view: (c, _n, b) => nginxView(c, b) },
  { template: "nginx/tls-setup.sh", path: at(NGINX_FILES.tlsSetup), mode: "0755", owner: root, concern: "nginx", targets: CLOUD, roles: HEAD, view: (c, _n, b) => nginxView(c, b) },
  { template: "nginx/tls-install.sh", path: at(NGINX_FILES.tlsInstall), mode: "0755", owner: root, concern: "nginx", targets: CLOUD, roles: HEAD, when: (c) => !!c.dns, view: (c, _n, b) => nginxView(c, b) },
  // Elastic clusters: the programs Slurm's power saving runs on the head (as SlurmUser).
  ...(["resume", "suspend", "resumeFail", "prolog"] as const).map((k): FileRow => ({
    template: `slurm/power/${k === "resumeFail" ? "resume-fail" : k}.sh`, path: at(POWER_FILES[k]), mode: "0755", owner: root, concern: "power",
    targets: BOTH, roles: HEAD, when: (c) => c.elastic !== null, view: (c, _n, b) => ({ clusterName: c.name, power: powerView(c, b) }),
  })),
  // Elastic clusters on OpenStack: the power agent runs on the head (locally it is a host process).
  { template: "slurm/power/uws-power-agent.service", path: at(POWER_FILES.agentUnit), mode: "0644", owner: root, concern: "power", targets: ["openstack"], roles: HEAD, when: (c) => c.elastic !== null && c.target === "openstack", view: (c) => powerAgentView(c) },
  { template: "ssh/sshd-uws-cluster.conf", path: at(NODE_FILES.sshd), mode: "0644", owner: root, concern: "ssh", targets: CLOUD, roles: ALL, view: (c) => sshView(c) },
];

const NO_ADDR: AddressBook = { of: () => null, headPublicIp: null };

/** The concern a secret belongs to, from its key's prefix (munge.key, jobserver.*, oidc.*). */
export function secretConcern(key: string): Concern {
  const prefix = key.split(".")[0];
  if (prefix === "munge") return "munge";
  if (prefix === "jobserver") return "jobserver";
  if (prefix === "oidc") return "aai";
  if (prefix === "power") return "power";
  throw new Error(`no concern known for secret ${key}: add its key prefix to secretConcern()`);
}

