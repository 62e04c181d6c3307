/**
 * The machines target end to end: booted Debian nodes (systemd-nspawn --boot, systemd as PID 1,
 * cloud-init from the rendered user-data in a NoCloud seed) configured by the OpenStack target's own
 * path (host keys from the console, SSH through the head, cloud-init's verdict, the job server
 * install, systemd services, nginx with TLS, the readiness gate). One cluster lifecycle — head + 2
 * compute from nothing to a COMPLETED canary, a user job through HTTPS (nginx's self-signed
 * certificate pinned), ssh to a compute node through the head, status, a compute node's reboot,
 * down leaving nothing — and a one-node cluster whose user-data asks for a package Debian does not
 * have, which `up` must report with the end of the node's cloud-init log.
 *
 * Needs root and the host packages scripts/setup.sh --test installs; the node image is built once
 * into /var/cache/uws-cluster (outside the checkout: CI's fresh clones reuse it).
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseSpec, resolveCluster, type Cluster } from "../../../stacks/model/index.js";
import { isolationRule, hasRule, isMounted, proxyDir } from "../../../stacks/machines/index.js";
import { missingHostPackages } from "../../../scripts/targets/machines/index.js";
import { REPO_ROOT } from "../../../scripts/package-root.js";
import { cli } from "../../harness/cli.js";

/** Set by the cloud-init failure case: the head's user-data also asks for this (absent) package. */
const inject = vi.hoisted(() => ({ badPackage: "" }));
vi.mock("../../../scripts/render/index.js", async (importOriginal) => {
  const m = await importOriginal<typeof import("../../../scripts/render/index.js")>();
  return {
    ...m,
    renderCluster: (...a: Parameters<typeof m.renderCluster>) => m.renderCluster(...a).map((b) =>
      inject.badPackage && b.node.role === "head" ? { ...b, userData: b.userData.replace("packages:\n", `packages:\n  - ${inject.badPackage}\n`) } : b),
  };
});

const root = process.getuid?.() === 0;
const ready = root && missingHostPackages().length === 0;
const home = mkdtempSync(join(tmpdir(), "uwsc-machines-"));
const env = { ...process.env, UWS_CLUSTER_HOME: home };
const tag = randomBytes(2).toString("hex");

function specFile(name: string, computes: number): { file: string; cluster: Cluster } {
  const spec = { name, target: "machines", head: { cpus: 1, memoryMb: 1024 }, compute: { count: computes, cpus: 1, memoryMb: 1024 }, jobserver: { auth: "tokens" } };
  const file = join(home, `${name}.json`);
  writeFileSync(file, JSON.stringify(spec));
  return { file, cluster: resolveCluster(parseSpec(JSON.stringify(spec), file)) };
}

/** The CLI as a user runs it (a separate process: `ssh` hands its terminal to the system ssh client). */
function shell(args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(REPO_ROOT, "scripts/uws-cluster.mjs"), args, { env, timeout: timeoutMs, encoding: "utf8" }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** What a machines cluster may leave on this host, looked up from the system itself. */
async function leftovers(c: Cluster): Promise<string[]> {
  const m = c.machines;
  const out: string[] = [];
  if (existsSync(`/sys/class/net/${m.bridge}`)) out.push(`bridge ${m.bridge}`);
  if (await hasRule(isolationRule(m.bridge))) out.push("iptables rule");
  for (const l of readFileSync("/proc/self/mounts", "utf8").split("\n")) if (l.includes(m.root)) out.push(`mount ${l.split(" ")[1]}`);
  for (const cg of ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"].map((r) => join(r, "uws-cluster-machines"))) {
    if (existsSync(cg)) for (const e of readdirSync(cg)) if (e.startsWith(m.machinePrefix)) out.push(`cgroup ${cg}/${e}`);
  }
  for (const p of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    let cmd = "";
    try { cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " "); } catch { continue; }
    if (cmd.includes(m.root) || cmd.includes(`--machine=${m.machinePrefix}`) || cmd.includes(proxyDir(c))) out.push(`process ${p} ${cmd.slice(0, 100)}`);
  }
  if (existsSync(m.root)) out.push(`folder ${m.root}`);
  if (existsSync(join(home, c.name))) out.push(`state ${join(home, c.name)}`);
  return out;
}

