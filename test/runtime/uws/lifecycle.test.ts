// The UWS 1.1 surface over real HTTP with the local executor: status codes, 303 targets, filters,
// WAIT, execution duration, destruction, uploads, and XSD validity of every document kind.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createJob, http, phaseOf, startServer, waitFinal, xsdErrors, type Running } from "../helpers.js";

let s: Running;
beforeAll(async () => {
  s = await startServer({ auth: "none", local: { concurrency: 4 }, maxWait: 20 });
});
afterAll(async () => s?.stop());

function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

const valid = async (xml: string) => expect(await xsdErrors(xml)).toEqual([]);

describe("UWS job lifecycle (local executor)", () => {
  it("health answers without auth", async () => {
    const r = await http("GET", `${s.url}/health`);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ ok: true, executor: "local" });
  });

  it("GET /uws describes the definitions", async () => {
    const r = await http("GET", `${s.url}/uws`);
    const names = JSON.parse(r.body).definitions.map((d: any) => d.name);
    expect(names).toEqual(expect.arrayContaining(["hello", "sleep", "node-info"]));
  });

  it("creates PENDING, runs, completes hello with its greeting result; every 303 target answers 2xx", async () => {
    const r = await http("POST", `${s.url}/uws/hello`, { form: { NAME: "Ada Lovelace" } });
    expect(r.status).toBe(303);
    const job = r.headers.get("location")!;
    expect(job).toMatch(new RegExp(`^${s.url}/uws/hello/[a-z0-9]+$`));
    expect((await http("GET", job)).status).toBe(200);
    expect(await phaseOf(job)).toBe("PENDING");
    const doc = (await http("GET", job)).body;
    await valid(doc);
    expect(doc).toContain('<uws:parameter id="name">Ada Lovelace</uws:parameter>');
    expect(doc).toContain('<uws:startTime xsi:nil="true"/>');

    const run = await http("POST", `${job}/phase`, { form: { phase: "RUN" } });
    expect(run.status).toBe(303);
    expect(run.headers.get("location")).toBe(job);
    expect(await waitFinal(job)).toBe("COMPLETED");
    const done = (await http("GET", job)).body;
    await valid(done);
    const results = await http("GET", `${job}/results`);
    await valid(results.body);
    const href = /xlink:href="([^"]+)"/.exec(results.body)![1]!;
    expect(href).toBe(`${job}/results/greeting`);
    expect(results.body).toContain('mime-type="text/plain"');
    const g = await http("GET", href);
    expect(g.status).toBe(200);
    expect(g.headers.get("content-type")).toContain("text/plain");
    expect(g.body).toBe("hello Ada Lovelace\n");
    expect(results.body).toContain(`size="${Buffer.byteLength(g.body)}"`);
    expect((await http("GET", `${job}/error`)).status).toBe(404);
    await valid((await http("GET", `${job}/parameters`)).body);
    expect((await http("GET", `${job}/parameters/NAME`)).body).toBe("Ada Lovelace");
    expect((await http("GET", `${job}/owner`)).body).toBe("");
    expect((await http("GET", `${job}/quote`)).body).toBe("");
    expect((await http("GET", `${job}/destruction`)).body).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // Illegal for the state: RUN on COMPLETED, parameters after PENDING.
    expect((await http("POST", `${job}/phase`, { form: { PHASE: "RUN" } })).status).toBe(403);
    expect((await http("POST", `${job}/parameters`, { form: { name: "x" } })).status).toBe(403);
    expect((await http("POST", `${job}/phase`, { form: { PHASE: "ABORT" } })).status).toBe(403);
    // Delete: 303 to the list, which answers 200; the job is gone.
    const del = await http("POST", job, { form: { action: "DELETE" } });
    expect(del.status).toBe(303);
    expect(del.headers.get("location")).toBe(`${s.url}/uws/hello`);
    expect((await http("GET", del.headers.get("location")!)).status).toBe(200);
    expect((await http("GET", job)).status).toBe(404);
  });

  it("PHASE=RUN in the creating POST starts the job; the default parameter applies", async () => {
    const job = await createJob(s.url, "hello", { PHASE: "RUN" });
    expect(await waitFinal(job)).toBe("COMPLETED");
    expect((await http("GET", `${job}/results/greeting`)).body).toBe("hello world\n");
    expect((await http("DELETE", job)).status).toBe(303);
  });

  it("answers 400 with a message naming the parameter and the rule", async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ seconds: "abc" }, /seconds.*integer/],
      [{ seconds: "5000" }, /seconds.*≤ 3600/],
      [{ seconds: "-1" }, /seconds.*≥ 0/],
      [{}, /seconds.*required/],
      [{ seconds: "1", bogus: "1" }, /unknown parameter 'bogus'/],
      [{ seconds: "1", PHASE: "FLY" }, /PHASE/],
      [{ seconds: "1", DESTRUCTION: "tomorrow" }, /DESTRUCTION/],
      [{ seconds: "1", EXECUTIONDURATION: "-5" }, /EXECUTIONDURATION/],
    ];
    for (const [form, re] of cases) {
      const r = await http("POST", `${s.url}/uws/sleep`, { form });
      expect(r.status, JSON.stringify(form)).toBe(400);
      expect(r.body).toMatch(re);
    }
    expect((await http("POST", `${s.url}/uws/hello`, { form: { name: "a\u0001b" } })).status).toBe(400);
  });

  it("answers 404 for unknown definitions, jobs and results; 400 for bad filters and WAIT", async () => {
    expect((await http("GET", `${s.url}/uws/nope`)).status).toBe(404);
    expect((await http("GET", `${s.url}/uws/hello/nosuchjob`)).status).toBe(404);
    expect((await http("GET", `${s.url}/uws/hello/nosuchjob/phase`)).status).toBe(404);
    const job = await createJob(s.url, "hello");
    expect((await http("GET", `${job}/results/nothing`)).status).toBe(404);
    expect((await http("GET", `${job}/parameters/nothing`)).status).toBe(404);
    // A job exists under one definition only.
    expect((await http("GET", job.replace("/uws/hello/", "/uws/sleep/"))).status).toBe(404);
    expect((await http("GET", `${s.url}/uws/hello?PHASE=NOPE`)).status).toBe(400);
    expect((await http("GET", `${s.url}/uws/hello?AFTER=yesterday`)).status).toBe(400);
    expect((await http("GET", `${s.url}/uws/hello?LAST=-2`)).status).toBe(400);
    expect((await http("GET", `${s.url}/uws/hello?LAST=x`)).status).toBe(400);
    expect((await http("GET", `${job}?WAIT=soon`)).status).toBe(400);
    expect((await http("POST", `${job}/phase`, { form: { PHASE: "PAUSE" } })).status).toBe(400);
    expect((await http("POST", job, { form: { ACTION: "EXPLODE" } })).status).toBe(400);
    expect((await http("POST", `${job}/executionduration`, { form: { EXECUTIONDURATION: "ten" } })).status).toBe(400);
    expect((await http("POST", `${job}/destruction`, { form: { DESTRUCTION: "2030-13-45T00:00:00Z" } })).status).toBe(400);
    await http("DELETE", job);
  });

  it("updates parameters, execution duration and destruction while PENDING (303 each)", async () => {
    const job = await createJob(s.url, "sleep", { seconds: "1" });
    let r = await http("POST", `${job}/parameters`, { form: { SECONDS: "2" } });
    expect(r.status).toBe(303);
    expect((await http("GET", `${job}/parameters/seconds`)).body).toBe("2");
    expect((await http("POST", `${job}/parameters`, { form: { seconds: "99999" } })).status).toBe(400);
    r = await http("POST", `${job}/executionduration`, { form: { executionDuration: "30" } });
    expect(r.status).toBe(303);
    expect((await http("GET", r.headers.get("location")!)).status).toBe(200);
    expect((await http("GET", `${job}/executionduration`)).body).toBe("30");
    // 0 (unlimited) is clamped to the definition's maximum.
    await http("POST", `${job}/executionduration`, { form: { EXECUTIONDURATION: "0" } });
    expect((await http("GET", `${job}/executionduration`)).body).toBe("3700");
    // pyvo sends six fractional digits.
    r = await http("POST", `${job}/destruction`, { form: { DESTRUCTION: "2031-02-03T04:05:06.123456Z" } });
    expect(r.status).toBe(303);
    const d = (await http("GET", `${job}/destruction`)).body;
    // Clamped to the server's longest lifetime (30 days).
    expect(Date.parse(d)).toBeLessThanOrEqual(Date.now() + 30 * 86400_000 + 5000);
    await http("DELETE", job);
  });

  it("filters: PHASE (repeatable, union), AFTER (strict), LAST (newest first), combined", async () => {
    const def = "sleep";
    const a = await createJob(s.url, def, { seconds: "0" });
    await new Promise((r) => setTimeout(r, 5));
    const b = await createJob(s.url, def, { seconds: "0", PHASE: "RUN" });
    await new Promise((r) => setTimeout(r, 5));
    const c = await createJob(s.url, def, { seconds: "60" });
    await http("POST", `${c}/phase`, { form: { PHASE: "ABORT" } });
    expect(await waitFinal(b)).toBe("COMPLETED");
    const id = (u: string) => u.split("/").pop()!;
    const ids = (xml: string) => [...xml.matchAll(/<uws:jobref id="([^"]+)"/g)].map((m) => m[1]);

    let r = await http("GET", `${s.url}/uws/${def}`);
    await valid(r.body);
    expect(ids(r.body)).toEqual(expect.arrayContaining([id(a), id(b), id(c)]));
    r = await http("GET", `${s.url}/uws/${def}?PHASE=PENDING`);
    expect(ids(r.body)).toContain(id(a));
    expect(ids(r.body)).not.toContain(id(b));
    r = await http("GET", `${s.url}/uws/${def}?PHASE=PENDING&phase=ABORTED`);
    expect(ids(r.body).sort()).toEqual([id(a), id(c)].sort());
    r = await http("GET", `${s.url}/uws/${def}?LAST=2`);
    expect(ids(r.body)).toEqual([id(c), id(b)]);
    r = await http("GET", `${s.url}/uws/${def}?PHASE=COMPLETED&LAST=1`);
    expect(ids(r.body)).toEqual([id(b)]);
    const created = (await http("GET", a, { headers: { accept: "application/json" } })).body;
    const after = JSON.parse(created).creationTime;
    r = await http("GET", `${s.url}/uws/${def}?AFTER=${encodeURIComponent(after)}`);
    expect(ids(r.body)).not.toContain(id(a));
    expect(ids(r.body)).toEqual(expect.arrayContaining([id(b), id(c)]));
    // jobref links carry the base path and answer 200.
    const href = /xlink:href="([^"]+)"/.exec(r.body)![1]!;
    expect(href.startsWith(`${s.url}/uws/${def}/`)).toBe(true);
    expect((await http("GET", href)).status).toBe(200);
    // JSON extension.
    const j = JSON.parse((await http("GET", `${s.url}/uws/${def}?LAST=1`, { headers: { accept: "application/json" } })).body);
    expect(j.jobs[0].id).toBe(id(c));
    for (const u of [a, b, c]) await http("DELETE", u);
  });

  it("WAIT blocks until the next phase change without blocking other requests; PHASE short-cut", async () => {
    const job = await createJob(s.url, "sleep", { seconds: "2" });
    // PENDING with PHASE=EXECUTING: returns at once.
    let t0 = Date.now();
    await http("GET", `${job}?WAIT=10&PHASE=EXECUTING`);
    expect(Date.now() - t0).toBeLessThan(1000);
    await http("POST", `${job}/phase`, { form: { PHASE: "RUN" } });
    // Many concurrent WAITs while other requests still answer fast.
    t0 = Date.now();
    const waits = Array.from({ length: 50 }, () => http("GET", `${job}?WAIT=-1`));
    const others: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = Date.now();
      expect((await http("GET", `${s.url}/uws/hello?LAST=5`)).status).toBe(200);
      others.push(Date.now() - t);
    }
    expect(Math.max(...others)).toBeLessThan(1000);
    const rs = await Promise.all(waits);
    for (const r of rs) {
      expect(r.status).toBe(200);
      expect(r.body).toMatch(/<uws:phase>(EXECUTING|COMPLETED)<\/uws:phase>/);
    }
    // WAIT on a final job returns at once.
    expect(await waitFinal(job)).toBe("COMPLETED");
    t0 = Date.now();
    await http("GET", `${job}?WAIT=10`);
    expect(Date.now() - t0).toBeLessThan(1000);
    // WAIT=1 on a PENDING job returns after ~1 s with the same phase.
    const p = await createJob(s.url, "sleep", { seconds: "1" });
    t0 = Date.now();
    const r = await http("GET", `${p}?WAIT=1`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(r.body).toContain("<uws:phase>PENDING</uws:phase>");
  });

  it("ABORT kills the process group; execution duration overrun aborts the job", async () => {
    const job = await createJob(s.url, "sleep", { seconds: "60", PHASE: "RUN" });
    await http("GET", `${job}?WAIT=5&PHASE=QUEUED`);
    expect(await phaseOf(job)).toBe("EXECUTING");
    const ref = JSON.parse(s.app.uws.service.db.get(job.split("/").pop()!)!.execRef!);
    expect(existsSync(`/proc/${ref.pid}`)).toBe(true);
    expect((await http("POST", `${job}/phase`, { form: { PHASE: "ABORT" } })).status).toBe(303);
    expect(await phaseOf(job)).toBe("ABORTED");
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(ref.pid)).toBe(false);

    const over = await createJob(s.url, "sleep", { seconds: "30", EXECUTIONDURATION: "1", PHASE: "RUN" });
    const t0 = Date.now();
    expect(await waitFinal(over)).toBe("ABORTED");
    expect(Date.now() - t0).toBeLessThan(5000);
    const doc = (await http("GET", over)).body;
    await valid(doc);
  });

  it("a failing command ends in ERROR with an XSD-valid errorSummary and /error detail", async () => {
    // Real failure path: a directory sits where hello.sh writes its result file, so the script fails.
    const job = await createJob(s.url, "hello", { name: "x" });
    const id = job.split("/").pop()!;
    const dir = s.app.uws.service.jobDir(id);
    mkdirSync(`${dir}/greeting.txt`, { recursive: true }); // the script cannot write its result file
    await http("POST", `${job}/phase`, { form: { PHASE: "RUN" } });
    expect(await waitFinal(job)).toBe("ERROR");
    const doc = (await http("GET", job)).body;
    await valid(doc);
    // The summary ends with the job's own last word on stderr (here the shell's).
    expect(doc).toMatch(/<uws:errorSummary type="fatal" hasDetail="true"><uws:message>the command exited with status \d+: [^<]*greeting\.txt[^<]*<\/uws:message>/);
    const err = await http("GET", `${job}/error`);
    expect(err.status).toBe(200);
    expect(err.body).toContain("exited with status");
    expect(err.body).toContain("stderr");
    // A directory matching the result glob is not a result (the job's provenance is its only one).
    expect(doc).toMatch(/<uws:results>(<uws:result id="provenance"[^>]*\/>)?<\/uws:results>/);
  });

  it("destruction time removes the job and its files", async () => {
    const job = await createJob(s.url, "hello", { PHASE: "RUN" });
    expect(await waitFinal(job)).toBe("COMPLETED");
    const id = job.split("/").pop()!;
    const dir = s.app.uws.service.jobDir(id);
    expect(existsSync(dir)).toBe(true);
    const soon = new Date(Date.now() + 500).toISOString();
    expect((await http("POST", `${job}/destruction`, { form: { DESTRUCTION: soon } })).status).toBe(303);
    await new Promise((r) => setTimeout(r, 1200));
    expect((await http("GET", job)).status).toBe(404);
    expect(existsSync(dir)).toBe(false);
  });

  it("ARCHIVED jobs are excluded from the default list", async () => {
    const job = await createJob(s.url, "hello");
    const id = job.split("/").pop()!;
    s.app.uws.service.db.setPhase(id, "ARCHIVED");
    expect((await http("GET", `${s.url}/uws/hello`)).body).not.toContain(`id="${id}"`);
    expect((await http("GET", `${s.url}/uws/hello?PHASE=ARCHIVED`)).body).toContain(`id="${id}"`);
    await http("DELETE", job);
  });
});

