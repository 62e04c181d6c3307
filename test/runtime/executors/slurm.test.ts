// The Slurm executor against a real single-node Slurm on loopback (munged, slurmctld, slurmd
// started by the harness): batch script in the work dir, sbatch/squeue/scontrol/sacct/scancel,
// state mapping, abort, overrun, failures, and values that never reach a shell.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startSlurmLoopback, type SlurmLoopback } from "../../harness/slurm.js";
import { mapSlurmState } from "../../../runtime/executors/slurm.js";
import { createJob, http, phaseOf, startServer, waitFinal, xsdErrors, type Running } from "../helpers.js";

let slurm: SlurmLoopback;
let s: Running;
beforeAll(async () => {
  slurm = await startSlurmLoopback({ cpus: 8 });
  s = await startServer({ executor: "slurm", slurm: { partition: slurm.partition, slurmConf: slurm.env.SLURM_CONF, pollMs: 300 }, auth: "tokens", tokens: ["a=alice"] });
});
afterAll(async () => {
  await s?.stop();
  await slurm?.stop();
});

const squeueState = (slurmId: string) =>
  execFileSync("scontrol", ["show", "job", "-o", slurmId], { env: { ...process.env, ...slurm.env } }).toString().match(/JobState=(\S+)/)?.[1];
const slurmIdOf = (job: string) => s.app.uws.service.db.get(job.split("/").pop()!)!.execRef!;

