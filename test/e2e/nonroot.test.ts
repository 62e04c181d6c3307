// The README's commands that need no root, run as an ordinary user with that user's defaults (its own
// HOME, no UWS_CLUSTER_HOME): `serve` and its curl line exactly as the README writes them, then the
// verbs a user runs from a laptop against a cloud or a running server — validate, synth, render,
// run/jobs with --url. Every other test runs as root, where a root-only path or permission would go
// unnoticed. The checkout is a copy the user owns (the CI clone under /root is not readable by
// others); node_modules is hard-linked into it, read-only to the user, as a system-wide install is.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/deploy/bundle.js";
import { waitFor } from "../harness/wait.js";

const README = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
const blocks = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
const serveBlock = blocks.find((b) => b.includes("uws-cluster.mjs serve"))!;
const [serveLine, curlLine] = serveBlock.trim().split("\n");

const USER = `uwsnr${process.pid % 100000}`;
let base = "";
let home = "";
let repo = "";
let server: ChildProcess | undefined;

/** Runs a bash script as the test user in the copied checkout, with the user's own environment. */
function asUser(script: string, timeoutMs = 120_000) {
  return spawnSync("runuser", ["-u", USER, "--", "bash", "-euo", "pipefail", "-c", script], {
    cwd: repo,
    env: { PATH: process.env.PATH, HOME: home, USER, LANG: "C.UTF-8" },
    encoding: "utf8",
    timeout: timeoutMs,
  });
}

const portFree = (port: number) => spawnSync("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`], { stdio: "ignore" }).status !== 0;

describe("the README's user-level commands as an ordinary (non-root) user", () => {
  beforeAll(() => {
    base = mkdtempSync("/tmp/uws-nonroot-");
    chmodSync(base, 0o755);
    home = join(base, "home");
    repo = join(base, "uws-cluster");
    execFileSync("useradd", ["--no-create-home", "--home-dir", home, "--shell", "/bin/bash", "--user-group", USER]);
    mkdirSync(home);
    mkdirSync(repo);
    for (const e of readdirSync(REPO_ROOT)) {
      if (e === ".git" || e === "node_modules") continue;
      cpSync(join(REPO_ROOT, e), join(repo, e), { recursive: true, preserveTimestamps: true });
    }
    execFileSync("chown", ["-R", `${USER}:${USER}`, home, repo]);
    execFileSync("cp", ["-al", join(REPO_ROOT, "node_modules"), join(repo, "node_modules")]);
  }, 120_000);

  afterAll(async () => {
    if (server?.pid && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server!.once("exit", r));
      try {
        process.kill(-server.pid, "SIGTERM");
      } catch { /* already gone */ }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    }
    // userdel refuses while the user has processes: it runs after the server's group has exited.
    const del = spawnSync("userdel", [USER], { encoding: "utf8" });
    if (del.status !== 0 && del.status !== 6) throw new Error(`userdel ${USER}: ${del.stderr}`);
    if (base) rmSync(base, { recursive: true, force: true });
  }, 60_000);

  it("finds the README's serve lines", () => {
    expect(serveLine).toMatch(/^\.\/scripts\/uws-cluster\.mjs serve --auth tokens --token a=alice/);
    expect(curlLine).toMatch(/^curl .*http:\/\/127\.0\.0\.1:8080\/uws\/hello$/);
    expect(asUser("id -u").stdout.trim()).not.toBe("0");
  });

  it("validate, synth and render write only where the user can", () => {
    const v = asUser("./scripts/uws-cluster.mjs validate --spec examples/openstack.yaml --json");
    expect(v.status, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).ok).toBe(true);
    const s = asUser("./scripts/uws-cluster.mjs synth --spec examples/openstack.yaml --out synth-out");
    expect(s.status, s.stderr).toBe(0);
    expect(existsSync(join(repo, "synth-out/cdk.tf.json"))).toBe(true);
    const r = asUser("./scripts/uws-cluster.mjs render --spec examples/local.yaml --out render-out");
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(repo, "render-out")).some((n) => n.endsWith("-head"))).toBe(true);
    // Verbs that need root say so instead of failing half-way.
    const up = asUser("./scripts/uws-cluster.mjs up --spec examples/local.yaml 2>&1 || echo EXIT=$?");
    expect(up.stdout).toMatch(/root/i);
    expect(up.stdout).toMatch(/EXIT=[1-9]/);
  }, 180_000);

  it("serves the job server and answers the README's curl line; run and jobs work with --url", async () => {
    expect(portFree(8080), "port 8080 on 127.0.0.1 is taken: the README's serve line needs it").toBe(true);
    server = spawn("runuser", ["-u", USER, "--", "bash", "-c", `exec ${serveLine}`], {
      cwd: repo,
      env: { PATH: process.env.PATH, HOME: home, USER, LANG: "C.UTF-8" },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    server.stdout!.on("data", (d) => (log += d));
    server.stderr!.on("data", (d) => (log += d));
    await waitFor(async () => (await fetch("http://127.0.0.1:8080/health").then((r) => r.ok).catch(() => false)) || undefined, { timeoutMs: 60_000, what: "the README's serve line to answer /health" }).catch((e) => {
      throw new Error(`${e.message}\n${log}`);
    });

    const curl = asUser(curlLine!);
    expect(curl.status, curl.stderr).toBe(0);
    expect(curl.stdout).toContain("<uws:job");
    expect(curl.stdout).toContain("<uws:ownerId>alice</uws:ownerId>");

    const run = asUser("./scripts/uws-cluster.mjs run hello -p name=user --wait --out results --url http://127.0.0.1:8080 --token b");
    expect(run.status, `${run.stdout}\n${run.stderr}\n${log}`).toBe(0);
    const greeting = readdirSync(join(repo, "results")).find((n) => n.startsWith("greeting"));
    expect(greeting, `run --out wrote ${readdirSync(join(repo, "results"))}`).toBeDefined();
    expect(readFileSync(join(repo, "results", greeting!), "utf8")).toContain("hello user");
    const jobs = asUser("./scripts/uws-cluster.mjs jobs --url http://127.0.0.1:8080 --token b --json");
    expect(jobs.status, jobs.stderr).toBe(0);
    expect(jobs.stdout).toContain("hello");
    // The server's data went to the user's own default location, not to a root-only path.
    expect(execFileSync("find", [home, repo, "-newer", join(repo, "package.json"), "-not", "-user", USER, "-not", "-path", `${repo}/node_modules*`], { encoding: "utf8" }).trim()).toBe("");
  }, 180_000);
});
