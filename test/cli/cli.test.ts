import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { COMMANDS } from "../../scripts/cli/registry.js";

const run = promisify(execFile);
const home = mkdtempSync(join(tmpdir(), "uwsc-cli-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** Runs the installed entry point exactly as a user does (scripts/uws-cluster.mjs), never in-process. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run("node", ["scripts/uws-cluster.mjs", ...args], { env: { ...process.env, UWS_CLUSTER_HOME: home } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("uws-cluster CLI", () => {
  it("validate rejects compute.count -3 naming the field, exit 2", async () => {
    const bad = join(home, "bad.yaml");
    writeFileSync(bad, readFileSync("examples/openstack.yaml", "utf8").replace("count: 2", "count: -3"));
    const r = await cli("validate", "--spec", bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("compute.count: must be an integer from 0 to 500, got -3");
    const j = await cli("validate", "--spec", bad, "--json");
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { kind: "spec", details: [{ field: "compute.count" }] } });
  });

  it("validate accepts the examples", async () => {
    const r = await cli("validate", "--spec", "examples/openstack.yaml", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, name: "eosc-demo", nodes: [{ name: "eosc-demo-head" }, {}, {}] });
  });

  it("synth writes cdk.tf.json, keeps the cluster id across runs, and stores the key 0600", async () => {
    const out = join(home, "out");
    const first = await cli("synth", "--spec", "examples/openstack.yaml", "--out", out, "--json");
    expect(first.code).toBe(0);
    const a = JSON.parse(first.stdout);
    const tf = JSON.parse(readFileSync(join(out, "cdk.tf.json"), "utf8"));
    expect(tf.output.cluster_id.value).toBe(a.id);
    const second = JSON.parse((await cli("synth", "--spec", "examples/openstack.yaml", "--out", out, "--json")).stdout);
    expect(second.id).toBe(a.id);
    expect(statSync(join(home, "eosc-demo", "ssh", "id_ed25519")).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "eosc-demo")).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(out, "cdk.tf.json"), "utf8")).not.toContain("PRIVATE KEY");
  });

  it("names a missing flag, an unknown flag and an unknown command", async () => {
    expect(await cli("synth", "--spec", "examples/openstack.yaml")).toMatchObject({ code: 2, stderr: expect.stringContaining("--out is required") });
    expect(await cli("validate", "--spek", "x")).toMatchObject({ code: 2, stderr: expect.stringContaining("unknown option --spek") });
    expect(await cli("frobnicate")).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "frobnicate"') });
    expect(await cli("validate", "--spec", "/nonexistent.yaml")).toMatchObject({ code: 2, stderr: expect.stringContaining("cannot read --spec") });
  });

  it("--help works on every verb", async () => {
    for (const c of COMMANDS) {
      const r = await cli(c.name, "--help");
      expect(r.code, c.name).toBe(0);
      expect(r.stdout).toContain(`usage: uws-cluster ${c.name}`);
    }
    expect((await cli("--help")).stdout).toContain("commands:");
  });
});
