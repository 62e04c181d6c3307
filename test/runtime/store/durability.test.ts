// Durability: the server runs as its own process (runtime/main.ts with a --config file), is killed
// with SIGKILL and restarted on the same data. No job is lost; QUEUED/EXECUTING jobs are
// reconciled with the executor (still running → tracked again; gone → ERROR with a message).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startSlurmLoopback, type SlurmLoopback } from "../../harness/slurm.js";
import { createJob, http, phaseOf, waitFinal } from "../helpers.js";
import { freePort } from "../../harness/ports.js";

const ROOT = resolve(import.meta.dirname, "../../..");


class ServerProcess {
  proc?: ChildProcess;
  url: string;
  constructor(private readonly config: string, readonly port: number, private readonly log: string) {
    this.url = `http://127.0.0.1:${port}`;
  }
  async start(): Promise<void> {
    const out = openSync(this.log, "a");
    this.proc = spawn(process.execPath, [join(ROOT, "scripts/run-ts.mjs"), join(ROOT, "runtime/main.ts"), "--config", this.config, "--port", String(this.port)], { stdio: ["ignore", out, out] });
    const end = Date.now() + 30_000;
    for (;;) {
      try {
        if ((await fetch(`${this.url}/health`)).ok) return;
      } catch {
        /* not yet */
      }
      if (Date.now() > end || this.proc.exitCode !== null) throw new Error(`server did not start:\n${readFileSync(this.log, "utf8").slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  async kill9(): Promise<void> {
    const p = this.proc!;
    if (p.exitCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    process.kill(p.pid!, "SIGKILL");
    await gone;
  }
}

const id = (u: string) => u.split("/").pop()!;
/** The phase once it is no longer QUEUED (WAIT returns at the change). */
async function phaseAfterWait(job: string, token?: string): Promise<string> {
  await http("GET", `${job}?WAIT=30&PHASE=QUEUED`, { token });
  return phaseOf(job, token);
}

describe("durability: kill -9 and restart", () => {
  const dir = mkdtempSync(join(tmpdir(), "uws-durable-"));
  const jobPids: number[] = [];
  let slurm: SlurmLoopback | undefined;
  let srv: ServerProcess | undefined;
  afterAll(async () => {
    if (srv) await srv.kill9().catch(() => {});
    for (const pid of jobPids) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await slurm?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeAll(async () => {
    slurm = await startSlurmLoopback();
  });

  const pidOf = (data: string, jobId: string): number => {
    // Read the executor handle straight from the SQLite file (the server is dead at that moment).
    const Database = require_sqlite();
    const db = new Database(join(data, "uws.sqlite"), { readonly: true });
    const row = db.prepare("SELECT exec_ref FROM jobs WHERE id = ?").get(jobId) as { exec_ref: string };
    db.close();
    return JSON.parse(row.exec_ref).pid;
  };

  it("local executor: running jobs are tracked again, a vanished one becomes ERROR, queued ones run", async () => {
    const data = join(dir, "local");
    const config = join(dir, "local.yaml");
    const tokens = join(dir, "tokens");
    writeFileSync(tokens, "t=tester\n", { mode: 0o400 });
    writeFileSync(config, `data: ${data}\nexecutor: local\nlocal: { concurrency: 2 }\nauth: tokens\ntokensFile: ${tokens}\nlogLevel: warn\n`);
    srv = new ServerProcess(config, await freePort(), join(dir, "local.log"));
    await srv.start();
    const T = "t";
    const pending = await createJob(srv.url, "hello", { name: "pending" }, T);
    const done = await createJob(srv.url, "hello", { name: "done", PHASE: "RUN" }, T);
    expect(await waitFinal(done, T)).toBe("COMPLETED");
    // Long enough to outlive a restart on a busy machine.
    const survivor = await createJob(srv.url, "sleep", { seconds: "10", PHASE: "RUN" }, T);
    const victim = await createJob(srv.url, "sleep", { seconds: "120", PHASE: "RUN" }, T);
    const queued = await createJob(srv.url, "sleep", { seconds: "0", PHASE: "RUN" }, T);
    // Jobs start off the request path (the launcher): QUEUED at the 303, EXECUTING once started.
    expect(await phaseAfterWait(survivor, T)).toBe("EXECUTING");
    expect(await phaseAfterWait(victim, T)).toBe("EXECUTING");
    expect(await phaseOf(queued, T)).toBe("QUEUED");

    await srv.kill9();
    const survivorPid = pidOf(data, id(survivor));
    const victimPid = pidOf(data, id(victim));
    jobPids.push(survivorPid, victimPid);
    // The job outlives the server; the other one dies while the server is down.
    process.kill(-victimPid, "SIGKILL");

    await srv.start();
    const list = (await http("GET", `${srv.url}/uws/sleep`, { token: T })).body + (await http("GET", `${srv.url}/uws/hello`, { token: T })).body;
    for (const j of [pending, done, survivor, victim, queued]) expect(list).toContain(`id="${id(j)}"`);
    expect(await phaseOf(pending, T)).toBe("PENDING");
    expect(await phaseOf(done, T)).toBe("COMPLETED");
    expect((await http("GET", `${done}/results/greeting`, { token: T })).body).toBe("hello done\n");
    expect(await waitFinal(victim, T)).toBe("ERROR");
    expect((await http("GET", `${victim}/error`, { token: T })).body).toMatch(/while the server was down/);
    expect(await phaseOf(survivor, T)).toBe("EXECUTING");
    expect(await waitFinal(survivor, T)).toBe("COMPLETED");
    expect(await waitFinal(queued, T)).toBe("COMPLETED");
    await srv.kill9();
  });

  it("slurm executor: a job running in Slurm is tracked again; one cancelled meanwhile is reported", async () => {
    const data = join(dir, "slurm");
    const config = join(dir, "slurm.yaml");
    writeFileSync(config, `data: ${data}\nexecutor: slurm\nslurm: { partition: batch, slurmConf: ${slurm!.env.SLURM_CONF}, pollMs: 300 }\nlogLevel: warn\n`);
    srv = new ServerProcess(config, await freePort(), join(dir, "slurm.log"));
    await srv.start();
    const running = await createJob(srv.url, "sleep", { seconds: "4", PHASE: "RUN" });
    const cancelled = await createJob(srv.url, "sleep", { seconds: "120", PHASE: "RUN" });
    const forgotten = await createJob(srv.url, "sleep", { seconds: "120", PHASE: "RUN" });
    for (let i = 0; i < 30 && ((await phaseOf(running)) !== "EXECUTING" || (await phaseOf(cancelled)) !== "EXECUTING"); i++) await new Promise((r) => setTimeout(r, 200));
    expect(await phaseOf(running)).toBe("EXECUTING");
    await srv.kill9();
    const Database = require_sqlite();
    const db = new Database(join(data, "uws.sqlite"));
    const refOf = (j: string) => (db.prepare("SELECT exec_ref FROM jobs WHERE id = ?").get(id(j)) as { exec_ref: string }).exec_ref;
    const slurmId = refOf(cancelled);
    // A job Slurm has no record of (its state was wiped): the handle points at an id never issued.
    const forgottenId = refOf(forgotten);
    db.prepare("UPDATE jobs SET exec_ref = '987654' WHERE id = ?").run(id(forgotten));
    db.close();
    const { execFileSync } = await import("node:child_process");
    execFileSync("scancel", [slurmId, forgottenId], { env: { ...process.env, ...slurm!.env } });
    await srv.start();
    expect(await waitFinal(running)).toBe("COMPLETED");
    expect(await waitFinal(cancelled)).toBe("ABORTED");
    expect(await waitFinal(forgotten)).toBe("ERROR");
    expect((await http("GET", `${forgotten}/error`)).body).toMatch(/unknown to squeue, scontrol and sacct/);
    await srv.kill9();
  });
});

function require_sqlite(): typeof import("better-sqlite3") {
  return createRequire(import.meta.url)("better-sqlite3");
}
