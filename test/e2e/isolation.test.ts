// Local target robustness, real everything: `down` after `up` was killed half-way (SIGKILL while
// starting daemons) leaves nothing; two clusters up at once do not interfere. Needs root.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cluster } from "../../stacks/model/index.js";
import { REPO_ROOT } from "../../scripts/deploy/bundle.js";
import { ClusterState } from "../../scripts/state/store.js";
import { leftovers, namespaceIds, NOTHING } from "../harness/leftovers.js";
import { ensureBundle, finish, result, submit } from "./helpers.js";
import { cli } from "../harness/cli.js";
import { localSpec, specYaml } from "../harness/specs.js";

const home = mkdtempSync(join(tmpdir(), "uwsc-iso-"));
const env = { ...process.env, UWS_CLUSTER_HOME: home };
const spec = (name: string) => {
  const f = join(home, `${name}.yaml`);
  writeFileSync(f, specYaml(localSpec(name, { compute: { count: 2, cpus: 1, memoryMb: 512 } })));
  return f;
};

beforeAll(() => ensureBundle());
afterAll(async () => {
  for (const n of ["iso-killed", "iso-a", "iso-b"]) await cli(["down", "--name", n], env);
  rmSync(home, { recursive: true, force: true });
});

describe("local target isolation", () => {
  it("down after up was killed half-way leaves nothing", async () => {
    const file = spec("iso-killed");
    const child = spawn(process.execPath, [join(REPO_ROOT, "scripts/uws-cluster.mjs"), "up", "--spec", file, "--json"], { env, stdio: ["ignore", "pipe", "pipe"] });
    const killedAt = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.on("line", (line) => {
        const e = JSON.parse(line) as { event?: string; step?: string; status?: string };
        if (e.event === "step" && e.status === "start" && e.step?.startsWith("Starting Slurm")) {
          child.kill("SIGKILL");
          resolve(e.step);
        }
      });
      child.on("exit", (code) => reject(new Error(`up exited (${code}) before it could be interrupted`)));
    });
    expect(killedAt).toMatch(/Starting Slurm/);
    const state = new ClusterState("iso-killed", home);
    const cluster = state.readJson<Cluster>("model.json")!;
    const ns = namespaceIds(cluster);
    expect(ns).toHaveLength(3);
    const d = await cli(["down", "--name", "iso-killed"], env);
    expect(d.code, d.stderr).toBe(0);
    expect(leftovers(cluster, state.dir, ns)).toEqual(NOTHING);
  }, 60_000);

  it("two clusters up at once do not interfere", async () => {
    const [ra, rb] = await Promise.all([cli(["up", "--spec", spec("iso-a"), "--json"], env), cli(["up", "--spec", spec("iso-b"), "--json"], env)]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    const sa = new ClusterState("iso-a", home);
    const sb = new ClusterState("iso-b", home);
    const a = sa.readJson<Cluster>("model.json")!;
    const b = sb.readJson<Cluster>("model.json")!;
    expect(a.local.bridge).not.toBe(b.local.bridge);
    expect(a.local.subnet).not.toBe(b.local.subnet);
    const tok = (s: ClusterState) => readFileSync(s.path("secrets/jobserver.admin-token"), "utf8").trim();
    const url = (r: typeof ra) => String(r.json[r.json.length - 1]!.url);
    // Each job server runs jobs on its own cluster's nodes, and refuses the other cluster's token.
    for (const [r, s, c] of [[ra, sa, a], [rb, sb, b]] as const) {
      const j = await submit(url(r), tok(s), "node-info");
      expect((await finish(j, tok(s))).phase).toBe("COMPLETED");
      expect(c.computes.map((n) => n.name)).toContain((await result(j, tok(s), "node")).trim());
    }
    const cross = await fetch(`${url(ra)}/uws/node-info`, { headers: { authorization: `Bearer ${tok(sb)}` } });
    expect(cross.status).toBe(401);
    const nsA = namespaceIds(a);
    const nsB = namespaceIds(b);
    // Removing one leaves the other working.
    expect((await cli(["down", "--name", "iso-a"], env)).code).toBe(0);
    expect(leftovers(a, sa.dir, nsA)).toEqual(NOTHING);
    const j = await submit(url(rb), tok(sb), "node-info");
    expect((await finish(j, tok(sb))).phase).toBe("COMPLETED");
    expect((await cli(["down", "--name", "iso-b"], env)).code).toBe(0);
    expect(leftovers(b, sb.dir, nsB)).toEqual(NOTHING);
  }, 120_000);
});
