/**
 * A session with a cluster that is up: SSH to its machines through its target's door, and the job
 * server reached from this machine (directly or through an SSH tunnel), with the admin token from
 * the state dir. Used by `apps push`, `run` and `jobs`.
 */
import { CliError } from "../errors.js";
import { health } from "../readiness/index.js";
import { readSecret } from "../secrets/index.js";
import { SshPool } from "../ssh/index.js";
import type { Door, Target, TargetContext } from "../targets/target.js";

export interface ClusterSession {
  door: Door;
  pool: SshPool;
  url: string;
  token: string;
  close(): Promise<void>;
}

export async function openSession(target: Target, ctx: TargetContext): Promise<ClusterSession> {
  const door = await target.door(ctx);
  const pool = new SshPool(door.ssh);
  try {
    const js = await door.jobServer(pool);
    const token = readSecret(ctx.state, "jobserver.admin-token");
    if (!token) throw new CliError(`no admin token in ${ctx.state.dir}: is cluster ${ctx.cluster.name} up?`);
    return { door, pool, url: js.url, token, close: async () => { await js.close(); pool.close(); } };
  } catch (e) {
    pool.close();
    throw e;
  }
}

/** Waits until the job server answers /health (after a restart), bounded. */
export async function waitHealthy(url: string, timeoutMs = 120_000): Promise<void> {
  try {
    await health(url, timeoutMs);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}
