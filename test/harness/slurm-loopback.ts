// A real single-node Slurm on loopback for tests: munged, slurmctld and slurmd started directly
// (no systemd) with every file (key, socket, state, spool, logs, pids) in a temp dir and
// non-default ports. stop() kills exactly the processes it started, by PID, and removes the dir.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, hostname, tmpdir } from "node:os";
import { join } from "node:path";

export interface SlurmLoopback {
  env: { SLURM_CONF: string };
  dir: string;
  nodeName: string;
  partition: string;
  /** Kills the slurmd by PID (fault tests). */
  killSlurmd(): void;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

export interface SlurmLoopbackOptions {
  /** CPUs declared for the node (more than the machine has: SlurmdParameters=config_overrides). */
  cpus?: number;
  slurmdTimeout?: number;
}

export async function startSlurmLoopback(opts: SlurmLoopbackOptions = {}): Promise<SlurmLoopback> {
  const dir = mkdtempSync(join(tmpdir(), "slurm-loop-"));
  chmodSync(dir, 0o755);
  const procs: ChildProcess[] = [];
  const pids: number[] = [];
  const nodeName = hostname();
  const partition = "batch";
  const stopAll = async () => {
    for (const pid of pids.reverse()) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        /* gone */
      }
    }
    const end = Date.now() + 5000;
    while (pids.some(alive) && Date.now() < end) await sleep(50);
    for (const pid of pids) {
      try {
        if (alive(pid)) process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const d of ["munge", "state", "spool", "log", "run"]) mkdirSync(join(dir, d), { mode: 0o755 });
    chmodSync(join(dir, "munge"), 0o711);
    const keyFile = join(dir, "munge", "munge.key");
    writeFileSync(keyFile, randomBytes(1024), { mode: 0o400 });
    const socket = join(dir, "munge", "munge.socket");

    // munged forks; its pid file tells the daemon's pid.
    const mungePid = join(dir, "run", "munged.pid");
    execFileSync("/usr/sbin/munged", ["--force", `--socket=${socket}`, `--key-file=${keyFile}`, `--pid-file=${mungePid}`, `--log-file=${join(dir, "log", "munged.log")}`, `--seed-file=${join(dir, "munge", "seed")}`], { stdio: "pipe" });
    pids.push(Number(readFileSync(mungePid, "utf8").trim()));

    const ctldPort = await freePort();
    let slurmdPort = await freePort();
    while (slurmdPort === ctldPort) slurmdPort = await freePort();
    const ncpu = opts.cpus ?? Math.max(2, cpus().length);
    const conf = join(dir, "slurm.conf");
    writeFileSync(
      conf,
      [
        `ClusterName=uwsloop${randomBytes(3).toString("hex")}`,
        `SlurmctldHost=${nodeName}(127.0.0.1)`,
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${slurmdPort}`,
        `SlurmUser=root`,
        `SlurmdUser=root`,
        `AuthType=auth/munge`,
        `CredType=cred/munge`,
        `AuthInfo=socket=${socket}`,
        `StateSaveLocation=${join(dir, "state")}`,
        `SlurmdSpoolDir=${join(dir, "spool")}`,
        `SlurmctldPidFile=${join(dir, "run", "slurmctld.pid")}`,
        `SlurmdPidFile=${join(dir, "run", "slurmd.pid")}`,
        `SlurmctldLogFile=${join(dir, "log", "slurmctld.log")}`,
        `SlurmdLogFile=${join(dir, "log", "slurmd.log")}`,
        `SchedulerType=sched/backfill`,
        `SchedulerParameters=batch_sched_delay=0,sched_min_interval=0`,
        `SelectType=select/cons_tres`,
        `SelectTypeParameters=CR_Core`,
        `ProctrackType=proctrack/linuxproc`,
        `TaskPlugin=task/none`,
        `JobAcctGatherType=jobacct_gather/none`,
        `AccountingStorageType=accounting_storage/none`,
        `JobCompType=jobcomp/filetxt`,
        `JobCompLoc=${join(dir, "log", "jobcomp.txt")}`,
        `MailProg=/bin/true`,
        `MpiDefault=none`,
        `ReturnToService=2`,
        `SlurmdTimeout=${opts.slurmdTimeout ?? 30}`,
        `MinJobAge=60`,
        `SlurmdParameters=config_overrides`,
        `NodeName=${nodeName} NodeAddr=127.0.0.1 CPUs=${ncpu} RealMemory=4096 State=UNKNOWN`,
        `PartitionName=${partition} Nodes=${nodeName} Default=YES MaxTime=INFINITE State=UP`,
        "",
      ].join("\n"),
    );
    const env = { ...process.env, SLURM_CONF: conf };
    const start = (exe: string, args: string[], log: string) => {
      const out = join(dir, "log", log);
      const p = spawn(exe, args, { env, detached: true, stdio: ["ignore", "ignore", "ignore"] });
      p.unref();
      procs.push(p);
      pids.push(p.pid!);
      return out;
    };
    // -D: stay in the foreground so the pid we hold is the daemon's; -i: ignore stale state.
    start("/usr/sbin/slurmctld", ["-D", "-i", "-f", conf], "slurmctld.out");
    start("/usr/sbin/slurmd", ["-D", "-f", conf, "-N", nodeName], "slurmd.out");

    const end = Date.now() + 60_000;
    for (;;) {
      let state = "";
      try {
        state = execFileSync("sinfo", ["-h", "-N", "-o", "%T"], { env, stdio: "pipe" }).toString().trim();
      } catch {
        /* controller not up yet */
      }
      if (/^(idle|mixed|allocated)/.test(state)) break;
      if (Date.now() > end || procs.some((p) => p.exitCode !== null)) {
        const logs = ["slurmctld.log", "slurmd.log", "munged.log"].map((f) => {
          const p = join(dir, "log", f);
          return `--- ${f}\n${existsSync(p) ? readFileSync(p, "utf8").split("\n").slice(-15).join("\n") : "(none)"}`;
        });
        throw new Error(`loopback Slurm did not become idle (node state '${state}')\n${logs.join("\n")}`);
      }
      await sleep(200);
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  return {
    env: { SLURM_CONF: join(dir, "slurm.conf") },
    dir,
    nodeName,
    partition,
    killSlurmd() {
      const p = procs[1];
      if (p?.pid) process.kill(p.pid, "SIGKILL");
    },
    stop: stopAll,
  };
}
