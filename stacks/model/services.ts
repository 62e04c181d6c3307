/**
 * The one service table: every service the deploy pipeline starts, on which nodes, in which step
 * and order, how systemd starts it on a VM and how the local target runs it without systemd.
 * The deploy pipeline, the systemd path and the local daemons all read this table.
 */
import type { Role } from "./model.js";

export type ServiceStage = "munge" | "slurm" | "jobserver";

export interface ServiceRow {
  /** The systemd unit's name on a VM, and the daemon's name on the local target. */
  name: string;
  roles: Role[];
  /** The deploy step that starts it; rows of a step start in table order, head before compute nodes. */
  stage: ServiceStage;
  /** Shell lines (run as root) that start it under systemd, in order. */
  systemd: string[];
  /**
   * How the local target runs it in the foreground (no systemd there), or `null` when the local
   * target has nothing to do (sshd is its SSH door, started when the node is created).
   * `{node}` and `{bundle}` stand for the Node.js executable and the job server bundle.
   */
  local: { argv: string[]; user?: string; onDemandArgs?: string[] } | null;
  /** A shell test that succeeds once the service is usable (waited for, bounded, over SSH). */
  ready?: { test: string; what: string };
}

export const SERVICE_STAGES: { stage: ServiceStage; title: string }[] = [
  { stage: "munge", title: "Starting munge" },
  { stage: "slurm", title: "Starting Slurm (slurmctld on the head, slurmd on compute nodes)" },
  { stage: "jobserver", title: "Starting the job server" },
];

/** How sshd runs on a local node (its SSH door, started before the deploy pipeline). */
export const LOCAL_SSHD = { argv: ["/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/sshd_config"] };

export const SERVICES: readonly ServiceRow[] = [
  // Key-only SSH comes from the pushed sshd_config.d drop-in; open sessions survive a reload.
  { name: "ssh", roles: ["head", "compute"], stage: "munge", systemd: ["systemctl try-reload-or-restart ssh"], local: null },
  {
    name: "munge", roles: ["head", "compute"], stage: "munge",
    systemd: ["systemctl enable --now munge", "systemctl restart munge"],
    local: { argv: ["/usr/sbin/munged", "-F"], user: "munge" },
    // slurmctld and slurmd authenticate through munged from their first second.
    ready: { test: "test -S /run/munge/munge.socket.2", what: "munged did not create /run/munge/munge.socket.2" },
  },
  {
    name: "slurmctld", roles: ["head"], stage: "slurm",
    // The shared folder is exported before the controller starts jobs that use it (where it travels over NFS: see Cluster.sharedFs).
    systemd: ["test ! -e /etc/exports || exportfs -ra", "systemctl enable slurmctld", "systemctl restart slurmctld"],
    local: { argv: ["/usr/sbin/slurmctld", "-D"] },
  },
  // Elastic clusters on OpenStack only (the unit exists there): the head's power agent (scripts/elastic/openstack).
  {
    name: "uws-power-agent", roles: ["head"], stage: "slurm",
    systemd: ["test ! -e /etc/systemd/system/uws-power-agent.service || systemctl enable uws-power-agent", "test ! -e /etc/systemd/system/uws-power-agent.service || systemctl restart uws-power-agent"],
    local: null,
  },
  { name: "slurmd", roles: ["compute"], stage: "slurm", systemd: ["systemctl enable slurmd", "systemctl restart slurmd"], local: { argv: ["/usr/sbin/slurmd", "-D"], onDemandArgs: ["-b"] } },
  {
    name: "uws-server", roles: ["head"], stage: "jobserver",
    systemd: ["systemctl enable uws-server", "systemctl restart uws-server", "systemctl reload-or-restart nginx"],
    local: { argv: ["{node}", "{bundle}", "--config", "/etc/uws-server/config.yaml"], user: "uws" },
  },
];

/** The rows of one step that run on a node of this role, in table order. */
export function servicesFor(stage: ServiceStage, role: Role): ServiceRow[] {
  return SERVICES.filter((s) => s.stage === stage && s.roles.includes(role));
}

export function serviceNamed(name: string): ServiceRow {
  const row = SERVICES.find((s) => s.name === name);
  if (!row) throw new Error(`no service "${name}" in the service table; known: ${SERVICES.map((s) => s.name).join(", ")}`);
  return row;
}
