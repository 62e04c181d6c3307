/**
 * Elastic compute nodes end to end on the local target, real everything (namespaces, sshd, munge,
 * slurmctld, slurmd -b, the job server, the power agent): one cluster `min: 0, max: 3, idle: 5s`.
 * up creates no compute node (the canary powers one up, removed after idle) → 3 UWS jobs at once
 * power up 3 nodes and COMPLETE on 3 different nodes → the nodes are removed after idle → a resume
 * that fails (the node's veth name taken on the host) leaves the node DOWN with the reason in sinfo
 * and status, its job ends (ERROR: the job server's jobs are not requeueable; requeueable jobs run
 * elsewhere, test/elastic/slurm-power) and the next job runs on another node → the agent refuses a bad token and foreign
 * nodes → down leaves nothing (agent, nodes, links, mounts, folders). Needs root.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import type { Cluster } from "../../stacks/model/index.js";
import { ClusterState } from "../../scripts/state/store.js";
import { hostSlurmVersion } from "../../scripts/elastic/version.js";
import { cli } from "../harness/cli.js";
import { leftovers, namespaceIds, NOTHING } from "../harness/leftovers.js";
import { waitFor } from "../harness/wait.js";
import { ensureBundle, finish, result, submit, upLocal, type LocalUp } from "../e2e/helpers.js";

const NAME = "e2e-elastic";
const home = mkdtempSync(join(tmpdir(), "uwsc-elastic-"));
const env = { ...process.env, UWS_CLUSTER_HOME: home };
const specFile = join(home, "elastic.yaml");
writeFileSync(specFile, `name: ${NAME}\nttl: 1h\ntarget: local\nhead: { cpus: 1, memoryMb: 512 }\ncompute: { min: 0, max: 3, idle: 5s, resumeTimeout: 30s, cpus: 1, memoryMb: 512 }\n`);

interface StatusNode { name: string; role: string; running: boolean; power: string | null; reason: string | null; slurm: string | null }
async function statusNodes(): Promise<StatusNode[]> {
  const s = await cli(["status", "--name", NAME, "--json"], env);
  return (s.json[0]?.nodes ?? []) as StatusNode[];
}
const computeNetns = (c: Cluster) => (existsSync("/run/netns") ? execFileSync("ls", ["/run/netns"], { encoding: "utf8" }).split("\n").filter((n) => n.startsWith(`${c.local.netnsPrefix}compute`)) : []);

describe("elastic local cluster (min 0, max 3, idle 5s)", () => {
  const state = new ClusterState(NAME, home);
  let up: LocalUp;
  let ns: string[] = [];

  beforeAll(async () => {
    ensureBundle();
    up = await upLocal(state, specFile, env);
    ns = up.ns;
  }, 180_000);

  afterAll(async () => {
    await cli(["down", "--name", NAME], env);
    rmSync(home, { recursive: true, force: true });
  });

  it("up creates no compute node; the canary powers one up, and it is removed after idle", async () => {
    expect(up.run.code, up.run.stderr + up.run.stdout).toBe(0);
    const steps = up.run.json.filter((e) => e.event === "step" && e.status === "ok").map((e) => String(e.step));
    expect(steps.some((s) => s.startsWith("Starting the power agent"))).toBe(true);
    expect(steps.some((s) => /^Preparing 1 nodes/.test(s))).toBe(true); // the head only
    // The power settings follow the Slurm the head runs, asked over SSH as on every target.
    expect(up.final.slurmVersion).toBe(hostSlurmVersion());
    const canaryNode = (up.final.canary as { node: string }).node;
    expect(up.cluster.computes.map((n) => n.name)).toContain(canaryNode);
    await waitFor(async () => computeNetns(up.cluster).length === 0 && (await statusNodes()).filter((n) => n.role === "compute").every((n) => n.power === "powered down"),
      { timeoutMs: 40_000, intervalMs: 500, what: () => `every compute node removed after idle (netns: ${computeNetns(up.cluster).join(", ")})` });
  }, 60_000);

  it("3 jobs at once power up 3 nodes; each job COMPLETES on its own node; the nodes are removed after idle", async () => {
    const keep = () => process.env.UWSC_KEEP_LOGS && execFileSync("sh", ["-c", `mkdir -p /tmp/uwsc-elastic-logs && cp -r ${state.path("nodes", `${NAME}-head`, "var/log/slurm")} ${state.path("elastic-agent.log")} /tmp/uwsc-elastic-logs/ || true`]);
    onTestFailed(() => { keep(); });
    const jobs = await Promise.all([1, 2, 3].map(() => submit(up.url, up.token, "node-info")));
    await waitFor(() => computeNetns(up.cluster).length === 3, { timeoutMs: 40_000, intervalMs: 100, what: () => `3 compute namespaces (now ${computeNetns(up.cluster).join(", ")})` });
    ns = [...new Set([...ns, ...namespaceIds(up.cluster)])];
    const nodes: string[] = [];
    for (const j of jobs) {
      const done = await finish(j, up.token, 60_000);
      expect(done.phase, done.message ?? "").toBe("COMPLETED");
      nodes.push((await result(j, up.token, "node")).trim());
    }
    expect(nodes.sort()).toEqual(up.cluster.computes.map((n) => n.name).sort());
    await waitFor(async () => computeNetns(up.cluster).length === 0 && (await statusNodes()).filter((n) => n.role === "compute").every((n) => n.power === "powered down"),
      { timeoutMs: 40_000, intervalMs: 500, what: () => `every compute node removed after idle (netns: ${computeNetns(up.cluster).join(", ")})` });
    const log = readFileSync(state.path("elastic-agent.log"), "utf8");
    for (const n of up.cluster.computes) expect(log).toContain(`${n.name}: removed`);
  }, 120_000);

  it("a resume that fails leaves the node DOWN with the reason (sinfo, status); the job is not stuck (the job server's jobs are not requeueable: ERROR with Slurm's message) and the next job runs on another node", async () => {
    const c = up.cluster;
    // compute-1's veth name is taken on the host: creating that node fails for real.
    const taken = `${c.local.vethPrefix}-1`;
    execFileSync("ip", ["link", "add", taken, "type", "bridge"]);
    try {
      const job = await submit(up.url, up.token, "node-info");
      const done = await finish(job, up.token, 90_000);
      expect(done.phase, done.message ?? "").toBe("ERROR");
      expect(done.message).toMatch(/NODE_FAIL/);
      const failed = c.computes[0]!.name;
      const s = (await statusNodes()).find((x) => x.name === failed)!;
      expect(s.power, JSON.stringify(s)).toBe("failed");
      expect(s.reason).toMatch(/resume failed: .*File exists/);
      const sinfo = await cli(["ssh", "head", "--name", NAME, "--", "sinfo", "-h", "-R", "-o", "%n|%E"], env);
      expect(sinfo.stdout).toContain(`${failed}|resume failed`);
      expect(computeNetns(c).some((n) => n.endsWith("compute-1"))).toBe(false); // nothing of it left
      const next = await submit(up.url, up.token, "node-info");
      const ok = await finish(next, up.token, 90_000);
      expect(ok.phase, ok.message ?? "").toBe("COMPLETED");
      expect(c.computes.slice(1).map((n) => n.name)).toContain((await result(next, up.token, "node")).trim());
    } finally {
      if (process.env.UWSC_KEEP_LOGS) execFileSync("sh", ["-c", `mkdir -p /tmp/uwsc-elastic-logs && cp -r ${state.path("nodes", `${NAME}-head`, "var/log/slurm")} ${state.path("elastic-agent.log")} /tmp/uwsc-elastic-logs/ || true`]);
      execFileSync("sh", ["-c", `ip link del ${taken} 2>/dev/null || true`]);
    }
  }, 150_000);

  it("the agent refuses a wrong token and nodes that are not this cluster's on-demand nodes", async () => {
    const e = up.cluster.elastic!;
    const bad = await fetch(`${e.agent.url}/resume`, { method: "POST", headers: { authorization: "Bearer nope" }, body: `${up.cluster.computes[0]!.name}\n` });
    expect(bad.status).toBe(401);
    const token = readFileSync(state.path("secrets/power.agent-token"), "utf8").trim();
    const r = await fetch(`${e.agent.url}/resume`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: `${up.cluster.head.name}\nother-cluster-compute-1\n` });
    expect(await r.text()).toBe(`${up.cluster.head.name} failed refused: not an on-demand node of cluster ${NAME}\nother-cluster-compute-1 failed refused: not an on-demand node of cluster ${NAME}\n`);
  });

  it("down removes everything: agent, nodes, links, mounts, folders", async () => {
    const agent = state.readJson<{ agent?: { pid: number } }>("local.json")?.agent;
    expect(agent?.pid).toBeGreaterThan(0);
    const down = await cli(["down", "--name", NAME], env);
    expect(down.code, down.stderr).toBe(0);
    expect(existsSync(`/proc/${agent!.pid}`) && !readFileSync(`/proc/${agent!.pid}/stat`, "utf8").includes(") Z ")).toBe(false);
    expect(leftovers(up.cluster, state.dir, ns)).toEqual(NOTHING);
  }, 60_000);
});
