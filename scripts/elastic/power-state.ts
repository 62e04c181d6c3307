/** Each compute node's power state as Slurm reports it (sinfo on the head), in words for `status`. */
import type { SshHost, SshPool } from "../ssh/index.js";

export interface NodePower {
  /** sinfo's state with its flags, e.g. `idle~`, `allocated#`, `down~`. */
  slurm: string;
  /** powered down | powering up | powering down | idle | allocated | failed | … */
  power: string;
  /** Slurm's reason for a down, drained or failed node (sinfo %E). */
  reason: string | null;
}

/** `sinfo -N -o "%N|%T|%E"` over SSH on the head. */
export async function nodePowers(pool: SshPool, head: SshHost): Promise<Record<string, NodePower>> {
  const out = await pool.run(head, ["sinfo", "--noheader", "--Node", "--format=%N|%T|%E"], { timeoutMs: 10_000 });
  const res: Record<string, NodePower> = {};
  for (const line of out.trim().split("\n")) {
    const [name, state, reason] = line.trim().split("|");
    if (name && state) res[name] = { slurm: state, power: powerOf(state), reason: reason && reason !== "none" ? reason : null };
  }
  return res;
}

export function powerOf(state: string): string {
  const base = state.replace(/[~#%!*$@^-]+$/, "");
  if (/^(down|fail|drain)/.test(base)) return "failed";
  if (state.endsWith("#")) return "powering up";
  if (state.endsWith("%") || state.endsWith("!")) return "powering down";
  if (state.endsWith("~")) return "powered down";
  if (/^(allocated|mixed|completing)/.test(base)) return "allocated";
  return base;
}
