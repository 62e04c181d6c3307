/**
 * Where things live on a node (Debian package defaults where a package decides). The model names the
 * cluster-specific folders (jobserver.configDir, dataDir, workDir, volume.mountPoint, secret paths);
 * these are the fixed locations of the files the templates produce.
 */
export const SLURM_PATHS = {
  conf: "/etc/slurm/slurm.conf",
  cgroupConf: "/etc/slurm/cgroup.conf",
  stateSave: "/var/lib/slurm/slurmctld",
  slurmdSpool: "/var/lib/slurm/slurmd",
  slurmctldPid: "/run/slurmctld.pid",
  slurmdPid: "/run/slurmd.pid",
  logDir: "/var/log/slurm",
  slurmctldLog: "/var/log/slurm/slurmctld.log",
  slurmdLog: "/var/log/slurm/slurmd.log",
  jobComp: "/var/log/slurm/jobcomp.log",
};

/** Slurm's registered ports; the test's loopback variant overrides them. */
export const SLURM_PORTS = { slurmctld: 6817, slurmd: 6818 };

export const JOBSERVER_FILES = {
  config: "config.yaml",
  tokens: "tokens",
  unit: "/etc/systemd/system/uws-server.service",
  installDir: "/opt/uws-server",
  entry: "/opt/uws-server/uws-server.mjs",
  installNode: "/usr/local/sbin/uws-install-node",
  // The bundled server is built and tested on Node 20 (better-sqlite3's native module is per major).
  nodeMajor: 20,
  nodeHome: "/opt/node",
  nodeBin: "/usr/local/bin/node",
};

export const NGINX_FILES = {
  site: "/etc/nginx/conf.d/uws-cluster.conf",
  tlsDir: "/etc/nginx/uws-tls",
  acmeRoot: "/var/www/letsencrypt",
  tlsSetup: "/usr/local/sbin/uws-tls-setup",
  tlsInstall: "/usr/local/sbin/uws-tls-install",
};

export const NFS_FILES = {
  exports: "/etc/exports",
  sharedSetup: "/usr/local/sbin/uws-shared-setup",
  unitDir: "/etc/systemd/system",
};

export const NODE_FILES = {
  hosts: "/etc/hosts",
  sshd: "/etc/ssh/sshd_config.d/uws-cluster.conf",
  setup: "/usr/local/sbin/uws-node-setup",
};

/** Nova's limit on user-data (the base64-encoded form). */
export const USER_DATA_MAX_BASE64 = 65535;
