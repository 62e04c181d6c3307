// runtime/ as a separate deployable: the config-file contract, the esbuild bundle
// (dist/runtime/uws-server.mjs started with --config) and `uws-cluster serve`.
import { afterAll, describe, expect, it } from "vitest";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { configFromArgs, loadConfigFile } from "../../../runtime/config.js";
import { createJob, http, waitFinal } from "../helpers.js";
import { freePort } from "../../harness/ports.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const tmp = mkdtempSync(join(tmpdir(), "uws-deploy-"));
const procs: ChildProcess[] = [];
afterAll(async () => {
  for (const p of procs) {
    if (p.exitCode === null) {
      const gone = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      await gone;
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});


const logs = new Map<ChildProcess, () => string>();

async function startProc(args: string[], url: string): Promise<ChildProcess> {
  const p = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], cwd: tmp });
  let log = "";
  p.stdout!.on("data", (d) => (log += d));
  p.stderr!.on("data", (d) => (log += d));
  logs.set(p, () => log);
  procs.push(p);
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/health`)).ok) return p;
    } catch {
      /* starting */
    }
    if (i > 300 || p.exitCode !== null) throw new Error(`did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("config file contract", () => {
  it("accepts every documented key; flags override the file", () => {
    const f = join(tmp, "full.yaml");
    writeFileSync(
      f,
      `host: 127.0.0.1
port: 8080
data: ./state
workDir: /shared/uws-jobs
definitions: ./defs
executor: slurm
local: { concurrency: 3 }
slurm: { partition: batch, slurmConf: /etc/slurm/slurm.conf }
auth: oidc
tokensFile: null
adminTokenFile: /etc/uws-server/admin.token
jobSecretFile: /etc/uws-server/job-secret
oidc:
  issuer: https://idp.example.org/realms/x
  audience: uws-api
  clientId: uws
  clientSecretFile: /etc/uws-server/oidc-secret
  scopes: [openid, profile]
  entitlementClaim: eduperson_entitlement
  allow: { entitlements: ["urn:x:members"], subs: [] }
  admins: { entitlements: [], subs: ["boss"] }
uploadLimitMb: 50
publicUrl: https://uws.example.org/
maxWait: 300
`,
    );
    const c = loadConfigFile(f);
    expect(c.data).toBe(join(tmp, "state"));
    expect(c.definitions).toBe(join(tmp, "defs"));
    expect(c.workDir).toBe("/shared/uws-jobs");
    expect(c.slurm).toMatchObject({ partition: "batch", slurmConf: "/etc/slurm/slurm.conf" });
    expect(c.oidc.allow.entitlements).toEqual(["urn:x:members"]);
    expect(c.local.concurrency).toBe(3);
    const { config } = configFromArgs(["--config", f, "--port", "9090", "--executor", "local", "--public-url", "https://other.example.org/"]);
    expect(config.port).toBe(9090);
    expect(config.executor).toBe("local");
    expect(config.publicUrl).toBe("https://other.example.org");
    expect(config.maxWait).toBe(300);
  });

  it("rejects unknown keys, inline secrets and bad values, naming the key", () => {
    const bad: Array<[string, RegExp]> = [
      ["prot: 80\n", /prot: unknown key/],
      ["tokens: ['a=alice']\n", /tokens: unknown key/],
      ["oidc: { clientSecret: s3cret }\n", /oidc\.clientSecret: unknown key/],
      ["port: eighty\n", /port: must be a non-negative number/],
      ["executor: k8s\n", /executor: must be local or slurm/],
      ["auth: oidc\n", /oidc\.issuer: required/],
    ];
    for (const [text, re] of bad) {
      const f = join(tmp, "bad.yaml");
      writeFileSync(f, text);
      expect(() => configFromArgs(["--config", f])).toThrow(re);
    }
    expect(() => configFromArgs(["--auth", "tokens"])).toThrow(/--token TOKEN=OWNER/);
    expect(() => configFromArgs(["--bogus"])).toThrow(/bogus/);
  });
});

