// Jobs that never ran (a PENDING job aborted: no start, no process, no results) get their record
// when it is first asked for instead of when they end (record.ts recordedOnRequest): the final-phase
// hook sends the worker nothing for them; the document served is the one the worker made at the
// job's end before (same capture of the same stored row, python3-prov checks); the start-up scan
// never rebuilds them nor notes them as made after the fact; ProvSAP shows them as before — and a
// never-run job whose input is another job's result is still recorded at its end, so FORTH from
// that result reaches it. Real server, real worker thread, real SQLite, real HTTP.
import { afterAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { parse as parseYaml } from "yaml";
import { createServer } from "../../../runtime/server.js";
import { captureFinal, definitionFacts, hashAllSync, recordedOnRequest, REBUILT_NOTE } from "../../../runtime/provenance/record.js";
import type { ToWorker } from "../../../runtime/provenance/recorder.js";
import type { ProvenanceService } from "../../../runtime/provenance/service.js";
import { RUNTIME_VERSION } from "../../../runtime/version.js";
import { freePort } from "../../harness/ports.js";
import { createJob, http, waitFinal } from "../helpers.js";
import { definitionsDir, elementIds, fetchAll, hashProblems, library, structuralProblems } from "./checks.js";

const tmp = mkdtempSync(join(tmpdir(), "prov-never-ran-"));
const defs = definitionsDir();
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  rmSync(defs, { recursive: true, force: true });
});

type App = Awaited<ReturnType<typeof createServer>>;

/** A server on a fixed port (the documents' identifiers are bound to its URL: the same across restarts). */
async function serve(data: string, port: number): Promise<{ app: App; url: string }> {
  const app = await createServer({ data, definitions: defs, auth: "none", logger: false });
  await app.listen({ host: "127.0.0.1", port });
  return { app, url: `http://127.0.0.1:${port}` };
}

/** Every message the main thread posts to the provenance worker from now on (the real worker gets them too). */
function workerMessages(prov: ProvenanceService): ToWorker[] {
  const worker = (prov as unknown as { recorder: { worker: { postMessage(m: ToWorker): void } } }).recorder.worker;
  const sent: ToWorker[] = [];
  const post = worker.postMessage.bind(worker);
  worker.postMessage = (m: ToWorker) => {
    sent.push(m);
    post(m);
  };
  return sent;
}
const jobsSent = (sent: ToWorker[], id: string) => sent.filter((m) => m.type === "jobs" && m.ids.includes(id)) as Array<Extract<ToWorker, { type: "jobs" }>>;
const pendingOf = (prov: ProvenanceService) => (prov as unknown as { pending: Map<string, string> }).pending;
const idOf = (job: string) => job.split("/").pop()!;
const act = (job: string) => `uws:${job.split("/uws/")[1]}`;
const abort = async (job: string) => expect((await http("POST", `${job}/phase`, { form: { PHASE: "ABORT" } })).status).toBe(303);

/** The record the worker made at a job's end before records of never-run jobs waited for a request: the same capture of its stored row. */
function recordAtEnd(app: App, id: string): string {
  const service = app.uws.service;
  const job = service.db.get(id)!;
  const definition = definitionFacts(service.definitions.get(job.definition)!, parseYaml);
  const ctx = { workDir: service.jobDir(id), jobDir: (x: string) => service.jobDir(x), lookupJob: (x: string) => service.db.get(x), definition, server: { version: RUNTIME_VERSION, host: hostname(), executor: service.executor.name } };
  const { record, tasks } = captureFinal(job, ctx, false);
  hashAllSync(record, tasks);
  return app.uws.provenance!.json(record);
}

async function uploadJob(url: string, payload: Buffer): Promise<string> {
  const fd = new FormData();
  fd.append("data", new Blob([payload]), "in.txt");
  const r = await http("POST", `${url}/uws/upload`, { body: fd });
  expect(r.status).toBe(303);
  return r.headers.get("location")!;
}

/** A server on its own data folder for the callback, closed after it. */
async function withServer(name: string, fn: (s: { app: App; url: string }) => Promise<void>): Promise<void> {
  const s = await serve(join(tmp, name), await freePort());
  try {
    await fn(s);
  } finally {
    await s.app.close();
  }
}