describe("the XSD check itself", () => {
  it("rejects documents that break the UWS schema (empty time, wrong order, missing attribute)", async () => {
    const ns = `xmlns:uws="http://www.ivoa.net/xml/UWS/v1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"`;
    const good = `<uws:job ${ns}><uws:jobId>a</uws:jobId><uws:ownerId xsi:nil="true"/><uws:phase>PENDING</uws:phase><uws:creationTime>2024-01-01T00:00:00Z</uws:creationTime><uws:startTime xsi:nil="true"/><uws:endTime xsi:nil="true"/><uws:executionDuration>0</uws:executionDuration><uws:destruction xsi:nil="true"/><uws:results/></uws:job>`;
    expect(await xsdErrors(good)).toEqual([]);
    expect((await xsdErrors(good.replace('<uws:startTime xsi:nil="true"/>', "<uws:startTime/>"))).length).toBeGreaterThan(0);
    expect((await xsdErrors(good.replace("<uws:phase>PENDING</uws:phase>", "").replace("<uws:jobId>a</uws:jobId>", "<uws:jobId>a</uws:jobId><uws:phase>PENDING</uws:phase>"))).length).toBeGreaterThan(0);
    expect((await xsdErrors(good.replace("<uws:results/>", '<uws:results/><uws:errorSummary><uws:message>x</uws:message></uws:errorSummary>'))).length).toBeGreaterThan(0);
  });
});
