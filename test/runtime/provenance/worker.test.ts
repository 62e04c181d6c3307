// The provenance worker thread (runtime/provenance/worker.ts): records made off the event loop are
// there for every job however many finish at once, shutdown stores what is queued, records lost
// to a crash come back at the next start, a request finding the worker busy gets its record from
// the event loop after 2 s, the event loop takes over if the worker dies, and the
// bundled server (dist layout) finds and runs the worker. Real server, real SQLite, real HTTP.
// The jobs that finish by the hundred are PENDING jobs aborted whose input is another job's result:
// recorded when they end (a job that never ran and named no result is recorded when first asked
// for: never-ran.test.ts).
import { afterAll, describe, expect, it } from "vitest";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { createServer } from "../../../runtime/server.js";
import { REBUILT_NOTE } from "../../../runtime/provenance/record.js";
import { createJob, http, waitFinal } from "../helpers.js";
import { freePort } from "../../harness/ports.js";
import { definitionsDir } from "./checks.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const tmp = mkdtempSync(join(tmpdir(), "prov-worker-"));
const defs = definitionsDir();
const procs: ChildProcess[] = [];
afterAll(async () => {
  for (const p of procs)
    if (p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      await gone;
    }
  rmSync(tmp, { recursive: true, force: true });
  rmSync(defs, { recursive: true, force: true });
});

async function serve(data: string) {
  const app = await createServer({ data, definitions: defs, auth: "none", logger: false, sweepMs: 200 });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  return { app, url };
}

/** n PENDING hello jobs (job URLs): never run, their records are made when asked for. */
async function pendingJobs(url: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await createJob(url, "hello", { name: `w${i}` }));
  return out;
}

/**
 * n PENDING consume jobs whose input is the result of a hello job run first: aborted, they are
 * recorded when they end (with the other job's result hashed and the cross-job link).
 */
async function linkedJobs(url: string, n: number): Promise<string[]> {
  const source = await createJob(url, "hello", { name: "source", PHASE: "RUN" });
  expect(await waitFinal(source)).toBe("COMPLETED");
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await createJob(url, "consume", { source: `${source}/results/greeting`, scale: String(i % 10) }));
  return out;
}

const abortAll = (jobs: string[]) => Promise.all(jobs.map((j) => http("POST", `${j}/phase`, { form: { PHASE: "ABORT" } })));

/** Records in provenance.sqlite (read with a separate connection, as after a restart). */
function storedRecords(data: string): Map<string, { notes: string[]; job: { phase: string } }> {
  const db = new Database(join(data, "provenance.sqlite"), { readonly: true });
  try {
    return new Map((db.prepare("SELECT job_id, record FROM provenance").all() as Array<{ job_id: string; record: string }>).map((r) => [r.job_id, JSON.parse(r.record)]));
  } finally {
    db.close();
  }
}

