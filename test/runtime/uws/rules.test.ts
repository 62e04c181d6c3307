// The UWS 1.1 rules checked one by one over real HTTP (tokens auth, so owner ids
// are real and every list below is one owner's own, deterministic list): every 303 target answers
// 2xx, list filters and their combinations, names vs values case, ISO input times, xsi:nil, element
// order, WAIT, HELD with the local executor, the local concurrency limit and process-group kills.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createJob, http, phaseOf, startServer, waitFinal, xsdErrors, type Running } from "../helpers.js";

let s: Running;
const adminFile = join(tmpdir(), `uws-rules-admin-${process.pid}-${Date.now()}`);
// The shipped definitions plus `tree`, a job of several processes (the launcher execs a job's
// executable directly, so `sleep` is one process): an abort must take the whole group.
const defs = mkdtempSync(join(tmpdir(), "uws-rules-defs-"));
beforeAll(async () => {
  writeFileSync(adminFile, "rules-admin\n", { mode: 0o400 });
  cpSync(join(import.meta.dirname, "../../../runtime/definitions"), defs, { recursive: true });
  writeFileSync(join(defs, "tree.yaml"), [
    "name: tree",
    "description: A shell with two sleeping children.",
    "parameters: {}",
    "command:",
    "  executable: /bin/sh",
    '  args: ["-c", "sleep 60 & sleep 60 & wait"]',
    "results: []",
    "resources: { cpus: 1, memoryMb: 16, maxDuration: 3700 }",
    "",
  ].join("\n"));
  // Concurrency 1: the limit test below relies on it.
  s = await startServer({ auth: "tokens", tokens: ["r=rita", "f=filterer", "o=order", "w=waiter", "c=conc"], adminTokenFile: adminFile, local: { concurrency: 1 }, maxWait: 10, definitions: defs });
});
afterAll(async () => {
  await s?.stop();
  rmSync(adminFile, { force: true });
  rmSync(defs, { recursive: true, force: true });
});

