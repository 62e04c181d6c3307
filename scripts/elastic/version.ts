/** The Slurm version a node runs (`slurmctld -V` → `22.05.8`): version-specific power-saving settings follow it. */
import { spawnSync } from "node:child_process";
import type { SshHost, SshPool } from "../ssh/index.js";

/** `slurm 22.05.8` → `22.05.8`. */
export function parseSlurmVersion(text: string): string | undefined {
  return /(\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1];
}

/** This machine's Slurm: the local target's nodes run it. */
export function hostSlurmVersion(): string | undefined {
  const r = spawnSync("/usr/sbin/slurmctld", ["-V"], { encoding: "utf8" });
  return parseSlurmVersion(r.stdout ?? "");
}

/**
 * The head's Slurm, asked over SSH once its packages are installed (a cloud image's Slurm is the
 * distribution's: 22.05 on Debian 12, 23.11 on Ubuntu 24.04, 24.11 on Debian 13).
 */
export async function remoteSlurmVersion(pool: SshPool, head: SshHost): Promise<string | undefined> {
  const r = await pool.exec(head, "/usr/sbin/slurmctld -V");
  return r.code === 0 ? parseSlurmVersion(r.stdout) : undefined;
}
