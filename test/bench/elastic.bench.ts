// Benchmark of elastic compute nodes on the local target (the CLI as shipped: dist/cli, the bundled
// power agent). One `min: 0, max: 3, idle: 5s` cluster: (1) a job queued → RUNNING on a node powered
// up for it (goal ≤ 3 s; sbatch on the head, polled over SSH every 50 ms), (2) the node's removal
// after idle (job end → its namespace gone), (3) the idle cost of a `min: 0` cluster (processes and
// RSS of everything in its namespaces plus the agent) against a fixed 3-node cluster. Needs root.
//   npm run bench:elastic [-- RUNS]
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cluster } from "../../stacks/model/index.js";
import { REPO_ROOT } from "../../scripts/package-root.js";
import { ClusterState } from "../../scripts/state/store.js";

const runs = Number(process.argv[2] ?? 3);
const home = mkdtempSync(join(tmpdir(), "uwsc-bench-elastic-"));
const env = { ...process.env, UWS_CLUSTER_HOME: home };
const cliRun = (args: string[]) => {
  const r = spawnSync(join(REPO_ROOT, "scripts/uws-cluster.mjs"), args, { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`uws-cluster ${args.join(" ")}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};
const spec = (name: string, compute: string) => {
  const f = join(home, `${name}.yaml`);
  writeFileSync(f, `name: ${name}\nttl: 1h\ntarget: local\nhead: { cpus: 1, memoryMb: 512 }\ncompute: { ${compute}, cpus: 1, memoryMb: 512 }\n`);
  return f;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const netns = (c: Cluster, what: string) => (existsSync("/run/netns") ? readdirSync("/run/netns").filter((n) => n.startsWith(c.local.netnsPrefix + what)) : []);

/** Processes in the cluster's namespaces (ip netns pids) plus its power agent, and their RSS. */
function footprint(c: Cluster, state: ClusterState): { processes: number; rssMiB: number } {
  const pids = new Set<number>();
  for (const ns of netns(c, "")) for (const p of execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).split(/\s+/).filter(Boolean)) pids.add(Number(p));
  const agent = state.readJson<{ agent?: { pid: number } }>("local.json")?.agent;
  if (agent) pids.add(agent.pid);
  let kib = 0;
  for (const p of pids) {
    try { kib += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0); } catch { /* exited */ }
  }
  return { processes: pids.size, rssMiB: Math.round(kib / 102.4) / 10 };
}

async function waitUntil(what: string, probe: () => boolean, limitMs = 60_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

console.log(`bench:elastic — local cluster min 0, max 3, idle 5s; ${runs} power-ups; idle cost against a fixed 3-node cluster`);
try {
  const name = "bench-elastic";
  const state = new ClusterState(name, home);
  let t = performance.now();
  cliRun(["up", "--spec", spec(name, "min: 0, max: 3, idle: 5s"), "--json"]);
  console.log(`up (min 0; the canary powers a node up): ${Math.round(performance.now() - t)} ms`);
  const c = state.readJson<Cluster>("model.json")!;
  const onHead = (cmd: string[]) => cliRun(["ssh", "head", "--name", name, "--", ...cmd]);
  await waitUntil("the canary's node to be removed", () => netns(c, "compute").length === 0);
  await sleep(6000); // powered down for good (SuspendTimeout)
  const elasticIdle = footprint(c, state);

  const toRunning: number[] = [];
  const removal: number[] = [];
  for (let i = 0; i < runs; i++) {
    t = performance.now();
    const id = onHead(["sbatch", "--parsable", "-N1", "-o", "/dev/null", "--wrap", "sleep 2"]).trim();
    let st = "";
    await waitUntil(`job ${id} RUNNING`, () => { st = onHead(["squeue", "-h", "-j", id, "-o", "%T"]).trim(); return st === "RUNNING" || st === "" ; });
    toRunning.push(performance.now() - t);
    await waitUntil(`job ${id} to end`, () => onHead(["squeue", "-h", "-j", id, "-o", "%T"]).trim() === "");
    const ended = performance.now();
    await waitUntil("the node to be removed", () => netns(c, "compute").length === 0);
    removal.push(performance.now() - ended);
    console.log(`  run ${i + 1}: queued → RUNNING ${Math.round(toRunning.at(-1)!)} ms; job end → node removed ${Math.round(removal.at(-1)!)} ms`);
    await sleep(6000); // SuspendTimeout: the node may be powered up again
  }
  cliRun(["down", "--name", name]);

  const fixedName = "bench-fixed";
  const fixedState = new ClusterState(fixedName, home);
  cliRun(["up", "--spec", spec(fixedName, "count: 3"), "--json"]);
  const fixed = footprint(fixedState.readJson<Cluster>("model.json")!, fixedState);
  cliRun(["down", "--name", fixedName]);

  console.log(`job queued → RUNNING on a newly powered-up node: median ${Math.round(median(toRunning))} ms (goal ≤ 3000 ms; min ${Math.round(Math.min(...toRunning))}, max ${Math.round(Math.max(...toRunning))})`);
  console.log(`node removal after idle (5 s): job end → namespace gone, median ${Math.round(median(removal))} ms`);
  console.log(`idle cost: min 0 cluster ${elasticIdle.processes} processes, ${elasticIdle.rssMiB} MiB RSS (head + power agent) vs fixed 3-node ${fixed.processes} processes, ${fixed.rssMiB} MiB`);
} finally {
  for (const n of ["bench-elastic", "bench-fixed"]) spawnSync(join(REPO_ROOT, "scripts/uws-cluster.mjs"), ["down", "--name", n], { env });
  rmSync(home, { recursive: true, force: true });
}
