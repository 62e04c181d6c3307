// Benchmark of the local target: nothing → ready (canary UWS job COMPLETED on a compute node) for
// 1 head + 2 compute, then down. Goals: up ≤ 10 s, down ≤ 2 s. Runs the real path (namespaces, ssh2
// push, munge, Slurm, the job server bundle). Needs root.   npm run bench:local [-- RUNS]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveCluster, validateSpec } from "../../stacks/model/index.js";
import { localSpec, specYaml } from "../harness/specs.js";
import { localTarget, preflight } from "../../scripts/targets/local/index.js";
import { JOB_SERVER_BUNDLE, REPO_ROOT } from "../../scripts/deploy/bundle.js";
import { upCluster } from "../../scripts/deploy/up.js";
import { Progress } from "../../scripts/progress/index.js";
import { ClusterState } from "../../scripts/state/store.js";

const runs = Number(process.argv[2] ?? 3);
const home = mkdtempSync(join(tmpdir(), "uwsc-bench-"));
const SPEC = localSpec("bench-local");
preflight({ installDeps: false });
console.log(`bench:local — 1 head + 2 compute, ${runs} runs in-process, then 1 run through the CLI (bundle ${JOB_SERVER_BUNDLE})`);

const ups: number[] = [];
const downs: number[] = [];
const steps = new Map<string, number[]>();
try {
  for (let i = 0; i < runs; i++) {
    const state = new ClusterState("bench-local", home);
    const cluster = resolveCluster(validateSpec(SPEC), state.identity());
    const t0 = performance.now();
    const progress = new Progress(process.stdout, "quiet");
    const r = await upCluster(localTarget, { cluster, state, progress, env: process.env, cwd: REPO_ROOT, args: { flags: {}, positional: [] } });
    ups.push(performance.now() - t0);
    for (const t of r.timings) steps.set(t.step, [...(steps.get(t.step) ?? []), t.ms]);
    const t1 = performance.now();
    await down(state);
    downs.push(performance.now() - t1);
    console.log(`  run ${i + 1}: up ${ms(ups[i]!)} (canary on ${r.readiness.canary.node} in ${r.readiness.canary.ms} ms), down ${ms(downs[i]!)}`);
  }
  console.log("\nper step (median of runs):");
  for (const [step, v] of steps) console.log(`  ${median(v).toFixed(0).padStart(6)} ms  ${step}`);
  console.log(`\nup   (nothing → canary COMPLETED): median ${ms(median(ups))}, min ${ms(Math.min(...ups))}, max ${ms(Math.max(...ups))}   goal ≤ 10 s`);
  console.log(`down (everything removed):         median ${ms(median(downs))}, min ${ms(Math.min(...downs))}, max ${ms(Math.max(...downs))}   goal ≤ 2 s`);

  // The user's view: the CLI, including Node + tsx start-up.
  const env = { ...process.env, UWS_CLUSTER_HOME: home };
  const bin = join(REPO_ROOT, "scripts/uws-cluster.mjs");
  const spec = join(home, "bench.yaml");
  writeFileSync(spec, specYaml(SPEC));
  const c0 = performance.now();
  const u = spawnSync(process.execPath, [bin, "up", "--spec", spec], { env, encoding: "utf8" });
  const c1 = performance.now();
  const d = spawnSync(process.execPath, [bin, "down", "--spec", spec], { env, encoding: "utf8" });
  const c2 = performance.now();
  if (u.status !== 0 || d.status !== 0) throw new Error(`CLI run failed: ${u.stderr}${d.stderr}`);
  console.log(`CLI wall clock: uws-cluster up ${ms(c1 - c0)}, uws-cluster down ${ms(c2 - c1)} (includes Node start-up)`);
} finally {
  await down(new ClusterState("bench-local", home)).catch(() => {});
  rmSync(home, { recursive: true, force: true });
}

function down(state: ClusterState) {
  return localTarget.delete({ state, env: process.env, cwd: REPO_ROOT, progress: new Progress(process.stdout, "quiet"), args: { flags: {}, positional: [] } });
}
function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
function ms(v: number): string {
  return v < 1000 ? `${v.toFixed(0)} ms` : `${(v / 1000).toFixed(2)} s`;
}
