// Property-based fuzzing (fast-check) of every route, method, content type and parameter type of
// the job server, over real HTTP on loopback with the real SQLite store, local executor and the
// UWS XSD (xmllint-wasm). Properties: never a 5xx; every XML answer is XSD-valid; every 4xx is
// text/plain and a 400/413 names the field (or the body/Content-Type at fault); every 303 leads to
// a resource answering 2xx; afterwards every job is readable (document and parameters XSD-valid)
// and nothing was written outside the data dir. Run counts are bounded (FUZZ_RUNS, default 300) so
// the suite stays well under a minute on a busy 2-core machine; the seed is printed on failure.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createJob, http, startServer, xsdErrors, type Res, type Running } from "../helpers.js";

const DEFS = join(import.meta.dirname, "../fixtures/hostile");
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const MARKER = "fz9q";
const A = "alice-tok";
const B = "bob-tok";
const ADMIN = "admin-tok";
const ROOT = resolve(import.meta.dirname, "../../..");

let s: Running;
let outside: string;
const tokDir = mkdtempSync(join(tmpdir(), "uws-fuzz-"));
const seeded: Record<string, string> = {};

beforeAll(async () => {
  writeFileSync(join(tokDir, "admin.token"), `${ADMIN}\n`, { mode: 0o600 });
  s = await startServer({ auth: "tokens", tokens: [`${A}=alice`, `${B}=bob`], adminTokenFile: join(tokDir, "admin.token"), definitions: DEFS, local: { concurrency: 8 }, uploadLimitMb: 1 });
  // A canary directory next to the data dir: nothing may ever appear in it.
  outside = join(s.dir, "outside");
  mkdirSync(outside);
  seeded.pending = await createJob(s.url, "types", { text: "seed" }, A);
  seeded.done = await createJob(s.url, "types", { text: "done", PHASE: "RUN" }, A);
  seeded.bob = await createJob(s.url, "types", { text: "bob's" }, B);
  seeded.sleeping = await createJob(s.url, "sleep", { seconds: "0" }, A);
});
afterAll(async () => {
  await s?.stop();
  rmSync(tokDir, { recursive: true, force: true });
});

// ---- generators --------------------------------------------------------------------------------
const CONTROL = ["PHASE", "ACTION", "DESTRUCTION", "EXECUTIONDURATION", "WAIT", "AFTER", "LAST", "RUNID"];
const PARAMS = ["s", "text", "n", "x", "b", "e", "u", "data", "seconds"];
const ILLEGAL = ["\uFFFE", "\uFFFF", "\u0000", "\u0001", "\u001F", "\uD800", "\uDFFF"];

const randomCase = (w: string) => fc.array(fc.boolean(), { minLength: w.length, maxLength: w.length }).map((up) => [...w].map((c, i) => (up[i] ? c.toUpperCase() : c.toLowerCase())).join(""));
const name = fc.oneof(
  fc.constantFrom(...CONTROL).chain(randomCase),
  fc.constantFrom(...PARAMS),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "grapheme", maxLength: 6 }),
  fc.constantFrom(...ILLEGAL).map((c) => `p${c}`),
  fc.constantFrom("__proto__", "constructor", "x".repeat(300)),
);
const isoTime = fc.date({ min: new Date("1900-01-01T00:00:00Z"), max: new Date("2200-01-01T00:00:00Z"), noInvalidDate: true }).map((d) => d.toISOString());
const value = fc.oneof(
  fc.constantFrom("RUN", " RUN", "run", "ABORT", "DELETE", "SUSPEND", "", " ", "-1", "0", "1", "+5", "60", "3700", "99999999999"),
  fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }).map(String),
  fc.double().map(String),
  fc.constantFrom("1e999", "1e-400", "0.1", "9007199254740993", "-0", ".5", "5.", "NaN", "Infinity", "0x10", "1_000"),
  fc.constantFrom("true", "false", "yes", "no", "red", "green", "blue", "https://example.org/x", "ftp://x", "javascript:alert(1)"),
  isoTime,
  isoTime.map((t) => t.replace("Z", "+14:00")),
  fc.constantFrom("2030-02-30T00:00:00Z", "2030-01-01T25:00:00Z", "2030-01-01T00:00:00.123456789Z", "yesterday"),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom(...ILLEGAL).map((c) => `v${c}v`),
  fc.constantFrom(`../../outside/${MARKER}`, `/tmp/${MARKER}`, `$(touch ${MARKER})`, `;touch ${MARKER};`, `{jobId}`, "`id`"),
  fc.integer({ min: 60_000, max: 70_000 }).map((n) => "L".repeat(n)),
);
const pairs = (max: number) => fc.array(fc.tuple(name, value), { maxLength: max });

