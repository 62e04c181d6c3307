// Fault on the local target, real everything (namespaces, sshd, munge, slurmctld/slurmd, the job
// server bundle): a compute node's slurmd is killed (by its recorded PID) while a UWS job runs on
// it → slurmctld declares the node DOWN after SlurmdTimeout → the job (submitted --no-requeue) ends
// in ERROR with a message naming the node failure instead of staying QUEUED/EXECUTING → the other
// compute node still runs jobs → `down` leaves nothing, including the orphaned job step. Needs root.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cluster } from "../../stacks/model/index.js";
import { isAlive, LocalTarget } from "../../stacks/local/index.js";
import { ClusterState } from "../../scripts/state/store.js";
import { leftovers, NOTHING } from "../harness/leftovers.js";
import { ensureBundle, finish, phaseOf, result, submit, upLocal, type Job } from "./helpers.js";
import { cli, type CliResult } from "../harness/cli.js";
import { waitFor } from "../harness/wait.js";
import { localSpec, specYaml } from "../harness/specs.js";

const NAME = "e2e-faults";
const home = mkdtempSync(join(tmpdir(), "uwsc-faults-"));
const env = { ...process.env, UWS_CLUSTER_HOME: home };
const specFile = join(home, "faults.yaml");
writeFileSync(specFile, specYaml(localSpec(NAME, { ttl: "1h", compute: { count: 2, cpus: 1, memoryMb: 512 }, jobserver: { auth: "tokens" } })));
// slurmctld sets the node DOWN ~30 s after the kill here (SlurmdTimeout=10 on the local target,
// checked on its ping cycle, after a failed ping); the job server sees NODE_FAIL on its next poll.
const NODE_FAIL_BOUND_MS = 90_000;

/** A command run as root on the head over SSH (the `ssh` verb), its stdout. */
async function onHead(argv: string[]): Promise<string> {
  const r = await cli(["ssh", "head", "--name", NAME, "--", ...argv], env);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} on the head failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function waitPhase(job: Job, token: string, want: string, limitMs: number): Promise<void> {
  let phase = "";
  await waitFor(async () => {
    phase = await phaseOf(job, token);
    if (phase !== want && ["COMPLETED", "ERROR", "ABORTED"].includes(phase)) throw new Error(`job ${job.id} is ${phase}, expected ${want}`);
    return phase === want;
  }, { timeoutMs: limitMs, intervalMs: 200, what: () => `job ${job.id} is ${phase}, expected ${want}` });
}

describe("local cluster faults", () => {
  const state = new ClusterState(NAME, home);
  let cluster: Cluster;
  let upRun: CliResult;
  let token = "";
  let url = "";
  let ns: string[] = [];

  beforeAll(async () => {
    ensureBundle(); // `up` rebuilds it too when runtime/ is newer, so the executor under test is the current one
    ({ run: upRun, cluster, token, url, ns } = await upLocal(state, specFile, env));
    if (upRun.code !== 0) throw new Error(`up failed (${upRun.code}): ${upRun.stderr}${upRun.stdout}`);
  }, 120_000);

  afterAll(async () => {
    await cli(["down", "--name", NAME], env);
    rmSync(home, { recursive: true, force: true });
  });

  it("slurmd killed on the job's compute node → the job ends in ERROR with a node-failure message, not stuck", async () => {
    const job = await submit(url, token, "sleep", { seconds: "120" });
    await waitPhase(job, token, "EXECUTING", 20_000);
    // Where Slurm runs it, as slurmctld on the head sees it.
    const [slurmId, node] = (await onHead(["squeue", "-h", "-n", `uws-${job.id}`, "-o", "%i|%N"])).trim().split("|");
    expect(slurmId).toMatch(/^\d+$/);
    const computes = cluster.computes.map((n) => n.name);
    expect(computes).toContain(node);

    const target = new LocalTarget(cluster, { stateDir: state.dir, store: state });
    const slurmd = target.daemon(node!, "slurmd")!;
    expect(isAlive(slurmd)).toBe(true);
    const killedAt = Date.now();
    await target.stopService(node!, "slurmd", "SIGKILL");
    expect(isAlive(slurmd)).toBe(false);

    const done = await finish(job, token, NODE_FAIL_BOUND_MS);
    const tookMs = Date.now() - killedAt;
    expect(done.phase, done.xml).toBe("ERROR");
    expect(done.message ?? "").toMatch(/node/i);
    expect(done.message ?? "").toMatch(/fail/i);
    expect(tookMs).toBeLessThan(NODE_FAIL_BOUND_MS);
    console.log(`slurmd killed on ${node}: UWS job ${job.id} (Slurm ${slurmId}) ERROR after ${(tookMs / 1000).toFixed(1)} s: ${done.message}`);

    // Slurm's own view agrees: the job failed with its node (not requeued), the node is down.
    const sj = await onHead(["scontrol", "show", "job", "-o", slurmId!]);
    expect(sj).toMatch(/JobState=NODE_FAIL/);
    expect(sj).toMatch(/Restarts=0/);
    expect(await onHead(["sinfo", "-h", "-n", node!, "-o", "%T"])).toMatch(/down/);

    // The surviving compute node still runs jobs.
    const other = computes.find((n) => n !== node)!;
    const j2 = await submit(url, token, "node-info");
    const d2 = await finish(j2, token, 30_000);
    expect(d2.phase, d2.message ?? "").toBe("COMPLETED");
    expect((await result(j2, token, "node")).trim()).toBe(other);
  }, 150_000);

  it("down after the fault removes everything, including the orphaned job step", async () => {
    expect(ns).toHaveLength(3);
    const d = await cli(["down", "--name", NAME, "--json"], env);
    expect(d.code, d.stderr).toBe(0);
    expect(d.json[0]).toMatchObject({ ok: true, removed: true });
    expect(leftovers(cluster, state.dir, ns)).toEqual(NOTHING);
  });
});
