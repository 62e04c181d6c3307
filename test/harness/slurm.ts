/**
 * Real Slurm and munge for tests, configured by the files the product ships: slurm.conf (and
 * cgroup.conf where the product renders one) come from templates/slurm/ through the project's
 * renderer (the file rows of scripts/render/files.ts, the view of scripts/render/views.ts) for a
 * resolved model (stacks/model). Only what a loopback host needs is overridden, in the view, never
 * in the text:
 *
 *   SlurmctldHost=localhost     this host's name is not the head's; slurmctld accepts "localhost"
 *   SlurmctldPort, SlurmdPort   free ports, so it runs beside a system Slurm or another test's
 *   SlurmUser=root              the temporary state folder is root's (the product runs as `slurm`)
 *   AuthInfo=socket=…           a private munged with its own key, not the host's
 *   StateSaveLocation, SlurmdSpoolDir, Slurm(ctld|d)PidFile, Slurm(ctld|d)LogFile, JobCompLoc
 *                               every path in the test's temporary folder
 *   NodeAddr=127.0.0.N          the model's addresses are on a cluster subnet that does not exist here
 *
 * LOOPBACK_KEYS lists exactly these keys (the template test proves nothing else differs).
 * startSlurmLoopback() runs a single-node cluster (munged, slurmctld, slurmd) until its node is
 * idle: the model is a `target: local` cluster with one compute node, so the node gets the local
 * target's settings (proctrack/linuxproc, task/none, config_overrides for the declared CPUs).
 * Every daemon runs in the foreground and is stopped by its recorded PID.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { resolveCluster, validateSpec, type Cluster } from "../../stacks/model/index.js";
import { templates } from "../../scripts/render/engine.js";
import { FILE_ROWS } from "../../scripts/render/files.js";
import { addressBook, slurmView } from "../../scripts/render/views.js";
import { assertAlive, logTail, startDaemon, stopDaemons, type Daemon } from "./daemons.js";
import { tempDir } from "./files.js";
import { freePorts } from "./ports.js";
import { FIXED } from "./specs.js";
import { waitFor } from "./wait.js";

/** The slurm.conf keys the loopback variant sets differently from the shipped file (NodeAddr aside). */
export const LOOPBACK_KEYS = [
  "SlurmctldHost", "SlurmctldPort", "SlurmdPort", "SlurmUser", "AuthInfo", "StateSaveLocation", "SlurmdSpoolDir",
  "SlurmctldPidFile", "SlurmdPidFile", "SlurmctldLogFile", "SlurmdLogFile", "JobCompLoc",
];

export interface LoopbackConf {
  dir: string;
  /** dir/slurm.conf; cgroup.conf beside it when the product renders one for this cluster. */
  conf: string;
  /** The rendered slurm.conf. */
  text: string;
  /** `SLURM_CONF` for the Slurm clients. */
  env: NodeJS.ProcessEnv;
  logs: { slurmctld: string; slurmd: string };
}

/** Loopback address of the i-th compute node: 127.0.0.1 for the first. */
function loopbackAddr(i: number): string {
  const n = i + 1;
  return `127.0.${Math.floor(n / 256)}.${n % 256}`;
}

/**
 * Renders the cluster's Slurm files into `dir` with the loopback overrides. `extra` is appended to
 * slurm.conf (tests that need a broken file).
 */
export async function renderLoopbackSlurm(cluster: Cluster, dir: string, opts: { mungeSocket: string; extra?: string }): Promise<LoopbackConf> {
  for (const d of ["state", "spool", "log"]) mkdirSync(join(dir, d), { recursive: true });
  const [ctldPort, slurmdPort] = await freePorts(2);
  const logs = { slurmctld: join(dir, "log", "slurmctld.log"), slurmd: join(dir, "log", "slurmd.log") };
  const rows = FILE_ROWS.filter((r) => r.concern === "slurm" && r.targets.includes(cluster.target) && r.roles.includes("head") && (!r.when || r.when(cluster)));
  let text = "";
  for (const row of rows) {
    if (row.view !== slurmView) throw new Error(`${row.template}: the Slurm harness knows only slurmView's fields`);
    const view = slurmView(cluster, cluster.head, addressBook(cluster));
    const rendered = templates().render(row.template, {
      ...view,
      controller: { name: "localhost", addr: null },
      ports: { slurmctld: ctldPort!, slurmd: slurmdPort! },
      slurmUser: "root",
      authInfo: `socket=${opts.mungeSocket}`,
      paths: {
        ...view.paths,
        stateSave: join(dir, "state"), slurmdSpool: join(dir, "spool"), slurmctldPid: join(dir, "slurmctld.pid"), slurmdPid: join(dir, "slurmd.pid"),
        logDir: join(dir, "log"), slurmctldLog: logs.slurmctld, slurmdLog: logs.slurmd, jobComp: join(dir, "log", "jobcomp.log"),
      },
      computes: view.computes.map((n, i) => ({ ...n, addr: loopbackAddr(i) })),
    });
    const name = basename(row.path(cluster));
    if (name === "slurm.conf") text = rendered + (opts.extra ?? "");
    writeFileSync(join(dir, name), name === "slurm.conf" ? text : rendered);
  }
  const conf = join(dir, "slurm.conf");
  return { dir, conf, text, env: { ...process.env, SLURM_CONF: conf }, logs };
}

