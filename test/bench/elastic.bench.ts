// Benchmark of elastic compute nodes on the local target (the CLI as shipped: dist/cli, the bundled
// power agent). One `min: 0, max: 3, idle: 5s` cluster: (1) a job queued → RUNNING on a node powered
// up for it (goal ≤ 3 s; sbatch on the head, polled over SSH every 50 ms), (2) the node's removal
// after idle (job end → its namespace gone), (3) the idle cost of a `min: 0` cluster (processes and
// RSS of everything in its namespaces plus the agent) against a fixed 3-node cluster. Needs root.
//   npm run bench:elastic [-- RUNS]
// The OpenStack section (loopback cloud: resume → servers ACTIVE, suspend → deleted) is
// test/bench/elastic-openstack.ts:
//   npm run bench:elastic -- openstack [RUNS]
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cluster } from "../../stacks/model/index.js";
import { REPO_ROOT } from "../../scripts/package-root.js";
import { ClusterState } from "../../scripts/state/store.js";

if (process.argv[2] === "openstack") {
  const { benchOpenStack } = await import("./elastic-openstack.js");
  await benchOpenStack(Number(process.argv[3] ?? 3));
  process.exit(0);
}

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

  // Every node shares one clock (namespaces of one kernel) and the cluster's shared folder is the
  // same host path on every node: the head stamps the submission, the job stamps its own start into
  // the shared folder, so the figure has no polling error. The slurmctld log (DebugFlags=Power, ms
  // timestamps) and the power agent's log split it into steps.
  const shared = c.volume.mountPoint;
  const agentLog = state.path("elastic-agent.log");
  const stamp = (line: string | undefined) => (line ? Date.parse(`${/^\[?([0-9T:.-]+)/.exec(line)?.[1]}Z`) : NaN);
  const toRunning: number[] = [];
  const removal: number[] = [];
  for (let i = 0; i < runs; i++) {
    const agentBefore = existsSync(agentLog) ? readFileSync(agentLog, "utf8").length : 0;
    const out = onHead(["sh", "-c", `t0=$(date +%s%3N); id=$(sbatch --parsable -N1 -o ${shared}/bench-%j.out --wrap 'date +%s%3N; sleep 2'); echo $t0 $id`]).trim().split(/\s+/);
    const [t0, id] = [Number(out[0]), out[1]!];
    const file = join(shared, `bench-${id}.out`);
    await waitUntil(`job ${id} to start`, () => existsSync(file) && readFileSync(file, "utf8").trim().length > 0);
    const started = Number(readFileSync(file, "utf8").trim());
    toRunning.push(started - t0);
    await waitUntil(`job ${id} to end`, () => onHead(["squeue", "-h", "-j", id, "-o", "%T"]).trim() === "");
    const ended = performance.now();
    await waitUntil("the node to be removed", () => netns(c, "compute").length === 0);
    removal.push(performance.now() - ended);
    rmSync(file, { force: true });
    const ctld = onHead(["sh", "-c", "tail -n 400 /var/log/slurm/slurmctld.log"]).split("\n");
    const after = (re: RegExp) => ctld.find((l) => re.test(l) && stamp(l) >= t0 - 1000 && stamp(l) <= started + 1000);
    const woke = stamp(after(/power_save: .*(waking|resume)|ResumeProgram|Resuming node|powering up/i));
    const responding = stamp(after(/now responding|registered|node_did_resp|Node .* now/i));
    const configured = /created and configured in (\d+) ms/.exec(readFileSync(agentLog, "utf8").slice(agentBefore))?.[1];
    const rel = (x: number) => (Number.isFinite(x) ? `${x - t0} ms` : "?");
    console.log(`  run ${i + 1}: queued → RUNNING ${toRunning.at(-1)} ms (resume program started +${rel(woke)}, node created and configured by the agent in ${configured ?? "?"} ms, slurmd registered +${rel(responding)}); job end → node removed ${Math.round(removal.at(-1)!)} ms`);
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
