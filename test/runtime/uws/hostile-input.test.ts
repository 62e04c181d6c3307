// Every reproduction of issue 10 (the job server under hostile input) as a test: JSON bodies go
// through the same field checks as forms, XML-illegal characters are refused at input (and never
// break a document), multipart values over the limit answer 413, the client's Host never steers
// links, numbers are kept exactly or refused, jobs start in the launcher process, and the UWS
// details (EXECUTIONDURATION=0, 405 with Allow, text/plain errors, PHASE=%20RUN).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { request } from "node:http";
import { join } from "node:path";
import { createJob, http, startServer, waitFinal, xsdErrors, type Running } from "../helpers.js";

const DEFS = join(import.meta.dirname, "../fixtures/hostile");
const A = "alice-tok";
const ADMIN = "admin-tok";
let s: Running;

const tokDir = mkdtempSync(join(tmpdir(), "uws-hostile-"));
beforeAll(async () => {
  writeFileSync(join(tokDir, "admin.token"), `${ADMIN}\n`, { mode: 0o600 });
  s = await startServer({ auth: "tokens", tokens: [`${A}=alice`], adminTokenFile: join(tokDir, "admin.token"), definitions: DEFS, local: { concurrency: 64 } });
});
afterAll(async () => {
  await s?.stop();
  rmSync(tokDir, { recursive: true, force: true });
});

const json = (url: string, body: string) => http("POST", url, { token: A, body, headers: { "content-type": "application/json" } });
const jobCount = () => s.app.uws.service.db.count();

describe("1. JSON bodies are type-checked like forms", () => {
  it("[[1,2]], [null], [[\"PHASE\",1]] and an object value answer 400 naming the element or field; no job is created", async () => {
    const before = jobCount();
    for (const [body, re] of [
      ["[[1,2]]", /element 0/],
      ["[null]", /element 0/],
      ['[["PHASE",1]]', /'PHASE'.*must be a string/],
      ['[["name",{"a":1}]]', /'name'.*must be a string/],
      ['[["text","a"],["n",9007199254740993]]', /'n'.*must be a string/],
      ['{"text":"a"}', /list of \[name, value\] pairs/],
    ] as const) {
      const r = await json(`${s.url}/uws/types`, body);
      expect(r.status, body).toBe(400);
      expect(r.headers.get("content-type")).toMatch(/^text\/plain/);
      expect(r.body, body).toMatch(re);
    }
    expect(jobCount()).toBe(before);
  });

  it("JSON values meet maxLength and the value limit like form values", async () => {
    const long = await json(`${s.url}/uws/types`, '[["s","123456789"]]');
    expect(long.status).toBe(400);
    expect(long.body).toMatch(/'s'.*at most 8 characters/);
    const huge = await json(`${s.url}/uws/types`, JSON.stringify([["text", "x".repeat(70_000)]]));
    expect(huge.status).toBe(413);
    expect(huge.body).toMatch(/'text'.*65536 bytes.*--value-limit-kb/);
  });

  it("a valid JSON body creates and runs the job", async () => {
    const r = await json(`${s.url}/uws/types`, '[["text","from json"],["n","42"],["PHASE","RUN"]]');
    expect(r.status).toBe(303);
    const job = r.headers.get("location")!;
    expect(await waitFinal(job, A)).toBe("COMPLETED");
    expect((await http("GET", `${job}/parameters/n`, { token: A })).body).toBe("42");
  });
});

