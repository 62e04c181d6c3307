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
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseSpec, resolveCluster, type Cluster } from "../../../stacks/model/index.js";
import { isMounted } from "../../../stacks/machines/index.js";
import { missingHostPackages } from "../../../scripts/targets/machines/index.js";
import { cli } from "../../harness/cli.js";
import { helloJob, https, leftovers as hostLeftovers, shell as cliProcess } from "./machines-harness.js";

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

const shell = (args: string[], timeoutMs?: number) => cliProcess(env, args, timeoutMs);
const leftovers = (c: Cluster) => hostLeftovers(c, home);

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
    const job = await helloJob(url, pin, token, "machines");
    expect(job.location.startsWith(`${url}/uws/hello/`)).toBe(true);
    expect(job.phase).toBe("COMPLETED");
    expect(job.greeting).toContain("hello machines");
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