const idOf = (u: string) => u.split("/").pop()!;
const ids = (xml: string) => [...xml.matchAll(/<uws:jobref id="([^"]+)"/g)].map((m) => m[1]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Process ids whose process group is `pgid` (from /proc; zombies excluded). */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (f[0] !== "Z" && Number(f[2]) === pgid) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe("UWS 1.1 rules (uws.md), one by one", () => {
  it("every 303 (create, create+RUN, parameters, executionduration, destruction, RUN, ABORT, ACTION=DELETE, DELETE) points at a resource answering 2xx", async () => {
    const t = "r";
    const follow = async (r: Awaited<ReturnType<typeof http>>, what: string) => {
      expect(r.status, `${what}: ${r.body}`).toBe(303);
      const loc = r.headers.get("location")!;
      expect(loc, what).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/uws\/[a-z-]+(\/[a-z0-9]+)?$/);
      const g = await http("GET", loc, { token: t });
      expect(g.status, `${what} → GET ${loc}`).toBeGreaterThanOrEqual(200);
      expect(g.status, `${what} → GET ${loc}`).toBeLessThan(300);
      return loc;
    };
    const job = await follow(await http("POST", `${s.url}/uws/sleep`, { form: { seconds: "30" }, token: t }), "create");
    await follow(await http("POST", `${job}/parameters`, { form: { seconds: "20" }, token: t }), "parameters");
    await follow(await http("POST", `${job}/executionduration`, { form: { EXECUTIONDURATION: "25" }, token: t }), "executionduration");
    await follow(await http("POST", `${job}/destruction`, { form: { DESTRUCTION: "2040-01-01T00:00:00Z" }, token: t }), "destruction");
    await follow(await http("POST", `${job}/phase`, { form: { PHASE: "RUN" }, token: t }), "RUN");
    await follow(await http("POST", `${job}/phase`, { form: { PHASE: "ABORT" }, token: t }), "ABORT");
    expect(idOf(await follow(await http("POST", job, { form: { ACTION: "DELETE" }, token: t }), "ACTION=DELETE"))).toBe("sleep");
    const run = await follow(await http("POST", `${s.url}/uws/hello`, { form: { PHASE: "RUN" }, token: t }), "create+RUN");
    expect(await waitFinal(run, t)).toBe("COMPLETED");
    expect(idOf(await follow(await http("DELETE", run, { token: t }), "DELETE"))).toBe("hello");
  });

  it("LAST is newest first and applies after PHASE (union) and AFTER; AFTER is strict; admin lists merge every owner", async () => {
    const t = "f";
    const list = async (q: string, token = t) => {
      const r = await http("GET", `${s.url}/uws/sleep${q ? `?${q}` : ""}`, { token });
      expect(r.status, `${q}: ${r.body}`).toBe(200);
      expect(await xsdErrors(r.body)).toEqual([]);
      return ids(r.body);
    };
    const j: string[] = [];
    for (let i = 0; i < 5; i++) {
      j.push(idOf(await createJob(s.url, "sleep", { seconds: "30" }, t)));
      await sleep(3);
    }
    // j0 PENDING, j1 ABORTED, j2 PENDING, j3 ABORTED, j4 PENDING
    for (const k of [1, 3]) expect((await http("POST", `${s.url}/uws/sleep/${j[k]}/phase`, { form: { PHASE: "ABORT" }, token: t })).status).toBe(303);
    const [j0, j1, j2, j3, j4] = j;
    expect(await list("")).toEqual([j0, j1, j2, j3, j4]);
    expect(await list("LAST=2")).toEqual([j4, j3]);
    expect(await list("PHASE=PENDING&LAST=1")).toEqual([j4]);
    expect(await list("PHASE=ABORTED&LAST=1")).toEqual([j3]);
    expect(await list("PHASE=PENDING&LAST=2")).toEqual([j4, j2]);
    expect(await list("PHASE=ABORTED&PHASE=PENDING&LAST=4")).toEqual([j4, j3, j2, j1]);
    expect(await list("phase=ABORTED&Phase=PENDING")).toEqual([j0, j1, j2, j3, j4]);
    expect(await list("PHASE=ABORTED&PHASE=ABORTED")).toEqual([j1, j3]);
    expect(await list("PHASE=COMPLETED")).toEqual([]);
    expect(await list("LAST=0")).toEqual([]);
    const created = (id: string) => s.app.uws.service.db.get(id)!.created;
    const at = (ms: number) => new Date(ms).toISOString();
    // Strictly after: the job created at that very time is not listed.
    expect(await list(`AFTER=${at(created(j2!))}`)).toEqual([j3, j4]);
    expect(await list(`AFTER=${at(created(j2!))}&LAST=1`)).toEqual([j4]);
    expect(await list(`AFTER=${at(created(j0!))}&PHASE=PENDING`)).toEqual([j2, j4]);
    expect(await list(`AFTER=${at(created(j0!))}&PHASE=PENDING&PHASE=ABORTED&LAST=3`)).toEqual([j4, j3, j2]);
    // Six fractional digits and a Z (pyvo), no fraction, a numeric offset.
    expect(await list(`AFTER=${encodeURIComponent(at(created(j2!)).replace("Z", "999Z"))}`)).toEqual([j3, j4]);
    expect(await list("AFTER=2000-01-01T00:00:00Z&LAST=1")).toEqual([j4]);
    expect(await list(`AFTER=${encodeURIComponent("2000-01-01T01:00:00.000000+01:00")}`)).toHaveLength(5);
    // The admin's list spans owners: the newest job of anyone comes first.
    const other = idOf(await createJob(s.url, "sleep", { seconds: "1" }, "r"));
    expect(await list("LAST=2", "rules-admin")).toEqual([other, j4]);
    expect(await list("PHASE=ABORTED&LAST=1", "rules-admin")).toEqual([j3]);
    expect(await list("")).not.toContain(other);
    for (const [q, re] of [
      ["PHASE=RUNNING", /PHASE/],
      ["PHASE=", /PHASE/],
      ["AFTER=2024-02-30T00:00:00Z", /AFTER/],
      ["AFTER=1700000000", /AFTER/],
      ["LAST=-1", /LAST/],
      ["LAST=1.5", /LAST/],
      ["LAST=99999999999999999999", /LAST/],
      ["LAST=1&LAST=2", /LAST/],
    ] as const) {
      const r = await http("GET", `${s.url}/uws/sleep?${q}`, { token: t });
      expect(r.status, q).toBe(400);
      expect(r.body, q).toMatch(re);
    }
    for (const id of [...j, other]) await http("DELETE", `${s.url}/uws/sleep/${id}`, { token: "rules-admin" });
  });

  it("parameter and control names are case-insensitive; values keep their case and are never URL-encoded back", async () => {
    const t = "r";
    const value = "MiXeD Case & <tags> + 100% /é";
    // A destruction time within the server's longest lifetime, with six fractional digits (pyvo).
    const when = new Date(Date.now() + 2 * 86400_000).toISOString();
    const r = await http("POST", `${s.url}/uws/hello`, { form: { NaMe: value, pHaSe: "RUN", ExecutionDuration: "30", dEsTrUcTiOn: when.replace("Z", "456Z"), RunId: "Run-A" }, token: t });
    expect(r.status, r.body).toBe(303);
    const job = r.headers.get("location")!;
    expect(await waitFinal(job, t)).toBe("COMPLETED");
    expect((await http("GET", `${job}/results/greeting`, { token: t })).body).toBe(`hello ${value}\n`);
    expect((await http("GET", `${job}/parameters/NAME`, { token: t })).body).toBe(value);
    const doc = (await http("GET", job, { token: t })).body;
    expect(doc).toContain(`<uws:parameter id="name">MiXeD Case &amp; &lt;tags&gt; + 100% /é</uws:parameter>`);
    expect(doc).toContain("<uws:runId>Run-A</uws:runId>");
    expect(doc).toContain("<uws:executionDuration>30</uws:executionDuration>");
    expect(doc).toContain(`<uws:destruction>${when}</uws:destruction>`);
    const json = JSON.parse((await http("GET", job, { token: t, headers: { accept: "application/json" } })).body);
    expect(json.parameters).toEqual({ name: value });
    // Control names in any case on the sub-resources too.
    expect((await http("POST", `${job}/phase`, { form: { phase: "RUN" }, token: t })).status).toBe(403);
    expect((await http("POST", job, { form: { action: "DELETE" }, token: t })).status).toBe(303);
  });

  it("times: output is ISO 8601 UTC with a Z; empty times are xsi:nil; element order of job and jobref follows the schema", async () => {
    const t = "o";
    const job = await createJob(s.url, "sleep", { seconds: "30", RUNID: "order-run" }, t);
    const doc = (await http("GET", job, { token: t })).body;
    expect(await xsdErrors(doc)).toEqual([]);
    expect(doc).toMatch(
      /<uws:jobId>[a-z0-9]+<\/uws:jobId><uws:runId>order-run<\/uws:runId><uws:ownerId>order<\/uws:ownerId><uws:phase>PENDING<\/uws:phase><uws:quote xsi:nil="true"\/><uws:creationTime>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z<\/uws:creationTime><uws:startTime xsi:nil="true"\/><uws:endTime xsi:nil="true"\/><uws:executionDuration>\d+<\/uws:executionDuration><uws:destruction>[^<]+Z<\/uws:destruction><uws:parameters>/,
    );
    expect(doc).not.toMatch(/<uws:(startTime|endTime|quote|destruction)\/>|<uws:(startTime|endTime|quote|destruction)><\//);
    const list = (await http("GET", `${s.url}/uws/sleep`, { token: t })).body;
    expect(await xsdErrors(list)).toEqual([]);
    expect(list).toMatch(
      new RegExp(
        `<uws:jobref id="${idOf(job)}" xlink:type="simple" xlink:href="${job}"><uws:phase>PENDING</uws:phase><uws:runId>order-run</uws:runId><uws:ownerId>order</uws:ownerId><uws:creationTime>[^<]+Z</uws:creationTime></uws:jobref>`,
      ),
    );
    // Ended jobs: start and end times set, still valid.
    await http("POST", `${job}/phase`, { form: { PHASE: "RUN" }, token: t });
    await http("GET", `${job}?WAIT=5&PHASE=QUEUED`, { token: t });
    await http("POST", `${job}/phase`, { form: { PHASE: "ABORT" }, token: t });
    const ended = (await http("GET", job, { token: t })).body;
    expect(await xsdErrors(ended)).toEqual([]);
    expect(ended).toMatch(/<uws:endTime>[^<]+Z<\/uws:endTime>/);
    // The text resources.
    expect((await http("GET", `${job}/destruction`, { token: t })).body).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect((await http("GET", `${job}/quote`, { token: t })).body).toBe("");
    await http("DELETE", job, { token: t });
  });

  it("WAIT: blocks while the phase is the one given, returns at the change; WAIT=-1 is the server's maximum; bad WAIT → 400", async () => {
    const t = "w";
    const job = await createJob(s.url, "sleep", { seconds: "30" }, t);
    // Same phase as asked: blocks until the job leaves PENDING (RUN half a second later).
    let t0 = Date.now();
    const waiting = http("GET", `${job}?WAIT=-1&PHASE=PENDING`, { token: t });
    await sleep(500);
    await http("POST", `${job}/phase`, { form: { PHASE: "RUN" }, token: t });
    let r = await waiting;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.body).toMatch(/<uws:phase>(QUEUED|EXECUTING)<\/uws:phase>/);
    // No change: WAIT=n ends after n seconds with the same phase.
    const p = await createJob(s.url, "sleep", { seconds: "1" }, t);
    t0 = Date.now();
    r = await http("GET", `${p}?wait=1`, { token: t });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(r.body).toContain("<uws:phase>PENDING</uws:phase>");
    // WAIT=-1 and WAIT above the maximum end at the server's maximum (a server with maxWait 1 s).
    const short = await startServer({ auth: "none", maxWait: 1 });
    try {
      const q = await createJob(short.url, "sleep", { seconds: "1" });
      for (const w of ["-1", "3600"]) {
        t0 = Date.now();
        expect((await http("GET", `${q}?WAIT=${w}`)).status).toBe(200);
        expect(Date.now() - t0, `WAIT=${w}`).toBeGreaterThanOrEqual(900);
        expect(Date.now() - t0, `WAIT=${w}`).toBeLessThan(3000);
      }
    } finally {
      await short.stop();
    }
    // Another phase asked: returns at once.
    t0 = Date.now();
    await http("GET", `${p}?WAIT=-1&PHASE=EXECUTING`, { token: t });
    expect(Date.now() - t0).toBeLessThan(1000);
    for (const q of ["WAIT=-2", "WAIT=x", "WAIT=1&PHASE=NOPE"]) expect((await http("GET", `${p}?${q}`, { token: t })).status, q).toBe(400);
    await http("POST", `${job}/phase`, { form: { PHASE: "ABORT" }, token: t });
    await http("DELETE", job, { token: t });
    await http("DELETE", p, { token: t });
  });

  it("bad input answers 400 with a plain message, never 500", async () => {
    const t = "r";
    const job = await createJob(s.url, "hello", {}, t);
    const mp = (body: string, ct = "multipart/form-data; boundary=b") => ({ body, headers: { "content-type": ct }, token: t });
    const cases: Array<[string, string, Parameters<typeof http>[2], RegExp]> = [
      ["POST", `${s.url}/uws/hello`, mp("--b\r\nbroken"), /malformed multipart/],
      ["POST", `${s.url}/uws/hello`, mp("x", "multipart/form-data"), /malformed multipart/],
      ["POST", `${job}/parameters`, mp("--b\r\nbroken"), /malformed multipart/],
      ["POST", `${s.url}/uws/hello`, { body: "{}", headers: { "content-type": "application/json" }, token: t }, /x-www-form-urlencoded or multipart/],
      ["POST", `${s.url}/uws/hello`, { form: { DESTRUCTION: "1999-01-01T00:00:00Z" }, token: t }, /DESTRUCTION.*in the past/],
      ["POST", `${job}/destruction`, { form: { DESTRUCTION: "2001-01-01T00:00:00.000000Z" }, token: t }, /DESTRUCTION.*in the past/],
      ["POST", `${job}/destruction`, { form: { DESTRUCTION: "2040-01-01T00:00:00+99:99" }, token: t }, /DESTRUCTION.*ISO 8601/],
      ["POST", `${job}/executionduration`, { form: { EXECUTIONDURATION: "1e3" }, token: t }, /EXECUTIONDURATION.*integer/],
      ["POST", `${job}/executionduration`, { form: { EXECUTIONDURATION: "-1" }, token: t }, /EXECUTIONDURATION/],
      ["POST", `${job}/phase`, { form: [["PHASE", "RUN"], ["PHASE", "ABORT"]], token: t }, /PHASE given more than once/],
      ["POST", `${job}/phase`, { token: t }, /PHASE is required/],
      ["POST", `${job}/parameters`, { form: { PHASE: "RUN" }, token: t }, /control parameters/],
      ["POST", `${s.url}/uws/hello`, { form: { RUNID: "a\u0001b" }, token: t }, /RUNID/],
      ["POST", `${s.url}/uws/hello`, { form: { "": "x" }, token: t }, /unknown parameter ''/],
    ];
    for (const [m, u, o, re] of cases) {
      const r = await http(m, u, o);
      expect(r.status, `${m} ${u} ${JSON.stringify(o)}: ${r.body}`).toBe(400);
      expect(r.body).toMatch(re);
    }
    // A WAIT beyond any bound is the server's maximum, not an error (the job is not waitable: at once).
    await http("POST", `${job}/phase`, { form: { PHASE: "ABORT" }, token: t });
    expect((await http("GET", `${job}?WAIT=99999999999999`, { token: t })).status).toBe(200);
    // The job is untouched by all of that.
    expect(await xsdErrors((await http("GET", job, { token: t })).body)).toEqual([]);
    await http("DELETE", job, { token: t });
  });

  it("local executor: PHASE=RUN on a HELD job answers 403 saying local never holds (HELD cannot arise there)", async () => {
    const job = await createJob(s.url, "hello", {}, "r");
    s.app.uws.service.db.setPhase(idOf(job), "HELD");
    const r = await http("POST", `${job}/phase`, { form: { PHASE: "RUN" }, token: "r" });
    expect(r.status).toBe(403);
    expect(r.body).toMatch(/HELD.*local executor cannot release/);
    await http("DELETE", job, { token: "r" });
  });

  it("local executor: the concurrency limit queues jobs; ABORT and overrun kill the whole process group", async () => {
    const t = "c";
    const a = await createJob(s.url, "tree", { PHASE: "RUN" }, t);
    const b = await createJob(s.url, "sleep", { seconds: "60", EXECUTIONDURATION: "1", PHASE: "RUN" }, t);
    await http("GET", `${a}?WAIT=5&PHASE=QUEUED`, { token: t });
    expect(await phaseOf(a, t)).toBe("EXECUTING");
    // Concurrency 1: b waits in QUEUED, and its execution duration does not run while queued.
    await sleep(1500);
    expect(await phaseOf(b, t)).toBe("QUEUED");
    const pgid = JSON.parse(s.app.uws.service.db.get(idOf(a))!.execRef!).pid as number;
    for (let i = 0; i < 30 && groupMembers(pgid).length < 3; i++) await sleep(100);
    expect(groupMembers(pgid).length).toBe(3); // the shell and its two sleeps
    expect((await http("POST", `${a}/phase`, { form: { PHASE: "ABORT" }, token: t })).status).toBe(303);
    for (let i = 0; i < 30 && groupMembers(pgid).length; i++) await sleep(100);
    expect(groupMembers(pgid)).toEqual([]);
    // b starts, overruns its 1 s and is aborted with its group.
    await http("GET", `${b}?WAIT=5&PHASE=QUEUED`, { token: t });
    const bg = JSON.parse(s.app.uws.service.db.get(idOf(b))!.execRef!).pid as number;
    expect(await waitFinal(b, t, 10)).toBe("ABORTED");
    for (let i = 0; i < 30 && groupMembers(bg).length; i++) await sleep(100);
    expect(groupMembers(bg)).toEqual([]);
    for (const u of [a, b]) await http("DELETE", u, { token: t });
  });
});
