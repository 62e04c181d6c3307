/**
 * The published shape: `npm pack` (its prepack builds dist/) gives a tarball that installs with
 * `npm i -g` and whose `uws-cluster` runs the compiled CLI, with no TypeScript source and no
 * checkout around it, and the job server it ships answers. Slow (npm installs the dependencies;
 * better-sqlite3 compiles from source where no prebuilt binary can be downloaded: minutes on a busy
 * 2-core machine), hence the long timeouts.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/package-root.js";

const tmp = mkdtempSync(join(tmpdir(), "uwsc-pack-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function ok(r: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  expect(r.status, `${what}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

describe("npm pack", () => {
  it("gives a tarball whose uws-cluster works after npm i -g, from the compiled JavaScript alone", async () => {
    const npm = (args: string[], cwd: string) =>
      spawnSync("npm", [...args, "--no-audit", "--no-fund"], { cwd, encoding: "utf8", timeout: 50 * 60_000 });
    ok(npm(["pack", "--pack-destination", tmp], REPO_ROOT), "npm pack");
    const tarball = readdirSync(tmp).find((f) => f.endsWith(".tgz"));
    expect(tarball, "npm pack wrote no tarball").toBeDefined();

    const prefix = join(tmp, "prefix");
    ok(npm(["install", "--global", "--prefix", prefix, join(tmp, tarball!)], tmp), "npm i -g");
    const installed = join(prefix, "lib/node_modules/uws-cluster");
    const shipped = readdirSync(installed, { recursive: true, encoding: "utf8" }).filter((f) => !f.startsWith("node_modules"));
    expect(shipped).toContain(join("dist", "cli", "main.js"));
    expect(shipped).toContain(join("dist", "runtime", "uws-server.mjs"));
    expect(shipped.filter((f) => f.endsWith(".ts")), "TypeScript shipped").toEqual([]);

    // Run from a folder outside the checkout, with the examples (a spec and the apps it names) copied there.
    const work = join(tmp, "work");
    mkdirSync(work);
    cpSync(join(REPO_ROOT, "examples"), join(work, "examples"), { recursive: true });
    const bin = join(prefix, "bin", "uws-cluster");
    const env = { ...process.env, UWS_CLUSTER_HOME: join(tmp, "state") };
    const run = (...args: string[]) => spawnSync(bin, args, { cwd: work, env, encoding: "utf8", timeout: 60_000 });

    expect(ok(run("--help"), "uws-cluster --help").stdout).toContain("commands:");
    expect(ok(run("validate", "--spec", "examples/openstack.yaml"), "uws-cluster validate").stdout).toContain("eosc-demo: valid (openstack, 1 head + 2 compute");
    expect(ok(run("serve", "--help"), "uws-cluster serve --help").stdout).toContain("--upload-limit-mb N");
    const bad = run("validate", "--spec", "missing.yaml");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("cannot read --spec missing.yaml");

    // serve runs the shipped job server bundle with the installed better-sqlite3.
    const server = spawn(bin, ["serve", "--port", "0", "--auth", "none", "--data", join(tmp, "data"), "--log-level", "info"], { cwd: work, env, stdio: ["ignore", "pipe", "pipe"] });
    try {
      let log = "";
      const address = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve did not listen within 60 s:\n${log}`)), 60_000);
        const onData = (d: Buffer) => {
          log += d.toString();
          const m = /"address":"(http:\/\/[^"]+)"/.exec(log);
          if (m) { clearTimeout(timer); resolve(m[1]!); }
        };
        server.stdout.on("data", onData);
        server.stderr.on("data", onData);
        server.once("exit", (code) => { clearTimeout(timer); reject(new Error(`serve exited ${code}:\n${log}`)); });
      });
      const health = await fetch(`${address}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ok: true });
    } finally {
      server.kill("SIGTERM");
    }
  }, 60 * 60_000);
});
