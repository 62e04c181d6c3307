// pyvo interop (Debian python3-pyvo run with /usr/bin/python3) and injection attempts: shell
// syntax in values, placeholders in values, `../` in upload names, a result symlink leaving the
// work dir. Also parameter types, uploads and the upload size limit.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { loadDefinitions } from "../../../runtime/jobdefs/definition.js";
import { createJob, http, startServer, waitFinal, xsdErrors, type Running } from "../helpers.js";

const HERE = import.meta.dirname;
const run = promisify(execFile);

describe("pyvo interop", () => {
  let s: Running;
  beforeAll(async () => {
    s = await startServer({ auth: "tokens", tokens: ["py=pyuser"], maxWait: 30 });
  });
  afterAll(async () => s?.stop());

  it("AsyncTAPJob runs, waits, reads results and deletes a hello job", async () => {
    const job = await createJob(s.url, "hello", { name: "pyvo" }, "py");
    const { stdout } = await run("/usr/bin/python3", [join(HERE, "pyvo_interop.py"), job, "py"], { timeout: 60_000 });
    const seen = JSON.parse(stdout.trim().split("\n").pop()!);
    expect(seen.initial_phase).toBe("PENDING");
    expect(seen.job_id).toBe(job.split("/").pop());
    expect(seen.owner).toBe("pyuser");
    expect(seen.execution_duration).toBe(30);
    expect(seen.destruction_delta_s).toBeLessThan(1);
    expect(seen.final_phase).toBe("COMPLETED");
    expect(seen.result_uris).toEqual([`${job}/results/greeting`, `${job}/results/provenance`]);
    expect(seen.result_text).toBe("hello pyvo\n");
    expect(seen.parameters).toEqual({ name: "pyvo" });
    expect(seen.after_delete_status).toBe(404);
  });
});