/** munged in the foreground with its own key, socket, log and seed under dir/munge. */
export async function startMunged(dir: string): Promise<Daemon & { socket: string }> {
  const d = join(dir, "munge");
  mkdirSync(d, { recursive: true });
  chmodSync(d, 0o711); // munged wants its socket directory searchable by all
  writeFileSync(join(d, "munge.key"), randomBytes(1024), { mode: 0o600 });
  const socket = join(d, "munge.socket");
  const daemon = startDaemon("munged", ["munged", "--foreground", "--force", `--socket=${socket}`, `--key-file=${join(d, "munge.key")}`,
    `--log-file=${join(d, "munged.log")}`, `--pid-file=${join(d, "munged.pid")}`, `--seed-file=${join(d, "munged.seed")}`], { log: join(d, "munged.out") });
  try {
    await waitFor(() => spawnSync("munge", ["-n", `--socket=${socket}`]).status === 0 || (assertAlive(daemon, [join(d, "munged.log")]), false),
      { timeoutMs: 10_000, what: () => `munged to answer on ${socket}${logTail(join(d, "munged.log"))}` });
  } catch (e) {
    await daemon.stop();
    throw e;
  }
  return Object.assign(daemon, { socket });
}

/** slurmctld in the foreground on the rendered conf; resolves once `scontrol ping` answers. */
export async function startSlurmctld(c: LoopbackConf): Promise<Daemon> {
  const d = startDaemon("slurmctld", ["slurmctld", "-D", "-i", "-f", c.conf], { env: c.env, log: join(c.dir, "log", "slurmctld.out") });
  try {
    await waitFor(() => spawnSync("scontrol", ["ping"], { env: c.env, encoding: "utf8" }).stdout.includes("is UP") || (assertAlive(d, [c.logs.slurmctld]), false),
      { timeoutMs: 30_000, what: () => `slurmctld to answer scontrol ping${logTail(c.logs.slurmctld)}` });
  } catch (e) {
    await d.stop();
    throw e;
  }
  return d;
}

/** slurmd for one node of the conf, in the foreground (it registers by itself). */
export function startSlurmd(c: LoopbackConf, nodeName: string): Daemon {
  return startDaemon("slurmd", ["slurmd", "-D", "-f", c.conf, "-N", nodeName], { env: c.env, log: join(c.dir, "log", "slurmd.out") });
}

export function scontrol(c: LoopbackConf, args: string[]): string {
  const r = spawnSync("scontrol", args, { env: c.env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`scontrol ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

export interface SlurmLoopback {
  /** `SLURM_CONF` for the Slurm clients and the job server's Slurm executor. */
  env: { SLURM_CONF: string };
  dir: string;
  cluster: Cluster;
  nodeName: string;
  partition: string;
  daemons: { munged: Daemon; slurmctld: Daemon; slurmd: Daemon };
  /** Stops every daemon by its PID and removes the folder. */
  stop(): Promise<void>;
}

export interface SlurmLoopbackOptions {
  /** CPUs the node declares (may exceed the machine's: the local target's config_overrides). Default 2. */
  cpus?: number;
  memoryMb?: number;
}

/** The single-node local cluster the loopback Slurm runs. */
export function loopbackCluster(opts: SlurmLoopbackOptions = {}): Cluster {
  const node = { cpus: opts.cpus ?? 2, memoryMb: opts.memoryMb ?? 4096 };
  return resolveCluster(validateSpec({ name: "loopback", target: "local", head: node, compute: { count: 1, ...node } }), FIXED);
}

/** A real single-node Slurm on loopback, its node idle. */
export async function startSlurmLoopback(opts: SlurmLoopbackOptions = {}): Promise<SlurmLoopback> {
  const cluster = loopbackCluster(opts);
  const dir = tempDir("slurm-loop");
  chmodSync(dir, 0o755);
  const started: Daemon[] = [];
  const stop = async () => {
    await stopDaemons(started);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const munged = await startMunged(dir);
    started.push(munged);
    const c = await renderLoopbackSlurm(cluster, dir, { mungeSocket: munged.socket });
    const slurmctld = await startSlurmctld(c);
    started.push(slurmctld);
    const nodeName = cluster.computes[0]!.name;
    const slurmd = startSlurmd(c, nodeName);
    started.push(slurmd);
    let state = "";
    await waitFor(() => {
      for (const d of started) assertAlive(d, [c.logs.slurmctld, c.logs.slurmd]);
      state = execFileSync("sinfo", ["-h", "-N", "-n", nodeName, "-o", "%T"], { env: c.env, encoding: "utf8" }).trim();
      return /^(idle|mixed|allocated)/.test(state);
    }, { timeoutMs: 60_000, intervalMs: 200, what: () => `node ${nodeName} to be idle (it is '${state}')${logTail(c.logs.slurmctld, 15)}${logTail(c.logs.slurmd, 15)}` });
    return { env: { SLURM_CONF: c.conf }, dir, cluster, nodeName, partition: cluster.slurm.partition, daemons: { munged, slurmctld, slurmd }, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