/** One HTTPS exchange with the head's nginx, trusting exactly the certificate read from the head (pinned by its SHA-256). */
function https(url: string, pin: string, token: string, method = "GET", body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method, rejectUnauthorized: false, timeout: 60_000,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}) },
    }, (res) => {
      const cert = (res.socket as import("node:tls").TLSSocket).getPeerCertificate();
      if (cert.fingerprint256 !== pin) { reject(new Error(`certificate ${cert.fingerprint256} is not the pinned ${pin}`)); res.destroy(); return; }
      let text = "";
      res.setEncoding("utf8").on("data", (d) => (text += d)).on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe.skipIf(!ready && !process.env.CI)("machines target: booted Debian nodes through the cloud path", () => {
  const main = specFile(`mt${tag}`, 2);
  const broken = specFile(`mtbad${tag}`, 0);

  beforeAll(async () => {
    if (!ready) throw new Error(`the machines target needs root and ${missingHostPackages().join(" ")}: bash scripts/setup.sh --test`);
    const r = await cli(["image", "build", "--target", "machines", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
  }, 1_800_000);

  afterAll(async () => {
    for (const c of [main.cluster, broken.cluster]) await cli(["down", "--name", c.name, "--json"], env);
    rmSync(home, { recursive: true, force: true });
  }, 300_000);

  it("cloud-init failure: a package Debian does not have makes up fail, naming the node and the end of its log", async () => {
    inject.badPackage = "uws-no-such-package";
    try {
      const r = await cli(["up", "--spec", broken.file, "--json"], env);
      expect(r.code).not.toBe(0);
      const last = r.json.at(-1)!;
      const msg = JSON.stringify(last);
      expect(msg).toContain(`${broken.cluster.name}-head`);
      expect(msg).toMatch(/cloud-init failed/);
      expect(msg).toContain("end of /var/log/cloud-init-output.log");
      // apt's own line, or what its failure led to (node setup finds no Slurm), from the log's tail
      expect(msg).toMatch(/uws-no-such-package|Slurm \(not found\)/);
    } finally {
      inject.badPackage = "";
    }
    const d = await cli(["down", "--name", broken.cluster.name, "--json"], env);
    expect(d.code, d.stderr).toBe(0);
    expect(await leftovers(broken.cluster)).toEqual([]);
  }, 900_000);

  let url = "";
  let token = "";
  let pin = "";

  it("up: head + 2 compute from nothing to a COMPLETED canary, through the OpenStack target's path", async () => {
    const r = await cli(["up", "--spec", main.file, "--json"], env);
    const last = r.json.at(-1)!;
    expect(r.code, r.stdout.slice(-3000) + r.stderr.slice(-2000)).toBe(0);
    expect(last).toMatchObject({ ok: true, url: `https://${main.cluster.head.privateIp}` });
    const steps = (last.timings as { step: string }[]).map((t) => t.step).join("\n");
    for (const s of ["Reading SSH host keys from the console logs", "Waiting for cloud-init to finish on every node", "Installing the job server on the head", "Running a canary job"]) expect(steps).toContain(s);
    url = last.url as string;
    token = readFileSync(join(home, main.cluster.name, "secrets/jobserver.admin-token"), "utf8").trim();
  }, 1_200_000);

  it("ssh reaches a compute node through the head (host keys as read from the console), as the image's default user", async () => {
    const r = await shell(["ssh", `${main.cluster.name}-compute-1`, "--name", main.cluster.name, "--", "sh", "-c", "echo $(hostname) $(id -un) $(systemctl is-system-running || true) $(sudo -n systemctl is-active slurmd munge | tr '\\n' ' ')"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(new RegExp(`^${main.cluster.name}-compute-1 debian (running|degraded) active active`));
  });

  it("a user job through the HTTPS endpoint (nginx, the head's self-signed certificate pinned)", async () => {
    const pem = await shell(["ssh", `${main.cluster.name}-head`, "--name", main.cluster.name, "--", "cat", "/etc/nginx/uws-tls/fullchain.pem"]);
    expect(pem.code, pem.stderr).toBe(0);
    pin = new X509Certificate(pem.stdout).fingerprint256;
    const created = await https(`${url}/uws/hello`, pin, token, "POST", "name=machines&PHASE=RUN");
    expect(created.status).toBe(303);
    const job = String(created.headers.location);
    expect(job.startsWith(`${url}/uws/hello/`)).toBe(true);
    let phase = "";
    for (let i = 0; i < 60 && !["COMPLETED", "ERROR", "ABORTED"].includes(phase); i++) {
      phase = (await https(`${job}/phase`, pin, token)).body.trim();
      if (!["COMPLETED", "ERROR", "ABORTED"].includes(phase)) await https(`${job}?WAIT=10&PHASE=${phase}`, pin, token);
    }
    expect(phase).toBe("COMPLETED");
    expect((await https(`${job}/results/greeting`, pin, token)).body).toContain("hello machines");
    // A client that does not pin the certificate is refused.
    await expect(https(`${url}/health`, createHash("sha256").update("other").digest("hex"), token)).rejects.toThrow(/not the pinned/);
  }, 300_000);

  it("status: every node up, Slurm compute nodes idle", async () => {
    const r = await cli(["status", "--name", main.cluster.name, "--json"], env);
    expect(r.code, r.stdout).toBe(0);
    const s = r.json.at(-1) as { nodes: { name: string; running: boolean; slurm: string | null }[] };
    expect(s.nodes.every((n) => n.running)).toBe(true);
    expect(s.nodes.filter((n) => n.slurm !== null).map((n) => n.slurm)).toEqual(["idle", "idle"]);
  });

  it("a compute node reboots: systemd brings munge and slurmd back, Slurm has it idle again", async () => {
    const node = `${main.cluster.name}-compute-2`;
    const boot = async () => (await shell(["ssh", node, "--name", main.cluster.name, "--", "cat", "/proc/sys/kernel/random/boot_id"], 30_000)).stdout.trim();
    const before = await boot();
    expect(before).toMatch(/^[0-9a-f-]{36}$/);
    await shell(["ssh", node, "--name", main.cluster.name, "--", "sudo", "-n", "systemctl", "reboot"], 30_000);
    let after = "";
    let states = "";
    const t0 = Date.now();
    while (Date.now() - t0 < 240_000) {
      after = await boot().catch(() => "");
      if (after && after !== before) {
        states = (await shell(["ssh", `${main.cluster.name}-head`, "--name", main.cluster.name, "--", "sinfo", "-h", "-N", "-n", node, "-o", "%T"], 30_000)).stdout.trim();
        if (states === "idle") break;
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
    expect(after).not.toBe(before);
    expect(states).toBe("idle");
    const active = await shell(["ssh", node, "--name", main.cluster.name, "--", "systemctl", "is-active", "munge", "slurmd"]);
    expect(active.stdout.split("\n").filter(Boolean)).toEqual(["active", "active"]);
  }, 300_000);

  it("down leaves no process, mount, cgroup, bridge, rule, proxy, folder or state; a second down is a no-op", async () => {
    const r = await cli(["down", "--name", main.cluster.name, "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.at(-1)).toMatchObject({ ok: true, removed: true });
    expect(await leftovers(main.cluster)).toEqual([]);
    expect(isMounted(join(main.cluster.machines.root, "nodes"))).toBe(false);
    const again = await cli(["down", "--name", main.cluster.name, "--json"], env);
    expect(again.code).toBe(0);
    expect(again.json.at(-1)).toMatchObject({ ok: true, removed: false });
  }, 300_000);
});