describe("4. XML-illegal characters", () => {
  it("U+FFFE / U+FFFF / control characters / lone surrogates answer 400 naming the field, from every content type", async () => {
    const form = await http("POST", `${s.url}/uws/types`, { token: A, body: "RUNID=a%EF%BF%BEb", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(form.status).toBe(400);
    expect(form.body).toMatch(/'RUNID'.*U\+FFFE/);
    const value = await http("POST", `${s.url}/uws/types`, { token: A, form: { text: "x\uFFFF" } });
    expect(value.status).toBe(400);
    expect(value.body).toMatch(/'text'.*U\+FFFF/);
    const ctl = await http("POST", `${s.url}/uws/types`, { token: A, form: { RUNID: "a\u0001b" } });
    expect(ctl.status).toBe(400);
    expect(ctl.body).toMatch(/'RUNID'.*U\+0001/);
    const surrogate = await json(`${s.url}/uws/types`, '[["text","\\ud800"]]');
    expect(surrogate.status).toBe(400);
    expect(surrogate.body).toMatch(/'text'.*U\+D800/);
    const fd = new FormData();
    fd.append("RUNID", "bad\uFFFE");
    const mp = await http("POST", `${s.url}/uws/types`, { token: A, body: fd });
    expect(mp.status).toBe(400);
    expect(mp.body).toMatch(/'RUNID'.*U\+FFFE/);
    const query = await http("GET", `${s.url}/uws/types?PHASE=%EF%BF%BF`, { token: A });
    expect(query.status).toBe(400);
    expect(query.body).toMatch(/'PHASE'/);
  });

  it("a row already holding them (written before the check) still gives well-formed, XSD-valid documents: the job, the owner's list, the admin's list", async () => {
    const id = "legacy" + Date.now().toString(36).slice(-6);
    s.app.uws.service.db.insert({ id, definition: "types", owner: "alice", runId: "r\uFFFE\uFFFF", phase: "PENDING", created: Date.now(), duration: 60, destruction: Date.now() + 86400_000, params: [{ name: "text", value: "v\uFFFF\u0001" }] });
    for (const [url, token] of [
      [`${s.url}/uws/types/${id}`, A],
      [`${s.url}/uws/types`, A],
      [`${s.url}/uws/types`, ADMIN],
      [`${s.url}/uws/types/${id}/parameters`, A],
    ] as const) {
      const r = await http("GET", url, { token });
      expect(r.status, url).toBe(200);
      expect(await xsdErrors(r.body), url).toEqual([]);
    }
  });
});

describe("5. multipart values over the limit", () => {
  it("a 70 KiB multipart value answers 413 naming the field, the limit and the setting; nothing is stored", async () => {
    const before = jobCount();
    const fd = new FormData();
    fd.append("text", "y".repeat(70 * 1024));
    const r = await http("POST", `${s.url}/uws/types`, { token: A, body: fd });
    expect(r.status).toBe(413);
    expect(r.body).toMatch(/'text'.*65536 bytes.*value-limit-kb/);
    expect(jobCount()).toBe(before);
  });
});

describe("6. the client's Host never reaches a link", () => {
  it("Location and every href use the server's own base URL whatever Host says", async () => {
    const sent = await new Promise<{ status: number; location: string }>((resolve, reject) => {
      const u = new URL(`${s.url}/uws/types`);
      const body = "text=host";
      const r = request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", headers: { host: "evil.example:666", authorization: `Bearer ${A}`, "content-type": "application/x-www-form-urlencoded", "content-length": body.length } }, (res) => {
        res.resume();
        resolve({ status: res.statusCode!, location: String(res.headers.location) });
      });
      r.on("error", reject);
      r.end(body);
    });
    expect(sent.status).toBe(303);
    expect(sent.location.startsWith(`${s.url}/uws/types/`)).toBe(true);
    const list = await new Promise<string>((resolve, reject) => {
      const u = new URL(`${s.url}/uws/types`);
      request({ host: u.hostname, port: u.port, path: u.pathname, headers: { host: "evil.example", authorization: `Bearer ${A}` } }, (res) => {
        let b = "";
        res.on("data", (c) => (b += c));
        res.on("end", () => resolve(b));
      })
        .on("error", reject)
        .end();
    });
    expect(list).not.toContain("evil.example");
    expect(list).toContain(`xlink:href="${s.url}/uws/types/`);
  });
});

describe("7. numbers are kept exactly or refused", () => {
  it("int and float without bounds refuse what a 64-bit float cannot keep; what it can is stored as sent", async () => {
    for (const [name, v, re] of [
      ["n", "99999999999999999999999", /'n'.*between/],
      ["n", "9007199254740993", /'n'.*between/],
      ["x", "1e999", /'x'.*outside the range/],
      ["x", "1e-400", /'x'.*too close to 0/],
      ["x", "0.1000000000000000000001", /'x'.*more precision/],
    ] as const) {
      const r = await http("POST", `${s.url}/uws/types`, { token: A, form: { [name]: v } });
      expect(r.status, v).toBe(400);
      expect(r.body, v).toMatch(re);
    }
    const job = await createJob(s.url, "types", { n: "9007199254740991", x: "0.30000000000000004" }, A);
    expect((await http("GET", `${job}/parameters/n`, { token: A })).body).toBe("9007199254740991");
    expect((await http("GET", `${job}/parameters/x`, { token: A })).body).toBe("0.30000000000000004");
  });
});

