/** The Slurm version installed here (`slurmctld -V` → `22.05.8`): the local target's nodes run this machine's Slurm. */
import { spawnSync } from "node:child_process";

export function hostSlurmVersion(): string | undefined {
  const r = spawnSync("/usr/sbin/slurmctld", ["-V"], { encoding: "utf8" });
  return /(\d+\.\d+(?:\.\d+)?)/.exec(r.stdout ?? "")?.[1];
}
