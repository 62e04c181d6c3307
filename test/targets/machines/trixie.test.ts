/**
 * The machines target on Debian 13 (trixie): examples/machines-trixie.yaml (renamed, smaller memory)
 * from nothing through the readiness gate (canary COMPLETED) on booted trixie nodes — its systemd,
 * cloud-init 25, OpenSSH 10 and Slurm 24.11 — by the same cloud path as Debian 12; slurmctld accepts
 * the rendered slurm.conf (no complaint about an option in its log), slurmd waited for its slurm.conf
 * instead of stalling the package installs (Debian 13's unit lost that condition), a user job runs
 * through the HTTPS endpoint, and down leaves nothing.
 *
 * Needs root and the host packages scripts/setup.sh --test installs; the trixie image is built once
 * into /var/cache/uws-cluster beside bookworm's (outside the checkout: CI's fresh clones reuse it).
 */
import { randomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseSpec, resolveCluster } from "../../../stacks/model/index.js";
import { missingHostPackages } from "../../../scripts/targets/machines/index.js";
import { REPO_ROOT } from "../../../scripts/package-root.js";
import { cli } from "../../harness/cli.js";
import { helloJob, leftovers, shell } from "./machines-harness.js";

const root = process.getuid?.() === 0;
const ready = root && missingHostPackages().length === 0;
const home = mkdtempSync(join(tmpdir(), "uwsc-trixie-"));
const env = { ...process.env, UWS_CLUSTER_HOME: home };

/** The shipped example under a name of this run (two runs on one host must not meet). */
function trixieSpec(): { file: string; name: string; cluster: ReturnType<typeof resolveCluster> } {
  const example = join(REPO_ROOT, "examples/machines-trixie.yaml");
  const spec = parseYaml(readFileSync(example, "utf8")) as Record<string, unknown> & { head: { memoryMb: number }; compute: { memoryMb: number } };
  const name = `mtx${randomBytes(2).toString("hex")}`;
  Object.assign(spec, { name });
  spec.head.memoryMb = 1024;
  spec.compute.memoryMb = 1024;
  const file = join(home, `${name}.json`);
  writeFileSync(file, JSON.stringify(spec));
  return { file, name, cluster: resolveCluster(parseSpec(JSON.stringify(spec), file)) };
}

/** Lines of slurmctld's log about its configuration: options it does not know, no longer has, or ignores. */
const CONFIG_COMPLAINT = /fatal|invalid|unknown|unrecognized|deprecated|obsolete|no longer|not supported|ignor|parse/i;

describe.skipIf(!ready && !process.env.CI)("machines target on Debian 13 (trixie)", () => {
  const t = trixieSpec();
  const ssh = (node: string, script: string) => shell(env, ["ssh", `${t.name}-${node}`, "--name", t.name, "--", "sudo", "-n", "sh", "-c", script]);

  beforeAll(async () => {
    if (!ready) throw new Error(`the machines target needs root and ${missingHostPackages().join(" ")}: bash scripts/setup.sh --test`);
    expect(t.cluster.machines.release).toBe("trixie");
    const r = await cli(["image", "build", "--target", "machines", "--release", "trixie", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.at(-1)).toMatchObject({ release: "trixie" });
  }, 1_800_000);

  afterAll(async () => {
    await cli(["down", "--name", t.name, "--json"], env);
    rmSync(home, { recursive: true, force: true });
  }, 300_000);

  let url = "";

  it("up: head + 2 compute trixie nodes from nothing to a COMPLETED canary", async () => {
    const r = await cli(["up", "--spec", t.file, "--json"], env);
    const last = r.json.at(-1)!;
    expect(r.code, r.stdout.slice(-3000) + r.stderr.slice(-2000)).toBe(0);
    expect(last).toMatchObject({ ok: true, url: `https://${t.cluster.head.privateIp}` });
    const steps = (last.timings as { step: string }[]).map((s) => s.step).join("\n");
    for (const s of ["Booting 3 Debian trixie machines", "Reading SSH host keys from the console logs", "Installing the job server on the head", "Running a canary job"]) expect(steps).toContain(s);
    url = last.url as string;
  }, 1_200_000);

  it("the nodes run Debian 13 and its Slurm; slurmctld takes the rendered slurm.conf without a complaint", async () => {
    const head = await ssh("head", ". /etc/os-release; echo $VERSION_CODENAME; slurmctld -V; cloud-init status --long | grep -E '^(status|errors|recoverable_errors):'; echo ---; cat /var/log/slurm/slurmctld.log");
    expect(head.code, head.stderr).toBe(0);
    const [facts = "", log = ""] = head.stdout.split("---\n");
    expect(facts).toMatch(/^trixie\nslurm-wlm (\d+)\.\d+/);
    expect(Number(/slurm-wlm (\d+)/.exec(facts)![1])).toBeGreaterThanOrEqual(24);
    expect(facts).toContain("status: done\nerrors: []\nrecoverable_errors: {}");
    expect(log).toContain("Running as primary controller");
    expect(log.split("\n").filter((l) => CONFIG_COMPLAINT.test(l))).toEqual([]);
  });

  it("slurmd waited for its slurm.conf: no configless search, no start timeout during the package installs", async () => {
    const r = await ssh("compute-1", "systemctl is-active slurmd; journalctl -b -u slurmd --no-pager -o cat");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe("active");
    // The start in its package's install was skipped (systemd says so), the one after the munge key push ran.
    expect(r.stdout).toMatch(/unmet condition check \(?ConditionPathExists=\/etc\/slurm\/slurm\.conf/);
    expect(r.stdout).toContain("Started slurmd");
    expect(r.stdout).not.toMatch(/DNS SRV|timed out|Failed to start/);
  });

  it("a user job through the HTTPS endpoint (the head's self-signed certificate pinned)", async () => {
    const pem = await shell(env, ["ssh", `${t.name}-head`, "--name", t.name, "--", "cat", "/etc/nginx/uws-tls/fullchain.pem"]);
    expect(pem.code, pem.stderr).toBe(0);
    const token = readFileSync(join(home, t.name, "secrets/jobserver.admin-token"), "utf8").trim();
    const job = await helloJob(url, new X509Certificate(pem.stdout).fingerprint256, token, "trixie");
    expect(job.phase).toBe("COMPLETED");
    expect(job.greeting).toContain("hello trixie");
  }, 300_000);

  it("down leaves no process, mount, cgroup, bridge, rule, proxy, folder or state", async () => {
    const r = await cli(["down", "--name", t.name, "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.at(-1)).toMatchObject({ ok: true, removed: true });
    expect(await leftovers(t.cluster, home)).toEqual([]);
  }, 300_000);
});
