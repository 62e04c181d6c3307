/**
 * Slurm power saving as rendered for an elastic cluster, checked by the real slurmctld (22.05 on
 * Debian 12) on loopback through the Slurm harness: the settings are accepted, nodes above min are
 * CLOUD and powered down, and Slurm's contract with the programs holds — a job powers a node up, a
 * node whose resume fails is DOWN with the reason (sinfo -R) and the job runs on another node, an
 * idle node is suspended. The programs are the shipped ones (SLURM_CONF added for the loopback
 * conf); a stand-in agent on loopback starts slurmd -b per node and stops it by its recorded PID.
 * The 23.11/24.05 variants are checked as text (this machine has 22.05 only).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveCluster, validateSpec, type Cluster } from "../../stacks/model/index.js";
import { renderCluster } from "../../scripts/render/index.js";
import { templates } from "../../scripts/render/engine.js";
import { addressBook, powerView } from "../../scripts/render/views.js";
import { renderLoopbackSlurm, scontrol, startMunged, startSlurmctld } from "../harness/slurm.js";
import { startDaemon, stopDaemons, type Daemon } from "../harness/daemons.js";
import { tempDir } from "../harness/files.js";
import { waitFor } from "../harness/wait.js";
import { FIXED } from "../harness/specs.js";

const root = tempDir("power");
const running: Daemon[] = [];
afterAll(async () => {
  await stopDaemons(running.splice(0));
  if (!process.env.UWSC_KEEP_LOGS) rmSync(root, { recursive: true, force: true });
});

const elastic = (compute: Record<string, unknown>, name = "t-power"): Cluster =>
  resolveCluster(validateSpec({ name, target: "local", head: { cpus: 1, memoryMb: 512 }, compute: { cpus: 1, memoryMb: 512, ...compute } }), FIXED);
const confOf = (c: Cluster, slurmVersion?: string) =>
  renderCluster(c, slurmVersion ? { slurmVersion } : {})[0]!.files.find((f) => f.path === "/etc/slurm/slurm.conf")!.content as string;

describe("slurm.conf power saving (text)", () => {
  it("22.05: CLOUD nodes above min, programs, times, NoAddrCache + cloud_reg_addrs, PrivateData=cloud, no max_powered_nodes", () => {
    const text = confOf(elastic({ min: 1, max: 3, idle: "5s", resumeTimeout: "30s" }));
    expect(text).toMatch(/^NodeName=t-power-compute-1 .*State=UNKNOWN$/m);
    expect(text).toMatch(/^NodeName=t-power-compute-2 .*State=CLOUD$/m);
    expect(text).toMatch(/^NodeName=t-power-compute-3 .*State=CLOUD$/m);
    for (const line of ["ResumeProgram=/usr/local/sbin/uws-power-resume", "SuspendProgram=/usr/local/sbin/uws-power-suspend",
      "ResumeFailProgram=/usr/local/sbin/uws-power-resume-fail", "PrologSlurmctld=/usr/local/sbin/uws-power-prolog", "SuspendTime=5", "ResumeTimeout=30", "SuspendExcNodes=t-power-compute-1",
      "TreeWidth=50", "ReturnToService=2", "CommunicationParameters=NoAddrCache", "SlurmctldParameters=idle_on_node_suspend,cloud_reg_addrs", "PrivateData=cloud"]) {
      expect(text.split("\n")).toContain(line);
    }
    expect(text).not.toContain("max_powered_nodes");
  });

  it("23.11 drops NoAddrCache and cloud_reg_addrs; 24.05 adds max_powered_nodes and drops PrivateData=cloud", () => {
    const c = elastic({ min: 0, max: 3 });
    const t2311 = confOf(c, "23.11.4");
    expect(t2311).not.toMatch(/NoAddrCache|cloud_reg_addrs|max_powered_nodes/);
    expect(t2311).toContain("PrivateData=cloud");
    const t2411 = confOf(c, "24.11.5");
    expect(t2411.split("\n")).toContain("SlurmctldParameters=idle_on_node_suspend,max_powered_nodes=3");
    expect(t2411).not.toContain("PrivateData");
  });

  it("a fixed cluster gets no power saving and no programs", () => {
    const c = elastic({ count: 2 });
    expect(confOf(c)).not.toMatch(/ResumeProgram|SuspendTime|State=CLOUD/);
    expect(renderCluster(c)[0]!.files.some((f) => f.path.includes("uws-power"))).toBe(false);
    const files = renderCluster(elastic({ min: 0, max: 2 }))[0]!.files.filter((f) => f.path.includes("uws-power"));
    expect(files.map((f) => [f.path, f.mode])).toEqual([
      ["/usr/local/sbin/uws-power-resume", "0755"], ["/usr/local/sbin/uws-power-suspend", "0755"], ["/usr/local/sbin/uws-power-resume-fail", "0755"],
      ["/usr/local/sbin/uws-power-prolog", "0755"],
      ["/etc/slurm/uws-power.token", "0400"]]);
  });
});

describe("the shipped power programs with the real slurmctld", () => {
  it("accepts the settings; resume powers a node up and its job starts once the node is up, a failed resume leaves the node DOWN with its reason and the job runs elsewhere, idle nodes are suspended", async () => {
    const c = elastic({ min: 0, max: 2, idle: "3s", resumeTimeout: "20s" });
    const dir = join(root, "run");
    const munge = await startMunged(dir);
    running.push(munge);
    // The agent stands in for the local helper: slurmd -b on loopback per node, recorded by PID.
    const failing = c.computes[0]!.name;
    const token = "test-token";
    const calls: string[] = [];
    const pids = new Map<string, number>();
    const agent = createServer((req, res) => {
      let body = "";
      req.on("data", (b) => (body += b));
      req.on("end", () => {
        if (req.headers.authorization !== `Bearer ${token}`) { res.writeHead(401).end("no"); return; }
        const lines = body.split("\n").map((l) => l.trim().split(/\s+/)).filter((l) => l[0]);
        calls.push(`${req.url} ${lines.map((l) => l.join(" ")).join(",")}`);
        const out = lines.map(([n, id]) => {
          if (req.url === "/resume") {
            if (n === failing) return `${n} failed injected for the test`;
            const d = startDaemon(`slurmd-${n}`, ["/usr/sbin/slurmd", "-D", "-b", "-f", join(dir, "slurm.conf"), "-N", n!], { log: join(dir, `slurmd-${n}.log`) });
            running.push(d);
            pids.set(n!, d.pid);
            return `${n} ok pid=${d.pid}`;
          }
          const d = running.find((x) => `pid=${x.pid}` === id);
          if (d) void d.stop();
          return `${n} ok ${d ? "stopped" : "already gone"}`;
        });
        res.writeHead(200, { "content-type": "text/plain" }).end(out.join("\n") + "\n");
      });
    });
    await new Promise<void>((r) => agent.listen(0, "127.0.0.1", r));
    const port = (agent.address() as AddressInfo).port;
    try {
      writeFileSync(join(dir, "token"), token, { mode: 0o600 });
      const view = { clusterName: c.name, power: { ...powerView(c, addressBook(c))!, agentUrl: `http://127.0.0.1:${port}`, tokenFile: join(dir, "token"), records: join(dir, "records"),
        logs: { resume: join(dir, "resume.log"), suspend: join(dir, "suspend.log"), resumeFail: join(dir, "resume-fail.log") } } };
      // The shipped text; only SLURM_CONF is added (a node's Slurm clients read /etc/slurm/slurm.conf).
      const prog = (template: string) => {
        const p = join(dir, template);
        writeFileSync(p, templates().render(`slurm/power/${template}.sh`, view).replace("\n", `\nexport SLURM_CONF=${join(dir, "slurm.conf")}\n`), { mode: 0o755 });
        return p;
      };
      const programs = { resume: prog("resume"), suspend: prog("suspend"), resumeFail: prog("resume-fail"), prolog: prog("prolog") };
      const conf = await renderLoopbackSlurm(c, dir, { mungeSocket: munge.socket,
        extra: `ResumeProgram=${programs.resume}\nSuspendProgram=${programs.suspend}\nResumeFailProgram=${programs.resumeFail}\nPrologSlurmctld=${programs.prolog}\n` });
      running.push(await startSlurmctld(conf));
      const log = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8") : "");

      const config = scontrol(conf, ["show", "config"]);
      expect(config).toMatch(/SuspendTime\s+= 3 sec/);
      expect(config).toMatch(/ResumeTimeout\s+= 20 sec/);
      expect(config).toMatch(/TreeWidth\s+= 50/);
      expect(config).toMatch(/SlurmctldParameters\s+= idle_on_node_suspend,cloud_reg_addrs/);
      expect(config).toMatch(/CommunicationParameters\s+= NoAddrCache/);
      const state = (n: string) => execFileSync("sinfo", ["-h", "-N", "-n", n, "-o", "%T"], { env: conf.env, encoding: "utf8" }).trim();
      for (const n of c.computes) expect(state(n.name)).toBe("idle~"); // CLOUD, powered down

      const job = execFileSync("sbatch", ["--parsable", "-N1", "-o", "/dev/null", "--wrap", "sleep 1"], { env: conf.env, encoding: "utf8" }).trim();
      const other = c.computes[1]!.name;
      const jobState = () => spawnSync("scontrol", ["show", "job", job, "--oneliner"], { env: conf.env, encoding: "utf8" }).stdout;
      // Well within slurmctld's 30 s periodic pass: the prolog lets the job start once its node is up.
      await waitFor(() => /JobState=COMPLETED/.test(jobState()), { timeoutMs: 90_000, intervalMs: 250, what: () => `job ${job} to complete: ${jobState()}\n${log("resume.log")}` });
      expect(jobState()).toContain(`NodeList=${other} `);
      expect(state(failing)).toMatch(/^down/);
      expect(execFileSync("sinfo", ["-h", "-R", "-o", "%n|%E"], { env: conf.env, encoding: "utf8" })).toContain(`${failing}|resume failed: injected for the test`);
      expect(log("resume.log")).toMatch(new RegExp(`${other} created: pid=${pids.get(other)}`));
      expect(readFileSync(join(dir, "records", other), "utf8").trim()).toBe(`pid=${pids.get(other)}`);
      // Idle for SuspendTime: the suspend program asks the agent to remove the node by its record.
      await waitFor(() => state(other) === "idle~", { timeoutMs: 90_000, intervalMs: 250, what: () => `${other} to be suspended (it is ${state(other)})` });
      await waitFor(() => !existsSync(join(dir, "records", other)), { timeoutMs: 30_000, what: "the suspend program to drop the node's record" });
      expect(calls).toContain(`/suspend ${other} pid=${pids.get(other)}`);
      // After ResumeTimeout Slurm declares the failed node's resume failed; it stays DOWN with the program's reason.
      await waitFor(() => log("resume-fail.log").includes(failing), { timeoutMs: 90_000, intervalMs: 250, what: "ResumeFailProgram to run for the failed node" });
      const reasons = () => execFileSync("sinfo", ["-h", "-R", "-o", "%n|%E"], { env: conf.env, encoding: "utf8" });
      await waitFor(() => reasons().includes(`${failing}|resume failed: injected for the test`), { timeoutMs: 60_000, intervalMs: 250, what: () => `the resume program's reason back after ResumeTimeout: ${reasons()}` });
      expect(state(failing)).toMatch(/^down/);
      // The job was requeued by the program, never failed: one restart, exit 0.
      expect(jobState()).toMatch(/Restarts=1 .*ExitCode=0:0/);
    } finally {
      agent.close();
    }
  }, 420_000);
});