describe("injection attempts and parameter types", () => {
  let s: Running;
  beforeAll(async () => {
    s = await startServer({ auth: "none", definitions: join(HERE, "../fixtures/defs"), uploadLimitMb: 1 });
  });
  afterAll(async () => s?.stop());

  const ATTACKS = [
    (m: string) => `$(touch ${m})`,
    (m: string) => "`touch " + m + "`",
    (m: string) => `x; touch ${m}`,
    (m: string) => `x\ntouch ${m}`,
    (m: string) => `' ; touch ${m}; echo '`,
    (m: string) => `" ; touch ${m}; echo "`,
    (m: string) => `| touch ${m}`,
    (m: string) => `&& touch ${m} &`,
    (m: string) => `\${IFS}touch\${IFS}${m}`,
  ];

  it("shell syntax in values is passed verbatim as one argv element and never executed", async () => {
    for (const [i, attack] of ATTACKS.entries()) {
      const marker = join(s.dir, `pwned-${i}`);
      const text = attack(marker);
      const job = await createJob(s.url, "echo", { text, PHASE: "RUN" });
      expect(await waitFinal(job)).toBe("COMPLETED");
      const out = (await http("GET", `${job}/results/out`)).body;
      expect(out.startsWith(`[${text}]\n[1]\n`), JSON.stringify(text)).toBe(true);
      expect(existsSync(marker), text).toBe(false);
      // Values are echoed verbatim (not URL-encoded) in documents, which stay valid.
      expect((await http("GET", `${job}/parameters/text`)).body).toBe(text);
      expect(await xsdErrors((await http("GET", job)).body)).toEqual([]);
    }
  });

  it("values also reach the job as environment variables and a JSON file, verbatim and never executed", async () => {
    const marker = join(s.dir, "pwned-env");
    const text = `$(touch ${marker}) \`touch ${marker}\`; "q" 'q'\nline2 {jobId}`;
    const job = await createJob(s.url, "envdump", { text, count: "7", PHASE: "RUN" });
    expect(await waitFinal(job)).toBe("COMPLETED");
    expect((await http("GET", `${job}/results/env`)).body).toBe(text);
    const params = await http("GET", `${job}/results/params`);
    expect(params.headers.get("content-type")).toContain("application/json");
    expect(JSON.parse(params.body)).toEqual({ text, count: "7" });
    expect(existsSync(marker)).toBe(false);
  });

  it("EXECUTIONDURATION=0 means unlimited for a definition without a maximum (and is kept as 0)", async () => {
    const job = await createJob(s.url, "envdump", { EXECUTIONDURATION: "0" });
    expect((await http("GET", `${job}/executionduration`)).body).toBe("0");
    expect((await http("POST", `${job}/executionduration`, { form: { EXECUTIONDURATION: "120" } })).status).toBe(303);
    expect((await http("GET", `${job}/executionduration`)).body).toBe("120");
    expect((await http("POST", `${job}/executionduration`, { form: { EXECUTIONDURATION: "0" } })).status).toBe(303);
    expect((await http("GET", `${job}/executionduration`)).body).toBe("0");
    expect(await xsdErrors((await http("GET", job)).body)).toEqual([]);
    await http("POST", `${job}/phase`, { form: { PHASE: "RUN" } });
    expect(await waitFinal(job)).toBe("COMPLETED");
  });

  it("placeholders inside values are not expanded", async () => {
    const job = await createJob(s.url, "echo", { text: "{workDir}/{jobId}", PHASE: "RUN" });
    expect(await waitFinal(job)).toBe("COMPLETED");
    const lines = (await http("GET", `${job}/results/out`)).body.split("\n");
    expect(lines[0]).toBe("[{workDir}/{jobId}]");
    expect(lines[7]).toBe(`[${job.split("/").pop()}]`);
  });

  it("typed parameters: valid values pass, invalid ones answer 400 naming parameter and rule", async () => {
    const job = await createJob(s.url, "echo", { text: "t", count: "3", ratio: "0.25", flag: "yes", color: "green", link: "http://x.test/a?b=c", code: "XYZ", PHASE: "RUN" });
    expect(await waitFinal(job)).toBe("COMPLETED");
    expect((await http("GET", `${job}/results/out`)).body).toContain("[t]\n[3]\n[0.25]\n[true]\n[green]\n[http://x.test/a?b=c]\n[XYZ]\n");
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ count: "0" }, /'count'.*≥ 1/],
      [{ count: "1.5" }, /'count'.*integer/],
      [{ ratio: "2" }, /'ratio'.*≤ 1/],
      [{ ratio: "abc" }, /'ratio'.*number/],
      [{ flag: "maybe" }, /'flag'.*true or false/],
      [{ color: "blue" }, /'color'.*one of red, green/],
      [{ link: "file:///etc/passwd" }, /'link'.*http/],
      [{ link: "not a url" }, /'link'.*URL/],
      [{ code: "abc" }, /'code'.*match/],
      [{ text: "a", TEXT: "b" }, /'text'.*more than once/],
    ];
    for (const [form, re] of bad) {
      const r = await http("POST", `${s.url}/uws/echo`, { form });
      expect(r.status, JSON.stringify(form)).toBe(400);
      expect(r.body).toMatch(re);
    }
  });

  it("uploads by multipart: stored under the parameter's name (never the client's path), byReference, size-limited", async () => {
    const fd = new FormData();
    fd.append("PHASE", "RUN");
    fd.append("data", new Blob([Buffer.from("payload-123")]), "../../../../tmp/evil-upload");
    let r = await http("POST", `${s.url}/uws/upload`, { body: fd });
    expect(r.status).toBe(303);
    const job = r.headers.get("location")!;
    expect(await waitFinal(job)).toBe("COMPLETED");
    expect((await http("GET", `${job}/results/copy`)).body).toBe("payload-123");
    const doc = (await http("GET", job)).body;
    expect(await xsdErrors(doc)).toEqual([]);
    expect(doc).toContain(`<uws:parameter id="data" byReference="true">${job}/parameters/data</uws:parameter>`);
    expect((await http("GET", `${job}/parameters/data`)).body).toBe("payload-123");
    expect(existsSync("/tmp/evil-upload")).toBe(false);
    expect(existsSync(join(s.app.uws.service.jobDir(job.split("/").pop()!), "uploads", "data"))).toBe(true);

    const big = () => {
      const fd = new FormData();
      fd.append("data", new Blob([Buffer.alloc(2 * 1024 * 1024, 65)]), "big.bin");
      return fd;
    };
    r = await http("POST", `${s.url}/uws/upload`, { body: big() });
    expect(r.status).toBe(413);
    expect(r.body).toMatch(/upload 'data' is larger than the server's upload limit of 1 MB/);
    // Updating a PENDING job's file: a too-large one answers 413 and leaves the file it had; a
    // good one replaces it.
    const first = new FormData();
    first.append("data", new Blob([Buffer.from("first")]), "a.txt");
    r = await http("POST", `${s.url}/uws/upload`, { body: first });
    expect(r.status).toBe(303);
    const pending = r.headers.get("location")!;
    r = await http("POST", `${pending}/parameters`, { body: big() });
    expect(r.status).toBe(413);
    expect(r.body).toMatch(/upload limit of 1 MB/);
    expect((await http("GET", `${pending}/parameters/data`)).body).toBe("first");
    const second = new FormData();
    second.append("data", new Blob([Buffer.from("second")]), "b.txt");
    expect((await http("POST", `${pending}/parameters`, { body: second })).status).toBe(303);
    expect((await http("GET", `${pending}/parameters/data`)).body).toBe("second");
    const dir = join(s.app.uws.service.jobDir(pending.split("/").pop()!), "uploads");
    expect(readdirSync(dir)).toEqual(["data"]);
    // A form body over the server's body limit (1 MiB) is refused with 413 as well.
    r = await http("POST", `${s.url}/uws/echo`, { form: { text: "x".repeat(1_100_000) } });
    expect(r.status).toBe(413);
    // A file for a parameter that is not a file: 400.
    const wrong = new FormData();
    wrong.append("nope", new Blob([Buffer.from("x")]), "x");
    expect((await http("POST", `${s.url}/uws/upload`, { body: wrong })).status).toBe(400);
    // Required file missing.
    expect((await http("POST", `${s.url}/uws/upload`, { form: { PHASE: "RUN" } })).status).toBe(400);
  });

  it("a result symlink pointing outside the work dir is not served", async () => {
    const job = await createJob(s.url, "escape", { PHASE: "RUN" });
    expect(await waitFinal(job)).toBe("COMPLETED");
    expect((await http("GET", `${job}/results`)).body).not.toContain("out.txt");
    expect((await http("GET", `${job}/results/out`)).status).toBe(404);
  });

  it("path tricks in URLs do not reach other files", async () => {
    const job = await createJob(s.url, "echo", { PHASE: "RUN" });
    await waitFinal(job);
    for (const p of ["/results/..%2f..%2fuws.sqlite", "/results/%2e%2e/%2e%2e/uws.sqlite", "/parameters/..%2F..%2Fjob-secret.key"]) {
      const r = await http("GET", job + p);
      expect(r.status, p).toBe(404);
    }
  });
});

describe("definition files", () => {
  it("bad definitions fail with the file, field and fix", async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const cases: Array<[string, RegExp]> = [
      ["name: x\ncommand: 'echo hi'\n", /command.*never a shell string/],
      ["name: x\ncommand: { executable: /bin/echo, args: ['{nope}'] }\n", /placeholder \{nope\}/],
      ["name: x\nparameters: { p: { type: blob } }\ncommand: { executable: /bin/echo }\n", /parameters\.p\.type/],
      ["name: 'a b'\ncommand: { executable: /bin/echo }\n", /name: must match/],
      ["name: x\nparameters: { phase: {} }\ncommand: { executable: /bin/echo }\n", /UWS control parameter/],
    ];
    for (const [text, re] of cases) {
      const d = mkdtempSync(join(tmpdir(), "uws-defs-"));
      try {
        writeFileSync(join(d, "x.yaml"), text);
        expect(() => loadDefinitions(d)).toThrow(re);
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    }
  });
});