const JOB_PATHS = ["", "/phase", "/executionduration", "/destruction", "/quote", "/owner", "/error", "/results", "/results/out", "/parameters", "/parameters/text", "/parameters/data", "/parameters/nope"];
const path = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom("pending", "done", "bob", "sleeping"), fc.constantFrom(...JOB_PATHS)).map(([k, p]) => new URL(seeded[k]!).pathname + p) },
  { weight: 4, arbitrary: fc.constantFrom("/uws", "/uws/types", "/uws/sleep", "/health", "/uws/nodef", "/uws/types/nojob12345", "/uws/types/nojob12345/phase") },
  { weight: 1, arbitrary: fc.constantFrom("pending", "done").map((k) => `/callback/jobs/${new URL(seeded[k]!).pathname.split("/").pop()}`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((x) => `/uws/types/${encodeURIComponent(x)}`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((x) => `/uws/types/${new URL(seeded.pending!).pathname.split("/").pop()}/results/${encodeURIComponent(x)}`) },
);

type Body =
  | { kind: "none" }
  | { kind: "form"; pairs: Array<[string, string]> }
  | { kind: "json"; pairs: Array<[string, string]> }
  | { kind: "json-any"; value: unknown }
  | { kind: "multipart"; pairs: Array<[string, string]>; file?: { field: string; size: number } }
  | { kind: "raw"; type: string; text: string };
const body: fc.Arbitrary<Body> = fc.oneof(
  fc.constant({ kind: "none" as const }),
  pairs(6).map((p) => ({ kind: "form" as const, pairs: p })),
  pairs(6).map((p) => ({ kind: "json" as const, pairs: p })),
  fc.jsonValue({ maxDepth: 3 }).map((v) => ({ kind: "json-any" as const, value: v })),
  fc.tuple(pairs(4), fc.option(fc.record({ field: fc.constantFrom("data", "text", "DATA", "nope"), size: fc.integer({ min: 0, max: 4096 }) }), { nil: undefined })).map(([p, f]) => ({ kind: "multipart" as const, pairs: p, file: f })),
  fc.tuple(fc.constantFrom("text/plain", "application/xml", "multipart/form-data", "multipart/form-data; boundary=zz", "application/json", "application/x-www-form-urlencoded", "garbage/x; y"), fc.string({ maxLength: 60 })).map(([type, text]) => ({ kind: "raw" as const, type, text })),
);
const request = fc.record({
  method: fc.constantFrom("GET", "POST", "POST", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"),
  path,
  query: pairs(3),
  body,
  token: fc.constantFrom(A, A, A, B, ADMIN, undefined, "forged"),
});
type Req = typeof request extends fc.Arbitrary<infer T> ? T : never;

// ---- one request -------------------------------------------------------------------------------
async function send(r: Req): Promise<Res> {
  const q = new URLSearchParams(r.query).toString();
  const url = `${s.url}${r.path}${q ? `?${q}` : ""}`;
  const headers: Record<string, string> = {};
  let data: string | FormData | undefined;
  const b = r.body;
  if (r.method !== "GET" && r.method !== "HEAD") {
    if (b.kind === "form") {
      data = new URLSearchParams(b.pairs).toString();
      headers["content-type"] = "application/x-www-form-urlencoded";
    } else if (b.kind === "json" || b.kind === "json-any") {
      data = JSON.stringify(b.kind === "json" ? b.pairs : b.value) ?? "null";
      headers["content-type"] = "application/json";
    } else if (b.kind === "multipart") {
      const fd = new FormData();
      for (const [k, v] of b.pairs) fd.append(k, v);
      if (b.file) fd.append(b.file.field, new Blob([Buffer.alloc(b.file.size, 7)]), `../../outside/${MARKER}`);
      data = fd;
    } else if (b.kind === "raw") {
      data = b.text;
      headers["content-type"] = b.type;
    }
  }
  return http(r.method, url, { token: r.token, headers, body: data });
}

/** The field names a request sent (query and body), for "every 4xx names the field". */
function safeForm(text: string): URLSearchParams {
  try {
    return new URLSearchParams(text);
  } catch {
    return new URLSearchParams();
  }
}

function sentNames(r: Req): string[] {
  const b = r.body;
  const fromBody = b.kind === "form" || b.kind === "json" || b.kind === "multipart" ? b.pairs.map(([k]) => k)
    // A raw body the server reads as a form names its fields too.
    : b.kind === "raw" && /x-www-form-urlencoded/i.test(b.type) ? [...safeForm(b.text).keys()] : [];
  return [...r.query.map(([k]) => k), ...fromBody, ...(b.kind === "multipart" && b.file ? [b.file.field] : [])];
}
const shown = (n: string) => n.slice(0, 64).replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, (c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`);
const wellFormed = (s: string) => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
const BODY_LEVEL = /\bbody\b|Content-Type|too many fields|field name|upload|file parameter|multipart|JSON/i;

async function check(r: Req, res: Res): Promise<void> {
  const what = `${r.method} ${r.path} → ${res.status} ${res.body.slice(0, 200)}`;
  expect(res.status, what).toBeLessThan(500);
  const type = res.headers.get("content-type") ?? "";
  if (res.status >= 400 && r.method !== "HEAD") {
    expect(type, what).toMatch(/^text\/plain/);
    expect(res.body.trim().length, what).toBeGreaterThan(0);
    if (res.status === 400 || res.status === 413) {
      const names = sentNames(r);
      // A field sent, a field the resource requires (PHASE, EXECUTIONDURATION, a parameter), or the body.
      const named =
        // A lone surrogate reaches the server as U+FFFD when the name travels as UTF-8 (query, form,
        // multipart), as itself in a JSON string: the message may name either.
        names.some((n) => [n, wellFormed(n)].some((v) => res.body.toLowerCase().includes(shown(v).toLowerCase()))) ||
        CONTROL.some((c) => res.body.includes(c)) ||
        PARAMS.some((p) => res.body.includes(`'${p}'`)) ||
        BODY_LEVEL.test(res.body);
      expect(named, `${what}\nsent: ${JSON.stringify(names)}`).toBe(true);
    }
  }
  if (/xml/.test(type) && r.method !== "HEAD") expect(await xsdErrors(res.body), what).toEqual([]);
  if (res.status === 303) {
    const loc = res.headers.get("location")!;
    expect(loc.startsWith(`${s.url}/`), what).toBe(true);
    const next = await http("GET", loc, { token: r.token });
    expect(next.status, `${what} → GET ${loc} → ${next.status} ${next.body.slice(0, 200)}`).toBeLessThan(300);
  }
}

/** Every file and folder name under dir (recursively), for "nothing outside the data dir". */
function names(dir: string, depth = 2): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    out.push(e.name);
    if (e.isDirectory() && depth > 0 && !e.isSymbolicLink()) out.push(...names(join(dir, e.name), depth - 1));
  }
  return out;
}

describe("fuzz: every route, method, content type and parameter type", () => {
  it(`never a 5xx; XML answers XSD-valid; 4xx text/plain naming the field; 303 targets answer 2xx (${RUNS} requests)`, async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        await check(r, await send(r));
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  });

  it("afterwards every job is readable and nothing was written outside the data dir", async () => {
    const list = await http("GET", `${s.url}/uws/types`, { token: ADMIN });
    const list2 = await http("GET", `${s.url}/uws/sleep`, { token: ADMIN });
    expect(list.status).toBe(200);
    expect(await xsdErrors(list.body)).toEqual([]);
    expect(await xsdErrors(list2.body)).toEqual([]);
    const jobs = [...(list.body + list2.body).matchAll(/xlink:href="([^"]+)"/g)].map((m) => m[1]!);
    expect(jobs.length).toBeGreaterThan(0);
    for (const job of jobs) {
      for (const sub of ["", "/parameters", "/results"]) {
        const r = await http("GET", job + sub, { token: ADMIN });
        expect(r.status, job + sub).toBe(200);
        // The job document holds parameters and results too; it is the one validated.
        if (sub === "") expect(await xsdErrors(r.body), job + sub).toEqual([]);
      }
      // Stop what the fuzz left running (the sleep definition).
      await http("DELETE", job, { token: ADMIN });
    }
    expect(readdirSync(outside)).toEqual([]);
    for (const dir of [tmpdir(), ROOT, s.dir]) expect(names(dir, dir === s.dir ? 1 : 0).filter((n) => n.includes(MARKER)), dir).toEqual([]);
  });
});
