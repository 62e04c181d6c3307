// How the Slurm executor learns of a job's end as it happens, against a real single-node Slurm on
// loopback: the exit file appearing in the watched work dir, the job's own callback where no watch
// is possible, a server restarted after the job ended. Polls are a minute apart in these servers,
// so only a hint can end a job within the tests' waits; and a hint never sets a phase by itself:
// Slurm is asked, and a forged callback or exit file leaves a running job EXECUTING.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSlurmLoopback, type SlurmLoopback } from "../../harness/slurm.js";
import { jobSecret } from "../../../runtime/auth/callback.js";
import { createServer } from "../../../runtime/server.js";
import { eventsSeeRemoteWrites, SlurmExecutor } from "../../../runtime/executors/slurm.js";
import { ScontrolSession } from "../../../runtime/executors/scontrol-session.js";
import type { ExecUpdate } from "../../../runtime/executors/executor.js";
import { freePorts } from "../../harness/ports.js";
import { createJob, http, phaseOf, startServer, waitFinal, type Running } from "../helpers.js";

const SLOW = { pollMs: 60_000, minPollMs: 60_000 };
let slurm: SlurmLoopback;
beforeAll(async () => {
  slurm = await startSlurmLoopback({ cpus: 4 });
});
afterAll(async () => {
  await slurm?.stop();
});

const slurmEnv = () => ({ ...process.env, ...slurm.env });
const slurmJob = (slurmId: string) => execFileSync("scontrol", ["show", "job", "-o", slurmId], { env: slurmEnv() }).toString();
const idOf = (job: string) => job.split("/").pop()!;

/** A server whose polls are a minute apart; its executor's callbacks are counted. */
async function slowServer(opts: { watchWorkDirs?: boolean; data?: string } = {}) {
  const s = await startServer({ executor: "slurm", slurm: { partition: slurm.partition, slurmConf: slurm.env.SLURM_CONF, ...SLOW }, auth: "tokens", tokens: ["a=alice"], ...(opts.data ? { data: opts.data } : {}) });
  const service = s.app.uws.service;
  if (opts.watchWorkDirs === false) {
    await service.executor.close();
    service.setExecutor(new SlurmExecutor(service.onExecUpdate, { partition: slurm.partition, slurmConf: slurm.env.SLURM_CONF, ...SLOW, watchWorkDirs: false }));
  }
  const callbacks: string[] = [];
  const ex = service.executor;
  const poke = ex.poke!.bind(ex);
  ex.poke = (id: string) => {
    callbacks.push(id);
    poke(id);
  };
  return Object.assign(s, { callbacks });
}

/** The job's Slurm times agree with its document's (whole seconds, never before creation). */
async function expectSlurmTimes(s: Running, job: string) {
  const doc = (await http("GET", job, { token: "a" })).body;
  const sc = slurmJob(s.app.uws.service.db.get(idOf(job))!.execRef!);
  expect(sc).toMatch(/JobState=COMPLETED/);
  const created = Date.parse(/<uws:creationTime>([^<]+)</.exec(doc)![1]!);
  const start = Date.parse(/<uws:startTime>([^<]+)</.exec(doc)![1]!);
  const end = Date.parse(/<uws:endTime>([^<]+)</.exec(doc)![1]!);
  expect(Math.abs(end - new Date(/EndTime=(\S+)/.exec(sc)![1]!).getTime())).toBeLessThan(1000);
  expect(Math.abs(start - Math.max(created, new Date(/StartTime=(\S+)/.exec(sc)![1]!).getTime()))).toBeLessThan(1000);
}

async function untilExecuting(job: string) {
  for (let i = 0; i < 60 && (await phaseOf(job, "a")) !== "EXECUTING"; i++) await new Promise((r) => setTimeout(r, 250));
  expect(await phaseOf(job, "a")).toBe("EXECUTING");
}

