/** compute.min/max/idle/resumeTimeout: validation names the field; the model marks nodes above min as on demand. */
import { describe, expect, it } from "vitest";
import { resolveCluster, SpecError, validateSpec, type Cluster } from "../../stacks/model/index.js";
import { FIXED, openstackSpec } from "../harness/specs.js";

const local = (compute: Record<string, unknown>): Cluster => resolveCluster(validateSpec({ name: "el", target: "local", compute }), FIXED);
function issues(raw: unknown): { field: string; message: string }[] {
  try {
    validateSpec(raw);
  } catch (e) {
    if (e instanceof SpecError) return e.issues;
    throw e;
  }
  return [];
}

describe("elastic compute size", () => {
  it("min 0 max 3: three Slurm nodes, all on demand, with the power agent on the bridge address", () => {
    const c = local({ min: 0, max: 3, idle: "5s" });
    expect(c.computes.map((n) => [n.name, n.power])).toEqual([["el-compute-1", "on-demand"], ["el-compute-2", "on-demand"], ["el-compute-3", "on-demand"]]);
    expect(c.elastic).toMatchObject({ min: 0, max: 3, idleSeconds: 5, resumeTimeoutSeconds: 60, nodes: ["el-compute-1", "el-compute-2", "el-compute-3"] });
    expect(c.elastic!.agent.url).toBe(`http://${c.local.hostIp}:6820`);
    expect(c.secrets.find((s) => s.key === "power.agent-token")).toMatchObject({ nodes: "head", owner: "slurm:slurm", mode: "0400" });
  });

  it("min 1 max 3: the first node always exists, the others on demand; minutes allowed", () => {
    const c = local({ min: 1, max: 3, idle: "10m", resumeTimeout: "2m" });
    expect(c.computes.map((n) => n.power)).toEqual(["always", "on-demand", "on-demand"]);
    expect(c.elastic).toMatchObject({ idleSeconds: 600, resumeTimeoutSeconds: 120, nodes: ["el-compute-2", "el-compute-3"] });
  });

  it("count stays a fixed size (no elastic settings, no agent secret); min = max is fixed too", () => {
    for (const c of [local({ count: 2 }), local({ min: 2, max: 2 })]) {
      expect(c.elastic).toBeNull();
      expect(c.computes.every((n) => n.power === "always")).toBe(true);
      expect(c.secrets.some((s) => s.key === "power.agent-token")).toBe(false);
    }
  });

  const bad: [string, Record<string, unknown>, string, RegExp][] = [
    ["min above max", { min: 4, max: 3 }, "compute.min", /must not exceed compute.max \(3\), got 4/],
    ["min without max", { min: 1 }, "compute.max", /is required/],
    ["count with max", { count: 2, max: 3 }, "compute.count", /either count .* or min and max/],
    ["max over the limit", { min: 0, max: 501 }, "compute.max", /integer from 1 to 500/],
    ["max over the local limit", { min: 0, max: 201 }, "compute.max", /at most 200/],
    ["idle not a duration", { min: 0, max: 2, idle: "soon" }, "compute.idle", /duration/],
    ["resumeTimeout too short", { min: 0, max: 2, resumeTimeout: "1s" }, "compute.resumeTimeout", /from 5s/],
    ["idle on a fixed size", { count: 2, idle: "5m" }, "compute.idle", /only applies to elastic/],
  ];
  for (const [label, compute, field, msg] of bad) {
    it(`refuses ${label}, naming ${field}`, () => {
      const found = issues({ name: "el", target: "local", compute });
      expect(found.map((i) => i.field)).toContain(field);
      expect(found.find((i) => i.field === field)!.message).toMatch(msg);
    });
  }

  it("elastic nodes on openstack need a ttl (the power agent's credential expires with the cluster)", () => {
    const found = issues(openstackSpec({ ttl: "none", compute: { min: 0, max: 2, flavor: "m1.medium" } }));
    expect(found).toEqual([{ field: "ttl", message: expect.stringMatching(/credential expires with the cluster/) }]);
    expect(issues(openstackSpec({ ttl: "7d", compute: { min: 0, max: 2, flavor: "m1.medium" } }))).toEqual([]);
  });
});