describe("3. job starts happen off the request path", () => {
  it("jobs are started by the launcher process (their parent), never by the server; /health answers while 50 start", async () => {
    const jobs = await Promise.all(Array.from({ length: 50 }, () => createJob(s.url, "sleep", { seconds: "5", PHASE: "RUN" }, A)));
    expect((await http("GET", `${s.url}/health`)).status).toBe(200);
    const launcher = (s.app.uws.service.executor as unknown as { launcherPid(): number | undefined }).launcherPid();
    expect(launcher).toBeDefined();
    expect(launcher).not.toBe(process.pid);
    await http("GET", `${jobs[0]}?WAIT=20&PHASE=QUEUED`, { token: A });
    const ref = s.app.uws.service.db.get(jobs[0]!.split("/").pop()!)!.execRef!;
    const pid = JSON.parse(ref).pid as number;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    expect(ppid).toBe(launcher);
    await Promise.all(jobs.map((j) => http("POST", `${j}/phase`, { token: A, form: { PHASE: "ABORT" } })));
  });
});

describe("8. UWS details", () => {
  it("EXECUTIONDURATION=0 (unlimited) on a definition with a maximum is set to that maximum, and the answer says so", async () => {
    const r = await http("POST", `${s.url}/uws/sleep`, { token: A, form: { EXECUTIONDURATION: "0" } });
    expect(r.status).toBe(303);
    expect(r.headers.get("uws-note")).toMatch(/0 \(unlimited\).*maxDuration.*60 s/);
    expect(r.body).toMatch(/EXECUTIONDURATION: 0 \(unlimited\)/);
    const job = r.headers.get("location")!;
    expect((await http("GET", `${job}/executionduration`, { token: A })).body).toBe("60");
    const again = await http("POST", `${job}/executionduration`, { token: A, form: { EXECUTIONDURATION: "0" } });
    expect(again.headers.get("uws-note")).toMatch(/set to 60 s/);
    const within = await http("POST", `${job}/executionduration`, { token: A, form: { EXECUTIONDURATION: "30" } });
    expect(within.headers.get("uws-note")).toBeNull();
  });

  it("an unknown method on a known path answers 405 with Allow; unknown paths 404; every error is text/plain", async () => {
    const job = await createJob(s.url, "types", {}, A);
    for (const [method, url, allow] of [
      ["PUT", `${s.url}/uws/types`, /GET.*POST/],
      ["PATCH", `${job}`, /DELETE.*GET.*POST/],
      ["DELETE", `${job}/phase`, /GET.*POST/],
      ["POST", `${job}/results`, /GET/],
      ["PUT", `${s.url}/health`, /GET/],
    ] as const) {
      const r = await http(method, url, { token: A });
      expect(r.status, `${method} ${url}`).toBe(405);
      expect(r.headers.get("allow"), `${method} ${url}`).toMatch(allow);
      expect(r.headers.get("content-type")).toMatch(/^text\/plain/);
    }
    const nf = await http("GET", `${s.url}/nothing/here`, { token: A });
    expect(nf.status).toBe(404);
    expect(nf.headers.get("content-type")).toMatch(/^text\/plain/);
    const bad = await http("POST", `${s.url}/uws/types`, { token: A, body: "<x/>", headers: { "content-type": "application/xml" } });
    expect(bad.status).toBe(415);
    expect(bad.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(bad.body).toMatch(/Content-Type/);
  });

  it("PHASE=%20RUN is accepted the same way at creation and on /phase", async () => {
    const created = await http("POST", `${s.url}/uws/types`, { token: A, body: "PHASE=%20RUN", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(created.status).toBe(303);
    expect(await waitFinal(created.headers.get("location")!, A)).toBe("COMPLETED");
    const job = await createJob(s.url, "types", {}, A);
    const run = await http("POST", `${job}/phase`, { token: A, body: "PHASE=%20RUN", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(run.status).toBe(303);
    expect(await waitFinal(job, A)).toBe("COMPLETED");
    for (const url of [`${s.url}/uws/types`, `${(await createJob(s.url, "types", {}, A))}/phase`]) {
      const r = await http("POST", url, { token: A, body: "PHASE=%20RUNX", headers: { "content-type": "application/x-www-form-urlencoded" } });
      expect(r.status, url).toBe(400);
      expect(r.body).toMatch(/PHASE/);
    }
  });

  it("a body over the body limit answers 413 naming the limit and its setting", async () => {
    const r = await http("POST", `${s.url}/uws/types`, { token: A, body: "text=" + "z".repeat(1100 * 1024), headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(r.status).toBe(413);
    expect(r.body).toMatch(/1024 KiB.*--body-limit-kb/);
  });
});