describe("slurm executor: a job's end learnt as it happens", () => {
  it("from the exit file in the watched work dir: COMPLETED with Slurm's times, and the job made no callback", async () => {
    const s = await slowServer();
    try {
      const job = await createJob(s.url, "hello", { name: "watched", PHASE: "RUN" }, "a");
      expect(await waitFinal(job, "a", 20)).toBe("COMPLETED");
      expect((await http("GET", `${job}/results/greeting`, { token: "a" })).body).toBe("hello watched\n");
      await expectSlurmTimes(s, job);
      expect(s.callbacks).toEqual([]);
    } finally {
      await s.stop();
    }
  });

  it("from the job's callback where the work dir is not watched", async () => {
    const s = await slowServer({ watchWorkDirs: false });
    try {
      const job = await createJob(s.url, "hello", { name: "calling", PHASE: "RUN" }, "a");
      expect(await waitFinal(job, "a", 20)).toBe("COMPLETED");
      await expectSlurmTimes(s, job);
      expect(s.callbacks).toEqual([idOf(job)]);
    } finally {
      await s.stop();
    }
  });

  it("a forged callback is refused; a real one, or a forged exit file, does not end a job Slurm still runs", async () => {
    const s = await slowServer();
    try {
      const job = await createJob(s.url, "sleep", { seconds: "120", PHASE: "RUN" }, "a");
      const id = idOf(job);
      const slurmId = s.app.uws.service.db.get(id)!.execRef!;
      for (let i = 0; i < 60 && !/JobState=RUNNING/.test(slurmJob(slurmId)); i++) await new Promise((r) => setTimeout(r, 250));
      const cb = `${s.url}/callback/jobs/${id}`;
      const key = s.app.uws.callbackKey;
      expect((await http("POST", cb)).status).toBe(403);
      expect((await http("POST", cb, { token: "a" })).status).toBe(403);
      expect((await http("POST", cb, { token: jobSecret(key, "someotherjob") })).status).toBe(403);
      expect(s.callbacks).toEqual([]);
      expect((await http("POST", cb, { token: jobSecret(key, id) })).status).toBe(204);
      expect(s.callbacks).toEqual([id]);
      // The hint made the executor ask Slurm, which says RUNNING: EXECUTING, with Slurm's start time.
      await untilExecuting(job);
      writeFileSync(join(s.app.uws.service.jobDir(id), ".uws-exit"), "0\n");
      await new Promise((r) => setTimeout(r, 1500));
      expect(await phaseOf(job, "a")).toBe("EXECUTING");
      expect(slurmJob(slurmId)).toMatch(/JobState=RUNNING/);
      expect((await http("POST", `${job}/phase`, { form: { PHASE: "ABORT" }, token: "a" })).status).toBe(303);
    } finally {
      await s.stop();
    }
  });

  it("after a restart: a job that ended while the server was down is reported from its exit file at once", async () => {
    const first = await slowServer();
    const data = join(first.dir, "data");
    const job = await createJob(first.url, "hello", { name: "restart", PHASE: "RUN" }, "a");
    const id = idOf(job);
    const slurmId = first.app.uws.service.db.get(id)!.execRef!;
    await first.app.close(); // keeps the data dir; the job goes on in Slurm
    try {
      for (let i = 0; i < 120 && !/JobState=COMPLETED/.test(slurmJob(slurmId)); i++) await new Promise((r) => setTimeout(r, 250));
      expect(slurmJob(slurmId)).toMatch(/JobState=COMPLETED/);
      const app = await createServer({ data, logger: false, executor: "slurm", slurm: { partition: slurm.partition, slurmConf: slurm.env.SLURM_CONF, ...SLOW }, auth: "tokens", tokens: ["a=alice"] });
      const url = await app.listen({ host: "127.0.0.1", port: 0 });
      try {
        const again = `${url}/uws/hello/${id}`;
        expect(await waitFinal(again, "a", 20)).toBe("COMPLETED");
        expect((await http("GET", `${again}/results/greeting`, { token: "a" })).body).toBe("hello restart\n");
      } finally {
        await app.close();
      }
    } finally {
      rmSync(first.dir, { recursive: true, force: true });
    }
  });
});

describe("slurm executor when slurmctld does not answer", () => {
  /** An executor tracking Slurm job `slurmId` (never issued) through `conf`; its updates. */
  async function tracking(conf: string, slurmId: string, ms: number): Promise<ExecUpdate[]> {
    const dir = mkdtempSync(join(tmpdir(), "uws-slurm-unreachable-"));
    const updates: ExecUpdate[] = [];
    const ex = new SlurmExecutor((_id, u) => updates.push(u), { slurmConf: conf, pollMs: 200, minPollMs: 50 });
    try {
      await ex.reattach("tracked", slurmId, dir, () => {
        throw new Error("a job with a Slurm id is never submitted again");
      });
      for (let t = 0; t < ms && updates.length === 0; t += 100) await new Promise((r) => setTimeout(r, 100));
      return updates;
    } finally {
      await ex.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("declares no job lost while slurmctld is unreachable; the same job is reported once it answers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "uws-slurm-conf-"));
    try {
      const [closed] = await freePorts(1);
      const conf = join(dir, "slurm.conf");
      writeFileSync(conf, readFileSync(slurm.env.SLURM_CONF, "utf8").replace(/^SlurmctldPort=\d+$/m, `SlurmctldPort=${closed}`));
      // scontrol retries an unreachable slurmctld for ~18 s: the session gives up on its question
      // after 5 s and the poll falls back to squeue, which fails too; nothing is reported meanwhile.
      expect(await tracking(conf, "424242", 7000)).toEqual([]);
      const known = await tracking(slurm.env.SLURM_CONF, "424242", 15_000);
      expect(known[0]).toMatchObject({ phase: "ERROR", message: expect.stringMatching(/424242 is unknown to squeue, scontrol and sacct/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("which work dirs are watched", () => {
  it("a local file system is (its events see every write); a path whose file system cannot be told is not", () => {
    expect(eventsSeeRemoteWrites(slurm.dir)).toBe(true);
    expect(eventsSeeRemoteWrites(join(slurm.dir, "no-such-dir"))).toBe(false);
  });
});

describe("scontrol session (one long-lived scontrol for single-job questions)", () => {
  it("answers show job, empty for a job Slurm does not know, refuses anything but digits, and starts again when its process dies", async () => {
    const session = new ScontrolSession(slurmEnv());
    try {
      const slurmId = execFileSync("sbatch", ["--parsable", `--partition=${slurm.partition}`, "--output=/dev/null", "--chdir=/tmp", "--wrap", "true"], { env: slurmEnv() }).toString().trim();
      const out = await session.showJob(slurmId);
      expect(out).toMatch(new RegExp(`^JobId=${slurmId} .*JobState=\\S+`));
      expect(out).not.toMatch(/scontrol:/);
      expect(await session.showJob("987654")).toBe("");
      expect(await session.showJob("1\nshutdown")).toBeUndefined();
      const pid = session.pid!;
      process.kill(pid, "SIGKILL");
      for (let i = 0; i < 40 && session.pid === pid; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await session.showJob(slurmId)).toMatch(new RegExp(`^JobId=${slurmId} `));
      expect(session.pid).not.toBe(pid);
    } finally {
      session.close();
    }
  });
});