// Hundreds of jobs created one by one over HTTP: minutes on the shared machine under load.
describe("provenance worker", { timeout: 240_000 }, () => {
  it("200 jobs finishing at once: every provenance GET, sent right away, is 200 and the job's own record", async () => {
    const data = join(tmp, "burst");
    const { app, url } = await serve(data);
    try {
      const jobs = await linkedJobs(url, 200);
      const aborted = await abortAll(jobs);
      expect(aborted.every((r) => r.status === 303)).toBe(true);
      // No settle: the records are still in the worker when the requests arrive.
      const got = await Promise.all(jobs.map((j) => http("GET", `${j}/provenance`)));
      expect(got.map((r) => r.status)).toEqual(jobs.map(() => 200));
      got.forEach((r, i) => {
        const doc = JSON.parse(r.body);
        const act = doc.activity[`uws:${jobs[i]!.split("/uws/")[1]}`];
        expect(act, jobs[i]).toBeDefined();
        expect(act["uwsx:phase"]).toBe("ABORTED");
        // Made at completion, not rebuilt on request.
        expect(JSON.stringify(act)).not.toContain(REBUILT_NOTE);
      });
    } finally {
      await app.close();
    }
    const stored = storedRecords(data);
    expect(stored.size).toBe(201);
    expect([...stored.values()].every((r) => r.notes.length === 0)).toBe(true);
  });

  it("shutdown stores every record still queued", async () => {
    const data = join(tmp, "shutdown");
    const { app, url } = await serve(data);
    const jobs = await linkedJobs(url, 100);
    await abortAll(jobs);
    // Closed at once: the worker has most of these records still to make.
    await app.close();
    const stored = storedRecords(data);
    const ids = jobs.map((j) => j.split("/").pop()!);
    expect(ids.filter((id) => !stored.has(id))).toEqual([]);
    expect(ids.every((id) => stored.get(id)!.notes.length === 0 && stored.get(id)!.job.phase === "ABORTED")).toBe(true);
  });

  it("a crash loses no record: the next start rebuilds those of final jobs that have none", async () => {
    const data = join(tmp, "crash");
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const start = () => {
      const p = spawn(process.execPath, [join(ROOT, "scripts/run-ts.mjs"), join(ROOT, "runtime/main.ts"), "--port", String(port), "--data", data, "--definitions", defs, "--auth", "none", "--log-level", "error"], { stdio: "ignore" });
      procs.push(p);
      return p;
    };
    const waitUp = async () => {
      for (let i = 0; ; i++) {
        try {
          if ((await fetch(`${url}/health`)).ok) return;
        } catch {
          /* starting */
        }
        if (i > 300) throw new Error("server did not start");
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const p = start();
    await waitUp();
    const jobs = await linkedJobs(url, 80);
    await abortAll(jobs);
    const gone = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await gone;
    // Stand-in for records the crash kept from being stored whatever the timing: drop some.
    const ids = jobs.map((j) => j.split("/").pop()!);
    const db = new Database(join(data, "provenance.sqlite"));
    db.prepare(`DELETE FROM provenance WHERE job_id IN (${ids.slice(0, 40).map(() => "?").join(",")})`).run(...ids.slice(0, 40));
    db.close();
    const missing = ids.filter((id) => !storedRecords(data).has(id));
    expect(missing.length).toBeGreaterThanOrEqual(40);

    // Restarted in process, to wait for its start-up scan.
    const { app } = await serve(data);
    try {
      expect((await app.uws.provenance!.scanned()).rebuilt).toBe(missing.length);
    } finally {
      await app.close();
    }
    const stored = storedRecords(data);
    expect(ids.filter((id) => !stored.has(id))).toEqual([]);
    for (const id of missing) expect(stored.get(id)!.notes).toContain(REBUILT_NOTE);
  });

  it("a GET that finds the worker busy waits 2 s, then the event loop makes the record: stored, correct, as the worker's", async () => {
    const data = join(tmp, "busy");
    const { app, url } = await serve(data);
    const prov = app.uws.provenance!;
    const recorder = (prov as unknown as { recorder: { pause(): () => void } }).recorder;
    let resume: (() => void) | undefined;
    try {
      await prov.scanned();
      // Held before the job ends (the recorder's pause: the thread blocks as a busy one would).
      resume = recorder.pause();
      const job = await createJob(url, "hello", { name: "busy", PHASE: "RUN" });
      await waitFinal(job);
      const id = job.split("/").pop()!;
      expect(prov.db.get(id)).toBeUndefined();
      const t = performance.now();
      const first = await http("GET", `${job}/provenance`);
      const waited = performance.now() - t;
      expect(first.status).toBe(200);
      expect(waited).toBeGreaterThanOrEqual(1900);
      expect(waited).toBeLessThan(15_000);
      // Stored while the worker is still held: the event loop made and stored it.
      const stored = JSON.parse(prov.db.get(id)!);
      expect(stored.complete).toBe(true);
      expect(stored.notes).toEqual([]);
      expect(stored.job.phase).toBe("COMPLETED");
      const file = readFileSync(join(app.uws.service.jobDir(id), "greeting.txt"));
      expect(stored.generated).toEqual([expect.objectContaining({ id: "greeting", size: file.length, sha256: createHash("sha256").update(file).digest("hex") })]);
      const act = JSON.parse(first.body).activity[`uws:hello/${id}`];
      expect(act["uwsx:phase"]).toBe("COMPLETED");
      // Released: the worker makes its own record of the job (gc goes through its queue after it);
      // the document served then is the same.
      resume();
      resume = undefined;
      await prov.gc();
      expect((await http("GET", `${job}/provenance`)).body).toBe(first.body);
    } finally {
      resume?.();
      await app.close();
    }
  });

  it("if the worker dies, jobs it held and later ones are recorded on the event loop", async () => {
    const data = join(tmp, "died");
    const { app, url } = await serve(data);
    try {
      const prov = app.uws.provenance!;
      const before = await linkedJobs(url, 30);
      await abortAll(before);
      // Killed with records queued (a stand-in for a crash of the thread alone).
      await (prov as unknown as { recorder: { worker: { terminate(): Promise<number> } } }).recorder.worker.terminate();
      const after = [...(await linkedJobs(url, 15)), ...(await pendingJobs(url, 15))];
      await abortAll(after);
      for (const j of [...before, ...after]) {
        const r = await http("GET", `${j}/provenance`);
        expect(r.status, j).toBe(200);
        expect(JSON.parse(r.body).activity[`uws:${j.split("/uws/")[1]}`]["uwsx:phase"]).toBe("ABORTED");
      }
    } finally {
      await app.close();
    }
  });

  it("the bundled server (dist layout) starts its worker from provenance-worker.mjs", async () => {
    const out = join(tmp, "dist");
    execFileSync(process.execPath, [join(ROOT, "runtime/build/bundle.mjs"), out], { stdio: "pipe" });
    expect(existsSync(join(out, "provenance-worker.mjs"))).toBe(true);
    // better-sqlite3 stays external: the bundle finds it as an installed dependency would be.
    symlinkSync(join(ROOT, "node_modules"), join(out, "node_modules"));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const data = join(tmp, "dist-data");
    const p = spawn(process.execPath, [join(out, "uws-server.mjs"), "--port", String(port), "--data", data, "--auth", "none", "--log-level", "warn"], { stdio: ["ignore", "pipe", "pipe"] });
    procs.push(p);
    let log = "";
    p.stdout!.on("data", (d) => (log += d));
    p.stderr!.on("data", (d) => (log += d));
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/health`)).ok) break;
      } catch {
        /* starting */
      }
      if (i > 300 || p.exitCode !== null) throw new Error(`did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const jobs = await pendingJobs(url, 20);
    await abortAll(jobs);
    for (const j of jobs) expect((await http("GET", `${j}/provenance`)).status).toBe(200);
    const gone = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    await gone;
    // Made by the worker (no fallback to the event loop was logged), stored at completion.
    expect(log).not.toMatch(/worker thread stopped|no worker thread/);
    const stored = storedRecords(data);
    expect(jobs.every((j) => stored.get(j.split("/").pop()!)?.notes.length === 0)).toBe(true);
  });
});
