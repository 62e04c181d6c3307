// Who sees which provenance: the rules of results (owners their own jobs, the admin all; 401
// without credentials, 403 on another owner's job), and ProvSAP never shows another owner's job,
// even when one of the caller's jobs used its result.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createJob, http, startServer, waitFinal, type Running } from "../helpers.js";
import { definitionsDir, structuralProblems } from "./checks.js";

let s: Running;
let defs: string;
const adminFile = join(tmpdir(), `uws-prov-admin-${process.pid}`);
beforeAll(async () => {
  defs = definitionsDir();
  writeFileSync(adminFile, "root-token\n", { mode: 0o400 });
  s = await startServer({ auth: "tokens", tokens: ["a=alice", "b=bob"], adminTokenFile: adminFile, definitions: defs });
});
afterAll(async () => {
  await s?.stop();
  rmSync(defs, { recursive: true, force: true });
  rmSync(adminFile, { force: true });
});

const jobIdOf = (url: string) => url.split("/").pop()!;
const q = (id: string, more = "") => `${s.url}/provenance?ID=${encodeURIComponent(id)}${more}`;
const activities = (doc: any) => Object.keys(doc.activity ?? {});

describe("provenance access", () => {
  let alices: string;
  let bobs: string;
  let bobsOwn: string;
  beforeAll(async () => {
    alices = await createJob(s.url, "hello", { name: "secret", PHASE: "RUN" }, "a");
    await waitFinal(alices, "a");
    // Bob feeds Alice's result URL to his job (his download fails: he may not read it).
    bobs = await createJob(s.url, "consume", { source: `${alices}/results/greeting`, PHASE: "RUN" }, "b");
    await waitFinal(bobs, "b");
    const bobA = await createJob(s.url, "hello", { name: "bob", PHASE: "RUN" }, "b");
    await waitFinal(bobA, "b");
    bobsOwn = await createJob(s.url, "consume", { source: `${bobA}/results/greeting`, PHASE: "RUN" }, "b");
    await waitFinal(bobsOwn, "b");
  });

  it("a job's provenance: 401 without credentials, 403 for another owner, 200 for the owner and the admin", async () => {
    for (const path of ["/provenance", "/results/provenance"]) {
      expect((await http("GET", `${alices}${path}`)).status).toBe(401);
      expect((await http("GET", `${alices}${path}`, { token: "b" })).status).toBe(403);
      expect((await http("GET", `${alices}${path}`, { token: "a" })).status).toBe(200);
      expect((await http("GET", `${alices}${path}`, { token: "root-token" })).status).toBe(200);
    }
    expect((await http("GET", q(jobIdOf(alices)))).status).toBe(401);
  });

  it("Bob's job names Alice's result entity but shows nothing of it (no hash, no MIME type, no activity of hers)", async () => {
    const doc = JSON.parse((await http("GET", `${bobs}/provenance`, { token: "b" })).body);
    const rid = `uws:hello/${jobIdOf(alices)}/results/greeting`;
    expect(doc.entity[rid]).toBeDefined();
    expect(doc.entity[rid]["uwsx:sha256"]).toBeUndefined();
    expect(doc.entity[rid]["uwsx:mimeType"]).toBeUndefined();
    expect(JSON.stringify(doc)).not.toContain("alice");
    expect(structuralProblems(doc)).toEqual([]);
    // His own chain carries the hash of his own result.
    const own = JSON.parse((await http("GET", `${bobsOwn}/provenance`, { token: "b" })).body);
    const used = Object.values<any>(own.used).find((u) => u["prov:role"] === "source" && !u["voprov:artefactType"])["prov:entity"];
    expect(own.entity[used]["uwsx:sha256"]).toMatch(/^[0-9a-f]{64}$/);
  });

  it("ProvSAP: another owner's jobs never appear, in either direction; the admin sees the whole chain", async () => {
    const back = JSON.parse((await http("GET", q(jobIdOf(bobs), "&DEPTH=ALL&DIRECTION=BACK"), { token: "b" })).body);
    expect(activities(back)).toEqual([`uws:consume/${jobIdOf(bobs)}`]);
    expect(JSON.stringify(back)).not.toContain("alice");
    expect((await http("GET", q(jobIdOf(alices)), { token: "b" })).status).toBe(404);
    expect((await http("GET", q(`${alices}/results/greeting`), { token: "b" })).status).toBe(404);
    const fwd = JSON.parse((await http("GET", q(`${alices}/results/greeting`, "&DIRECTION=FORTH"), { token: "a" })).body);
    expect(activities(fwd)).toEqual([]);
    expect(JSON.stringify(fwd)).not.toContain("bob");
    const admin = JSON.parse((await http("GET", q(jobIdOf(bobs), "&DIRECTION=BACK"), { token: "root-token" })).body);
    expect(activities(admin).sort()).toEqual([`uws:consume/${jobIdOf(bobs)}`, `uws:hello/${jobIdOf(alices)}`].sort());
    expect(structuralProblems(admin)).toEqual([]);
    const adminFwd = JSON.parse((await http("GET", q(`${alices}/results/greeting`, "&DIRECTION=FORTH"), { token: "root-token" })).body);
    expect(activities(adminFwd)).toEqual([`uws:consume/${jobIdOf(bobs)}`]);
  });

  it("jobs that never ran (records made when asked for, or at their end when they name a result): the same rules", async () => {
    const abort = async (job: string, token: string) => expect((await http("POST", `${job}/phase`, { form: { PHASE: "ABORT" }, token })).status).toBe(303);
    const lazy = await createJob(s.url, "hello", { name: "never" }, "b");
    await abort(lazy, "b");
    expect((await http("GET", `${lazy}/provenance`, { token: "a" })).status).toBe(403);
    expect((await http("GET", q(jobIdOf(lazy)), { token: "a" })).status).toBe(404);
    expect(activities(JSON.parse((await http("GET", q(jobIdOf(lazy)), { token: "b" })).body))).toEqual([`uws:hello/${jobIdOf(lazy)}`]);
    // Bob's never-run job fed Alice's result: FORTH from it, Alice sees none of his; the admin does.
    const linked = await createJob(s.url, "consume", { source: `${alices}/results/greeting` }, "b");
    await abort(linked, "b");
    const fwd = JSON.parse((await http("GET", q(`${alices}/results/greeting`, "&DIRECTION=FORTH"), { token: "a" })).body);
    expect(activities(fwd)).toEqual([]);
    expect(JSON.stringify(fwd)).not.toContain("bob");
    const adminFwd = JSON.parse((await http("GET", q(`${alices}/results/greeting`, "&DIRECTION=FORTH"), { token: "root-token" })).body);
    expect(activities(adminFwd).sort()).toEqual([`uws:consume/${jobIdOf(bobs)}`, `uws:consume/${jobIdOf(linked)}`].sort());
  });
});