describe("provenance of jobs that never ran", { timeout: 120_000 }, () => {
  it("an aborted PENDING job with an upload: nothing sent to the worker at its end; its first request serves the record made at its end before (python3-prov), stored, not noted as rebuilt", async () => {
    await withServer("upload", async ({ app, url }) => {
      const prov = app.uws.provenance!;
      await prov.scanned();
      const payload = Buffer.from("never used \u00e9\n".repeat(40));
      const job = await uploadJob(url, payload);
      const id = idOf(job);
      const sent = workerMessages(prov);
      await abort(job);
      expect(pendingOf(prov).has(id)).toBe(false);
      // The worker has done everything sent so far (gc goes through its queue): nothing for this job.
      await prov.gc();
      expect(jobsSent(sent, id)).toEqual([]);
      expect(prov.db.get(id)).toBeUndefined();

      const served = await fetchAll(`${job}/provenance`, "FORMAT");
      expect(served.text["PROV-JSON"]).toBe(recordAtEnd(app, id));
      const lib = await library(served);
      expect(lib.json_eq_xml && lib.json_roundtrip && lib.xml_roundtrip).toBe(true);
      expect(served.text["PROV-N"]).toBe(lib.provn_lib + "\n");
      expect(structuralProblems(served.json)).toEqual([]);
      expect([...lib.svg_titles].sort()).toEqual(elementIds(served.json).sort());
      expect((await hashProblems(served.json, () => undefined)).problems).toEqual([]);
      const a = served.json.activity[act(job)];
      expect(a["uwsx:phase"]).toBe("ABORTED");
      expect(a["prov:startTime"]).toBeUndefined();
      expect(JSON.stringify(served.json)).not.toContain(REBUILT_NOTE);
      const up = served.json.entity[`${act(job)}/parameters/data`];
      expect(up["uwsx:sha256"]).toBe(createHash("sha256").update(payload).digest("hex"));
      expect(up["uwsx:size"]).toBe(payload.length);
      // Made by the worker on that request (it read the row), once, and stored.
      expect(jobsSent(sent, id).map((m) => ({ rows: m.rows, rebuilt: m.rebuilt }))).toEqual([{ rows: undefined, rebuilt: false }]);
      const stored = JSON.parse(prov.db.get(id)!);
      expect(stored.notes).toEqual([]);
      expect(stored.complete).toBe(true);
      // Listed among the results like any final job's.
      expect((await http("GET", `${job}/results`)).body).toContain('id="provenance"');
    });
  });

  it("the start-up scan rebuilds none of them (restart after restart) while it still rebuilds a lost record of a job that ran; their documents stay the same", async () => {
    const data = join(tmp, "restart");
    const port = await freePort();
    let { app, url } = await serve(data, port);
    let asked: string, never: string, ran: string, askedDoc: string;
    try {
      await app.uws.provenance!.scanned();
      asked = await createJob(url, "hello", { name: "asked" });
      never = await createJob(url, "hello", { name: "never asked" });
      ran = await createJob(url, "hello", { name: "ran", PHASE: "RUN" });
      expect(await waitFinal(ran)).toBe("COMPLETED");
      await abort(asked);
      await abort(never);
      askedDoc = (await http("GET", `${asked}/provenance`)).body;
      await app.uws.provenance!.settle();
    } finally {
      await app.close();
    }
    // Stand-in for a crash between the end of the job that ran and its record: its row dropped.
    const db = new Database(join(data, "provenance.sqlite"));
    expect(db.prepare("DELETE FROM provenance WHERE job_id = ?").run(idOf(ran)).changes).toBe(1);
    db.close();

    for (const round of [1, 2]) {
      ({ app, url } = await serve(data, port));
      try {
        const prov = app.uws.provenance!;
        expect((await prov.scanned()).rebuilt, `restart ${round}`).toBe(round === 1 ? 1 : 0);
        expect(JSON.parse(prov.db.get(idOf(ran))!).notes).toEqual([REBUILT_NOTE]);
        expect(prov.db.get(idOf(never))).toBeUndefined();
        expect(JSON.parse(prov.db.get(idOf(asked))!).notes).toEqual([]);
        expect((await http("GET", `${asked}/provenance`)).body).toBe(askedDoc);
      } finally {
        await app.close();
      }
    }
    ({ app, url } = await serve(data, port));
    try {
      const doc = (await http("GET", `${never}/provenance`)).body;
      expect(doc).toBe(recordAtEnd(app, idOf(never)));
      expect(doc).not.toContain(REBUILT_NOTE);
    } finally {
      await app.close();
    }
  });

  it("the scan's rule in SQL is the hook's: a final job without a record is missing exactly when it is not made on request", async () => {
    await withServer("rule", async ({ app, url }) => {
      const prov = app.uws.provenance!;
      await prov.scanned();
      const service = app.uws.service;
      const made: string[] = [];
      const pending = async (def: string, form: Record<string, string>) => {
        const j = await createJob(url, def, form);
        made.push(idOf(j));
        return j;
      };
      // Never ran; never ran but a parameter names something like a result (twice: a CR before
      // "esults" is "\results" in the stored JSON); ran (start time); ran (executor handle); has results.
      await abort(await pending("hello", { name: "plain" }));
      await abort(await pending("hello", { name: "x/results/y" }));
      await abort(await pending("hello", { name: "a\results" }));
      await abort(await pending("consume", { source: `${url}/uws/hello/nosuchjob/results/greeting` }));
      const started = await pending("hello", { name: "started" });
      service.db.setPhase(idOf(started), "PENDING", Date.now());
      await abort(started);
      const handled = await pending("hello", { name: "handled" });
      service.db.setExecRef(idOf(handled), "stand-in-handle");
      await abort(handled);
      const ran = await pending("hello", { name: "ran", PHASE: "RUN" });
      expect(await waitFinal(ran)).toBe("COMPLETED");
      await prov.settle();
      // Records of the jobs recorded at their end dropped: which ones the scan would rebuild.
      prov.db.db.prepare(`DELETE FROM provenance WHERE job_id IN (${made.map(() => "?").join(",")})`).run(...made);
      const missing = new Set(prov.db.missing("", 1000).map((r) => r.id));
      const byRule = made.filter((id) => {
        const j = service.db.get(id)!;
        return !recordedOnRequest(j.started, j.execRef, j.results, j.params);
      });
      expect(byRule.length).toBe(made.length - 1);
      expect([...missing].filter((id) => made.includes(id)).sort()).toEqual(byRule.sort());
    });
  });

  it("ProvSAP as before: a never-run job is found by its ID; one whose input is another job's result is recorded at its end and reached FORTH from that result", async () => {
    await withServer("provsap", async ({ app, url }) => {
      const prov = app.uws.provenance!;
      await prov.scanned();
      const a = await createJob(url, "hello", { name: "source", PHASE: "RUN" });
      expect(await waitFinal(a)).toBe("COMPLETED");
      const rid = `${act(a)}/results/greeting`;
      await prov.settle();
      const sent = workerMessages(prov);
      // Never ran, but used A's result: recorded at its end with the link FORTH queries walk.
      const b = await createJob(url, "consume", { source: `${a}/results/greeting` });
      await abort(b);
      expect(pendingOf(prov).has(idOf(b))).toBe(true);
      await prov.settle();
      expect(jobsSent(sent, idOf(b)).map((m) => m.rows?.map((r) => r.id))).toEqual([[idOf(b)]]);
      expect(prov.db.consumers(idOf(a))).toEqual([idOf(b)]);
      const fwd = await fetchAll(`${url}/provenance?ID=${encodeURIComponent(rid)}&DIRECTION=FORTH&DEPTH=ALL`, "RESPONSEFORMAT");
      expect(Object.keys(fwd.json.activity)).toEqual([act(b)]);
      expect(Object.values<any>(fwd.json.used).some((u) => u["prov:activity"] === act(b) && u["prov:entity"] === rid)).toBe(true);
      expect(structuralProblems(fwd.json)).toEqual([]);
      const lib = await library(fwd);
      expect(lib.json_eq_xml && lib.json_roundtrip && lib.xml_roundtrip).toBe(true);

      // Never ran, named nothing: its record is made by the query itself, which shows it.
      const c = await createJob(url, "hello", { name: "alone" });
      await abort(c);
      expect(prov.db.get(idOf(c))).toBeUndefined();
      for (const dir of ["BACK", "FORTH"]) {
        const doc = JSON.parse((await http("GET", `${url}/provenance?ID=${idOf(c)}&DIRECTION=${dir}&DEPTH=ALL`)).body);
        expect(Object.keys(doc.activity)).toEqual([act(c)]);
        expect(structuralProblems(doc)).toEqual([]);
      }
      expect(JSON.parse(prov.db.get(idOf(c))!).notes).toEqual([]);
      // A result-ID of a job that has none is still a 404.
      expect((await http("GET", `${url}/provenance?ID=${encodeURIComponent(`${c}/results/greeting`)}`)).status).toBe(404);
    });
  });
});