describe("runtime/ is a separate deployable", () => {
  it("imports nothing from stacks/ or scripts/", () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(ts|mjs)$/.test(n)) files.push(p);
      }
    };
    walk(join(ROOT, "runtime"));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) expect(readFileSync(f, "utf8"), f).not.toMatch(/from\s+["'][^"']*\/(stacks|scripts)\//);
  });

  it("npm run build:runtime bundles uws-server.mjs + definitions; it serves with --config", async () => {
    execFileSync(process.execPath, [join(ROOT, "runtime/build/bundle.mjs")], { stdio: "pipe" });
    const dist = join(ROOT, "dist/runtime");
    expect(existsSync(join(dist, "uws-server.mjs"))).toBe(true);
    expect(existsSync(join(dist, "definitions/hello.yaml"))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(dist, "package.json"), "utf8"));
    expect(Object.keys(pkg.dependencies)).toEqual(["better-sqlite3"]);
    const bundle = readFileSync(join(dist, "uws-server.mjs"), "utf8");
    expect(bundle).not.toMatch(/from\s+["']fastify["']/);
    const port = await freePort();
    const tokens = join(tmp, "tokens");
    writeFileSync(tokens, "tk=carol\n", { mode: 0o400 });
    const cfg = join(tmp, "bundle.yaml");
    writeFileSync(cfg, `port: ${port}\ndata: ${join(tmp, "bundle-data")}\nauth: tokens\ntokensFile: ${tokens}\nlogLevel: warn\n`);
    const url = `http://127.0.0.1:${port}`;
    await startProc([join(dist, "uws-server.mjs"), "--config", cfg], url);
    expect(JSON.parse((await http("GET", `${url}/health`)).body)).toMatchObject({ ok: true, executor: "local", version: expect.any(String) });
    const job = await createJob(url, "hello", { name: "bundle", PHASE: "RUN" }, "tk");
    expect(await waitFinal(job, "tk")).toBe("COMPLETED");
    expect((await http("GET", `${job}/results/greeting`, { token: "tk" })).body).toBe("hello bundle\n");
    // The WAL checkpoint worker (source text + better-sqlite3 by path) also runs in the bundle.
    let checkpoints = 0;
    for (let i = 0; i < 30 && checkpoints === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      checkpoints = JSON.parse((await http("GET", `${url}/health`)).body).walCheckpoints;
    }
    expect(checkpoints).toBeGreaterThan(0);
  });

  it("--auth none serves without credentials and warns loudly that it is for development only", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const p = await startProc([join(ROOT, "scripts/run-ts.mjs"), join(ROOT, "runtime/main.ts"), "--auth", "none", "--port", String(port), "--data", join(tmp, "none-data"), "--log-level", "warn"], url);
    expect((await http("GET", `${url}/uws/hello`)).status).toBe(200);
    expect(logs.get(p)!()).toMatch(/AUTH IS DISABLED \(--auth none\).*Development only/);
  });

  it("uws-cluster serve --auth tokens --token a=alice --token b=bob serves /uws/hello and /uws/sleep", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    await startProc([join(ROOT, "scripts/uws-cluster.mjs"), "serve", "--auth", "tokens", "--token", "a=alice", "--token", "b=bob", "--port", String(port), "--data", join(tmp, "serve-data"), "--log-level", "warn"], url);
    expect((await http("GET", `${url}/uws/hello`, { token: "a" })).status).toBe(200);
    expect((await http("GET", `${url}/uws/sleep`, { token: "b" })).status).toBe(200);
    expect((await http("GET", `${url}/uws/hello`)).status).toBe(401);
    const job = await createJob(url, "sleep", { seconds: "0", PHASE: "RUN" }, "b");
    expect(await waitFinal(job, "b")).toBe("COMPLETED");
    expect((await http("GET", job, { token: "a" })).status).toBe(403);
  });
});
