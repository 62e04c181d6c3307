// End to end on the local target, real everything (namespaces, sshd, munge, slurmctld/slurmd, the
// job server bundle): `up` over the CLI → UWS jobs over HTTP reporting the Slurm node they ran on →
// one job on each compute node → `down` → nothing of the cluster left on this host (the slurmd-kill
// fault is in faults.test.ts). Needs root.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cluster } from "../../stacks/model/index.js";
import { localSpec, specYaml } from "../harness/specs.js";
import { ClusterState } from "../../scripts/state/store.js";
import { leftovers, NOTHING } from "../harness/leftovers.js";
import { ensureBundle, finish, result, submit, upLocal } from "./helpers.js";
import { cli, type CliResult } from "../harness/cli.js";

const home = mkdtempSync(join(tmpdir(), "uwsc-e2e-"));
const env = { ...process.env, UWS_CLUSTER_HOME: home };
// One CPU per compute node: two jobs at once cannot share a node.
const SPEC = localSpec("e2e-local", { ttl: "1h", head: { cpus: 1, memoryMb: 512 }, compute: { count: 2, cpus: 1, memoryMb: 512 }, jobserver: { auth: "tokens" } });
const specFile = join(home, "e2e.yaml");
writeFileSync(specFile, specYaml(SPEC));

describe("local cluster end to end", () => {
  const state = new ClusterState("e2e-local", home);
  let cluster: Cluster;
  let upRun: CliResult;
  let final: Record<string, unknown>;
  let token = "";
  let url = "";
  let ns: string[] = [];

  beforeAll(async () => {
    ensureBundle();
    ({ run: upRun, final, cluster, token, url, ns } = await upLocal(state, specFile, env));
  }, 120_000);

  afterAll(async () => {
    await cli(["down", "--name", "e2e-local"], env);
    rmSync(home, { recursive: true, force: true });
  });

  it("up succeeds with a ready cluster and reports url, nodes and timings as JSON", () => {
    expect(upRun.code, upRun.stderr + upRun.stdout).toBe(0);
    expect(final).toMatchObject({ ok: true, name: "e2e-local", url: `http://${cluster.head.privateIp}:${cluster.jobserver.port}` });
    expect((final.nodes as unknown[]).length).toBe(3);
    const steps = upRun.json.filter((e) => e.event === "step" && e.status === "ok").map((e) => e.step);
    expect(steps.some((s) => String(s).includes("Slurm nodes = idle"))).toBe(true);
    expect(steps.some((s) => String(s).includes("canary"))).toBe(true);
    expect(cluster.computes.map((n) => n.name)).toContain((final.canary as { node: string }).node);
    expect(String(final.curl)).toContain(`${url}/uws/hello`);
    expect(upRun.stdout).not.toContain(token); // the token itself is never printed
  });

  it("a UWS job over HTTP runs on a compute node, COMPLETES and its result downloads", async () => {
    const job = await submit(url, token, "node-info");
    const done = await finish(job, token);
    expect(done.phase, done.message ?? "").toBe("COMPLETED");
    const node = (await result(job, token, "node")).trim();
    expect(cluster.computes.map((n) => n.name)).toContain(node);
  });

  it("runs a job on each compute node", async () => {
    const seen = new Set<string>();
    for (let round = 0; round < 4 && seen.size < cluster.computes.length; round++) {
      const jobs = await Promise.all(cluster.computes.map(() => submit(url, token, "node-info")));
      for (const j of jobs) {
        expect((await finish(j, token)).phase).toBe("COMPLETED");
        seen.add((await result(j, token, "node")).trim());
      }
    }
    expect([...seen].sort()).toEqual(cluster.computes.map((n) => n.name).sort());
  });

  it("status shows every node up and idle, the URL, age and TTL", async () => {
    const s = await cli(["status", "--name", "e2e-local", "--json"], env);
    expect(s.code).toBe(0);
    const st = s.json[0]!;
    expect(st).toMatchObject({ ok: true, url });
    expect((st.nodes as { slurm: string | null }[]).filter((n) => n.slurm === "idle")).toHaveLength(2);
    expect(Number(st.ttlSeconds)).toBeGreaterThan(3000);
    const ssh = await cli(["ssh", "compute-2", "--name", "e2e-local", "--", "hostname"], env);
    expect(ssh.stdout.trim()).toBe(cluster.computes[1]!.name);
  });

  it("down removes everything: no namespace, bridge, veth, process, mount or folder of the cluster", async () => {
    expect(ns).toHaveLength(3);
    const d = await cli(["down", "--spec", specFile, "--json"], env);
    expect(d.code).toBe(0);
    expect(d.json[0]).toMatchObject({ ok: true, removed: true });
    expect(leftovers(cluster, state.dir, ns)).toEqual(NOTHING);
    expect((await cli(["down", "--name", "e2e-local"], env)).code).toBe(0);
  });
});