describe("slurm executor (real Slurm on loopback)", () => {
  it("runs hello through sbatch; the batch script lives in the job's work dir", async () => {
    const job = await createJob(s.url, "hello", { name: "slurm", PHASE: "RUN" }, "a");
    expect(await waitFinal(job, "a")).toBe("COMPLETED");
    expect((await http("GET", `${job}/results/greeting`, { token: "a" })).body).toBe("hello slurm\n");
    const dir = s.app.uws.service.jobDir(job.split("/").pop()!);
    expect(existsSync(join(dir, ".uws-batch.sh"))).toBe(true);
    expect(slurmIdOf(job)).toMatch(/^\d+$/);
    expect(squeueState(slurmIdOf(job))).toBe("COMPLETED");
    expect(await xsdErrors((await http("GET", job, { token: "a" })).body)).toEqual([]);
  });

  it("node-info reports the Slurm node name", async () => {
    const job = await createJob(s.url, "node-info", { PHASE: "RUN" }, "a");
    expect(await waitFinal(job, "a")).toBe("COMPLETED");
    expect((await http("GET", `${job}/results/node`, { token: "a" })).body.trim()).toBe(slurm.nodeName);
  });

  it("goes QUEUED → EXECUTING and ABORT runs scancel", async () => {
    const job = await createJob(s.url, "sleep", { seconds: "120", PHASE: "RUN" }, "a");
    for (let i = 0; i < 20 && (await phaseOf(job, "a")) !== "EXECUTING"; i++) await http("GET", `${job}?WAIT=2`, { token: "a" });
    expect(await phaseOf(job, "a")).toBe("EXECUTING");
    expect(squeueState(slurmIdOf(job))).toBe("RUNNING");
    expect((await http("POST", `${job}/phase`, { form: { PHASE: "ABORT" }, token: "a" })).status).toBe(303);
    expect(await phaseOf(job, "a")).toBe("ABORTED");
    for (let i = 0; i < 30 && squeueState(slurmIdOf(job)) !== "CANCELLED"; i++) await new Promise((r) => setTimeout(r, 200));
    expect(squeueState(slurmIdOf(job))).toBe("CANCELLED");
  });

  it("execution duration overrun aborts the Slurm job", async () => {
    const job = await createJob(s.url, "sleep", { seconds: "120", EXECUTIONDURATION: "2", PHASE: "RUN" }, "a");
    expect(await waitFinal(job, "a", 30)).toBe("ABORTED");
    for (let i = 0; i < 30 && squeueState(slurmIdOf(job)) !== "CANCELLED"; i++) await new Promise((r) => setTimeout(r, 200));
    expect(squeueState(slurmIdOf(job))).toBe("CANCELLED");
  });

  it("a failing command ends in ERROR with a message; scancel outside the server ends in ABORTED", async () => {
    const job = await createJob(s.url, "hello", { name: "x" }, "a");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(join(s.app.uws.service.jobDir(job.split("/").pop()!), "greeting.txt"), { recursive: true });
    await http("POST", `${job}/phase`, { form: { PHASE: "RUN" }, token: "a" });
    expect(await waitFinal(job, "a")).toBe("ERROR");
    const doc = (await http("GET", job, { token: "a" })).body;
    expect(doc).toMatch(/<uws:message>[^<]*(exit|FAILED)[^<]*<\/uws:message>/);
    expect(await xsdErrors(doc)).toEqual([]);

    const other = await createJob(s.url, "sleep", { seconds: "120", PHASE: "RUN" }, "a");
    for (let i = 0; i < 20 && !/^\d+$/.test(s.app.uws.service.db.get(other.split("/").pop()!)!.execRef ?? ""); i++) await new Promise((r) => setTimeout(r, 100));
    execFileSync("scancel", [slurmIdOf(other)], { env: { ...process.env, ...slurm.env } });
    expect(await waitFinal(other, "a")).toBe("ABORTED");
  });

  it("PHASE=RUN on a HELD job lifts the hold (scontrol release); the job then runs", async () => {
    const scontrol = (...args: string[]) => execFileSync("scontrol", args, { env: { ...process.env, ...slurm.env } }).toString();
    // The partition is down while the job is queued, so it stays PENDING long enough to be held.
    scontrol("update", `PartitionName=${slurm.partition}`, "State=DOWN");
    try {
      const job = await createJob(s.url, "hello", { name: "held", PHASE: "RUN" }, "a");
      for (let i = 0; i < 50 && !/^\d+$/.test(s.app.uws.service.db.get(job.split("/").pop()!)!.execRef ?? ""); i++) await new Promise((r) => setTimeout(r, 100));
      scontrol("hold", slurmIdOf(job));
      for (let i = 0; i < 50 && (await phaseOf(job, "a")) !== "HELD"; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await phaseOf(job, "a")).toBe("HELD");
      expect(await xsdErrors((await http("GET", job, { token: "a" })).body)).toEqual([]);
      scontrol("update", `PartitionName=${slurm.partition}`, "State=UP");
      // Held: Slurm does not start it on its own.
      await new Promise((r) => setTimeout(r, 1000));
      expect(await phaseOf(job, "a")).toBe("HELD");
      const r = await http("POST", `${job}/phase`, { form: { PHASE: "RUN" }, token: "a" });
      expect(r.status, r.body).toBe(303);
      expect((await http("GET", r.headers.get("location")!, { token: "a" })).status).toBe(200);
      for (let i = 0; i < 50 && (await phaseOf(job, "a")) === "HELD"; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await waitFinal(job, "a")).toBe("COMPLETED");
      expect((await http("GET", `${job}/results/greeting`, { token: "a" })).body).toBe("hello held\n");
    } finally {
      scontrol("update", `PartitionName=${slurm.partition}`, "State=UP");
    }
  });

  it("a job that went QUEUED → COMPLETED between two polls gets its start and end times from Slurm's accounting", async () => {
    // Polls 20 s apart: the server learns of the job only from its end-of-job callback (which makes
    // it poll once), so it never sees the job running.
    const slow = await startServer({
      executor: "slurm",
      slurm: { partition: slurm.partition, slurmConf: slurm.env.SLURM_CONF, pollMs: 20_000, minPollMs: 20_000 },
      auth: "tokens",
      tokens: ["a=alice"],
    });
    try {
      const job = await createJob(slow.url, "hello", { name: "quick", PHASE: "RUN" }, "a");
      const slurmId = slow.app.uws.service.db.get(job.split("/").pop()!)!.execRef!;
      expect(await waitFinal(job, "a")).toBe("COMPLETED");
      const doc = (await http("GET", job, { token: "a" })).body;
      expect(doc).not.toMatch(/startTime xsi:nil/);
      const start = Date.parse(/<uws:startTime>([^<]+)</.exec(doc)![1]!);
      const end = Date.parse(/<uws:endTime>([^<]+)</.exec(doc)![1]!);
      const created = Date.parse(/<uws:creationTime>([^<]+)</.exec(doc)![1]!);
      expect(start).toBeLessThanOrEqual(end);
      expect(start).toBeGreaterThanOrEqual(created);
      // The times are Slurm's (whole seconds, its local time), not when the server noticed.
      const sc = execFileSync("scontrol", ["show", "job", "-o", slurmId], { env: { ...process.env, ...slurm.env } }).toString();
      const slurmStart = new Date(/StartTime=(\S+)/.exec(sc)![1]!).getTime();
      const slurmEnd = new Date(/EndTime=(\S+)/.exec(sc)![1]!).getTime();
      expect(Math.abs(end - slurmEnd)).toBeLessThan(1000);
      expect(Math.abs(start - Math.max(slurmStart, created))).toBeLessThan(1000);
      expect(await xsdErrors(doc)).toEqual([]);
    } finally {
      await slow.stop();
    }
  });

  it("an overrun gives its reason: ABORTED with an errorSummary and /error naming the execution duration", async () => {
    const job = await createJob(s.url, "sleep", { seconds: "60", EXECUTIONDURATION: "1", PHASE: "RUN" }, "a");
    expect(await waitFinal(job, "a")).toBe("ABORTED");
    const doc = (await http("GET", job, { token: "a" })).body;
    expect(doc).toMatch(/<uws:errorSummary type="transient" hasDetail="true"><uws:message>execution duration of 1 s exceeded/);
    expect(await xsdErrors(doc)).toEqual([]);
    expect((await http("GET", `${job}/error`, { token: "a" })).body).toMatch(/execution duration of 1 s exceeded/);
  });

  it("values with shell syntax reach the job as plain argv through sbatch", async () => {
    const marker = join(s.dir, "pwned-slurm");
    const evil = `$(touch ${marker}); \`touch ${marker}\` ' " ; touch ${marker}\nx`;
    const job = await createJob(s.url, "hello", { name: evil, PHASE: "RUN" }, "a");
    expect(await waitFinal(job, "a")).toBe("COMPLETED");
    expect((await http("GET", `${job}/results/greeting`, { token: "a" })).body).toBe(`hello ${evil}\n`);
    expect(existsSync(marker)).toBe(false);
    const script = readFileSync(join(s.app.uws.service.jobDir(job.split("/").pop()!), ".uws-batch.sh"), "utf8");
    expect(script).not.toContain("touch");
  });
});

describe("Slurm state mapping", () => {
  it("maps Slurm states to UWS phases, failures to ERROR with a message", () => {
    expect(mapSlurmState("PENDING").phase).toBe("QUEUED");
    expect(mapSlurmState("PENDING", "JobHeldUser").phase).toBe("HELD");
    expect(mapSlurmState("RUNNING").phase).toBe("EXECUTING");
    expect(mapSlurmState("COMPLETING").phase).toBe("EXECUTING");
    expect(mapSlurmState("SUSPENDED").phase).toBe("SUSPENDED");
    expect(mapSlurmState("COMPLETED").phase).toBe("COMPLETED");
    expect(mapSlurmState("CANCELLED by 0").phase).toBe("ABORTED");
    for (const st of ["TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "FAILED"]) {
      const u = mapSlurmState(st, "", "1:0");
      expect(u.phase).toBe("ERROR");
      expect(u.message).toContain(st);
    }
  });
});
