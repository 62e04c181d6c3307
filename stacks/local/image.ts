/**
 * What a local node has before configuration, as a VM image would: its folders with the owners the
 * Debian packages give them, its own SSH host key, an sshd listening on the node's address, and the
 * cluster's public key for root. Everything else arrives over SSH from the deploy pipeline.
 */
import { chmodSync, chownSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NodeLayout } from "./layout.js";

export interface NodeImage {
  /** The node's SSH host public key, `ssh-ed25519 AAAA...` (recorded as the known host key). */
  hostKey: string;
}

/** Folders inside the private /var/lib/slurm that the slurm packages create. */
const SLURM_SUBDIRS = ["slurmctld", "slurmd"];

export function buildNodeImage(n: NodeLayout, authorizedKey: string, keys: { private: string; public: string }): NodeImage {
  mkdirSync(n.dir, { recursive: true, mode: 0o700 });
  mkdirSync(n.consoleDir, { recursive: true, mode: 0o700 });
  mkdirSync(n.etcWork, { recursive: true, mode: 0o700 });
  for (const b of n.binds) {
    const host = statSync(b.target);
    mkdirSync(b.source, { recursive: true });
    chownSync(b.source, host.uid, host.gid);
    chmodSync(b.source, host.mode & 0o7777);
  }
  const slurmLib = n.binds.find((b) => b.target === "/var/lib/slurm")!.source;
  const slurmOwner = statSync(slurmLib);
  for (const d of SLURM_SUBDIRS) {
    mkdirSync(join(slurmLib, d), { recursive: true, mode: 0o755 });
    chownSync(join(slurmLib, d), slurmOwner.uid, slurmOwner.gid);
  }

  // The overlay's upper /etc: only what differs from the host's /etc.
  const sshDir = join(n.etcUpper, "ssh");
  mkdirSync(sshDir, { recursive: true, mode: 0o755 });
  chmodSync(n.etcUpper, 0o755);
  writeFileSync(join(sshDir, "ssh_host_ed25519_key"), keys.private, { mode: 0o600 });
  writeFileSync(join(sshDir, "ssh_host_ed25519_key.pub"), keys.public + "\n", { mode: 0o644 });
  writeFileSync(join(sshDir, "sshd_config"), sshdConfig(n.ip), { mode: 0o644 });

  const root = n.binds.find((b) => b.target === "/root")!.source;
  mkdirSync(join(root, ".ssh"), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, ".ssh", "authorized_keys"), authorizedKey.trim() + "\n", { mode: 0o600 });
  return { hostKey: keys.public.trim() };
}

/** The node's sshd: key-only root login on the node address; the in-process SFTP server (no exec per session). */
function sshdConfig(ip: string): string {
  return [
    `ListenAddress ${ip}`,
    "HostKey /etc/ssh/ssh_host_ed25519_key",
    "PidFile none",
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "UseDNS no",
    "PrintMotd no",
    "AcceptEnv LANG LC_*",
    "Subsystem sftp internal-sftp",
    "",
  ].join("\n");
}
