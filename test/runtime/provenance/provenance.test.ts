// Job provenance over real HTTP with the local executor: hello, a failing job, an upload, a two-job
// chain (job B's URL parameter is job A's result URL) and a job writing a step log. Every
// serialization is loaded by Debian's python3-prov (PROV-JSON and PROV-XML load equal and
// round-trip; our PROV-N is the library's PROV-N of the same document), plus checks the library
// does not make (dangling ids, ISO times, hashes against the files), the SVG, the result listing and
// the stored records (real SQLite).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { createJob, http, startServer, waitFinal, xsdErrors, type Running } from "../helpers.js";
import { definitionsDir, elementIds, fetchAll, hashProblems, library, structuralProblems, type Served } from "./checks.js";


let s: Running;
let defs: string;
beforeAll(async () => {
  defs = definitionsDir();
  s = await startServer({ auth: "none", definitions: defs, local: { concurrency: 4 } });
});
afterAll(async () => {
  await s?.stop();
  rmSync(defs, { recursive: true, force: true });
});

async function runJob(def: string, form: Record<string, string>): Promise<string> {
  const job = await createJob(s.url, def, { ...form, PHASE: "RUN" });
  await waitFinal(job);
  return job;
}

/** Everything the library and our own checks say about one job's provenance. */
async function checkJob(job: string): Promise<Served> {
  const served = await fetchAll(`${job}/provenance`, "FORMAT");
  const lib = await library(served);
  expect(lib.json_eq_xml, "PROV-JSON and PROV-XML load equal").toBe(true);
  expect(lib.json_roundtrip).toBe(true);
  expect(lib.xml_roundtrip).toBe(true);
  expect(lib.records).toBeGreaterThan(5);
  expect(served.text["PROV-N"]).toBe(lib.provn_lib + "\n");
  expect(structuralProblems(served.json)).toEqual([]);
  const id = job.split("/").pop()!;
  const dir = s.app.uws.service.jobDir(id);
  const files = await hashProblems(served.json, (eid) => (eid.includes(`/${id}/files/`) ? join(dir, decodeURIComponent(eid.split(`/${id}/files/`)[1]!)) : undefined));
  expect(files.problems).toEqual([]);
  expect([...lib.svg_titles].sort()).toEqual(elementIds(served.json).sort());
  return served;
}

const act = (job: string) => `uws:${job.split("/uws/")[1]}`;

describe("job provenance", () => {
  it("hello: activity, description, parameter, result with hash, agents; listed among the results", async () => {
    const job = await runJob("hello", { name: "Ada" });
    const { json } = await checkJob(job);
    const a = json.activity[act(job)];
    expect(a["uwsx:phase"]).toBe("COMPLETED");
    expect(a["prov:startTime"]).toMatch(/Z$/);
    const greeting = json.entity[`${act(job)}/results/greeting`];
    expect(greeting["uwsx:mimeType"]).toBe("text/plain");
    expect(greeting["uwsx:size"]).toBe("hello Ada\n".length);
    expect(greeting["prov:location"].$).toBe(`${job}/results/greeting`);
    expect(json.entity[`${act(job)}/parameters/name`]["prov:value"]).toBe("Ada");
    const desc = Object.entries<any>(json.entity).find(([, e]) => e["prov:type"]?.$ === "voprov:ActivityDescription")!;
    expect(desc[1]["voprov:name"]).toBe("hello");
    expect(desc[1]["voprov:version"]).toMatch(/^sha256-[0-9a-f]{12}$/);
    const agents = Object.values<any>(json.agent).map((g) => g["prov:type"]?.$);
    expect(agents).toEqual(expect.arrayContaining(["prov:Person", "prov:SoftwareAgent"]));
    expect(Object.values<any>(json.agent).some((g) => g["voprov:type"] === "cluster host")).toBe(true);
    expect(Object.values<any>(json.wasAssociatedWith).find((r) => r["prov:plan"])["prov:plan"]).toBe(desc[0]);
    expect(Object.values<any>(json.wasAttributedTo)[0]["prov:entity"]).toBe(`${act(job)}/results/greeting`);

    // Listed among the results (uws:result with xlink:href, schema-valid), without a size: the
    // document is made just after the job ended, off the path that finishes it.
    const results = await http("GET", `${job}/results`);
    expect(await xsdErrors(results.body)).toEqual([]);
    expect(await xsdErrors((await http("GET", job)).body)).toEqual([]);
    const entry = /<uws:result id="provenance" xlink:type="simple" xlink:href="([^"]+)" mime-type="application\/json"\/>/.exec(results.body);
    expect(entry).not.toBeNull();
    expect(entry![1]).toBe(`${job}/results/provenance`);
    const viaResults = await http("GET", entry![1]!);
    expect(viaResults.status).toBe(200);
    expect(viaResults.headers.get("content-type")).toContain("application/json");
    expect(JSON.parse(viaResults.body).activity).toBeTruthy();
    expect(viaResults.body).toBe((await http("GET", `${job}/provenance`)).body);
    // The JSON forms (the portal reads the job's) list it last, after the job's own results.
    const json1 = { headers: { accept: "application/json" } };
    const listed = [`${job}/results/greeting`, `${job}/results/provenance`];
    expect(JSON.parse((await http("GET", job, json1)).body).results.map((r: { href: string }) => r.href)).toEqual(listed);
    const asJson = JSON.parse((await http("GET", `${job}/results`, json1)).body).results;
    expect(asJson.map((r: { href: string }) => r.href)).toEqual(listed);
    expect(asJson[1]).toEqual({ id: "provenance", href: listed[1], size: null, mimeType: "application/json" });
    // Listed when served, not stored: the row a finishing job writes stays as without provenance.
    expect(s.app.uws.service.db.get(job.split("/").pop()!)!.results.map((r) => r.id)).toEqual(["greeting"]);
    // A job that is not final has none.
    const pending = await createJob(s.url, "hello", { name: "later" });
    expect((await http("GET", `${pending}/results`)).body).not.toContain('id="provenance"');
  });

  it("a failed job: ERROR phase and message, its partial result, the same checks", async () => {
    const job = await runJob("fail", { reason: "disk \"full\" & <gone>" });
    const { json } = await checkJob(job);
    const a = json.activity[act(job)];
    expect(a["uwsx:phase"]).toBe("ERROR");
    expect(a["uwsx:error"]).toMatch(/exited with status 3/);
    expect(json.entity[`${act(job)}/results/partial`]["uwsx:sha256"]).toMatch(/^[0-9a-f]{64}$/);
    expect(json.entity[`${act(job)}/parameters/reason`]["prov:value"]).toBe('disk "full" & <gone>');
  });

  it("an upload: the uploaded file is a used entity with its hash and size; the definition's version", async () => {
    const fd = new FormData();
    fd.append("PHASE", "RUN");
    const payload = Buffer.from("uploaded bytes \u00e9\n".repeat(50));
    fd.append("data", new Blob([payload]), "in.txt");
    const r = await http("POST", `${s.url}/uws/upload`, { body: fd });
    expect(r.status).toBe(303);
    const job = r.headers.get("location")!;
    expect(await waitFinal(job)).toBe("COMPLETED");
    const { json } = await checkJob(job);
    const up = json.entity[`${act(job)}/parameters/data`];
    expect(up["uwsx:size"]).toBe(payload.length);
    expect(up["prov:location"].$).toBe(`${job}/parameters/data`);
    const used = Object.values<any>(json.used).find((u) => u["prov:entity"] === `${act(job)}/parameters/data`);
    expect(used["prov:role"]).toBe("data");
    expect(json.entity[`${act(job)}/results/copy`]["uwsx:sha256"]).toBe(up["uwsx:sha256"]);
    const desc = Object.values<any>(json.entity).find((e) => e["prov:type"]?.$ === "voprov:ActivityDescription");
    expect(desc["voprov:version"]).toBe("1.2");
  });

  it("a two-job chain: job B's used entity IS job A's result entity (same id), and ProvSAP walks the chain both ways", async () => {
    const a = await runJob("hello", { name: "chain" });
    const b = await runJob("consume", { source: `${a}/results/greeting` });
    expect((await http("GET", `${b}/results/count`)).body.trim()).toBe(String("hello chain\n".length));
    const A = await checkJob(a);
    const B = await checkJob(b);
    const rid = `${act(a)}/results/greeting`;
    expect(B.json.entity[rid]).toEqual(A.json.entity[rid]);
    expect(Object.values<any>(B.json.used).some((u) => u["prov:activity"] === act(b) && u["prov:entity"] === rid && u["prov:role"] === "source")).toBe(true);
    // The float parameter's description keeps its unit, UCD and bounds.
    const scale = Object.values<any>(B.json.entity).find((e) => e["prov:type"]?.$ === "voprov:ParameterDescription" && e["voprov:name"] === "scale");
    expect(scale).toMatchObject({ "voprov:datatype": "double", "voprov:unit": "arcsec", "voprov:ucd": "pos.angResolution", "voprov:min": "0", "voprov:max": "10" });

    // BACK from B's result reaches A's activity; FORTH from A's result reaches B's results.
    const back = await fetchAll(`${s.url}/provenance?ID=${encodeURIComponent(`${b}/results/count`)}&DEPTH=ALL&DIRECTION=BACK`, "RESPONSEFORMAT");
    expect(Object.keys(back.json.activity).sort()).toEqual([act(a), act(b)].sort());
    const lib = await library(back);
    expect(lib.json_eq_xml && lib.json_roundtrip && lib.xml_roundtrip).toBe(true);
    expect(back.text["PROV-N"]).toBe(lib.provn_lib + "\n");
    expect(structuralProblems(back.json)).toEqual([]);
    const fwd = (await http("GET", `${s.url}/provenance?ID=${encodeURIComponent(rid)}&DIRECTION=FORTH`)).body;
    const fj = JSON.parse(fwd);
    expect(Object.keys(fj.activity)).toEqual([act(b)]);
    expect(Object.keys(fj.entity)).toEqual(expect.arrayContaining([rid, `${act(b)}/results/count`, `${act(b)}/results/copy`]));
    expect(structuralProblems(fj)).toEqual([]);
    // DEPTH bounds the walk: one relation back from B's result is B's activity only.
    const one = JSON.parse((await http("GET", `${s.url}/provenance?ID=${encodeURIComponent(`${b}/results/count`)}&DEPTH=1`)).body);
    expect(Object.keys(one.activity)).toEqual([act(b)]);
    expect(one.entity[rid]).toBeUndefined();
    // A bare job id and a uws: name work as IDs too.
    expect((await http("GET", `${s.url}/provenance?ID=${b.split("/").pop()}`)).status).toBe(200);
    expect((await http("GET", `${s.url}/provenance?ID=${encodeURIComponent(act(b))}&RESPONSEFORMAT=PROV-N`)).body).toMatch(/^document\n/);
  });

  it("a step log: steps are sub-activities (wasInformedBy), each VOTable derives from its raw file and each thumbnail from its VOTable; lineage from the query to each thumbnail", async () => {
    const query = "http://127.0.0.1:9/tap/sync?REQUEST=doQuery&LANG=ADQL&QUERY=SELECT%20*%20FROM%20t";
    const job = await runJob("pipeline", { query, objects: "2" });
    const { json } = await checkJob(job);
    const A = act(job);
    const steps = Object.keys(json.activity).filter((k) => k.startsWith(`${A}/steps/`));
    expect(steps.map((k) => json.activity[k]["voprov:name"])).toEqual(["query", "download", "votable", "thumbnail"]);
    const informed = Object.values<any>(json.wasInformedBy).map((r) => [r["prov:informed"], r["prov:informant"]]);
    expect(informed).toEqual(expect.arrayContaining([[`${A}/steps/2`, `${A}/steps/1`], [`${A}/steps/3`, `${A}/steps/2`], [`${A}/steps/4`, `${A}/steps/3`], [A, `${A}/steps/4`]]));
    const derived = Object.values<any>(json.wasDerivedFrom).map((r) => [r["prov:generatedEntity"], r["prov:usedEntity"]]);
    for (const i of [1, 2]) {
      expect(derived).toContainEqual([`${A}/results/votable-${i}`, `${A}/files/raw/obj${i}.fits`]);
      expect(derived).toContainEqual([`${A}/results/thumbnail-${i}`, `${A}/results/votable-${i}`]);
    }
    // The query URL used by the first step is the job's own URL parameter entity... no: the URL
    // input itself (role `query`), shared by the job and the step.
    const qUsed = Object.values<any>(json.used).filter((u) => u["prov:role"] === "query" || u["prov:activity"] === `${A}/steps/1`);
    const qEntity = qUsed.find((u) => u["prov:activity"] === `${A}/steps/1`)["prov:entity"];
    expect(json.entity[qEntity]["prov:location"].$).toBe(new URL(query).href);
    // Lineage: BACK from each thumbnail reaches the query entity.
    for (const i of [1, 2]) {
      const back = JSON.parse((await http("GET", `${s.url}/provenance?ID=${encodeURIComponent(`${job}/results/thumbnail-${i}`)}&DIRECTION=BACK`)).body);
      expect(back.entity[qEntity]).toBeDefined();
      expect(back.entity[`${A}/files/raw/obj${i}.fits`]).toBeDefined();
      expect(structuralProblems(back)).toEqual([]);
    }
  });

  it("records live in SQLite (provenance.sqlite) with the hashes taken at completion; deleting the job deletes them", async () => {
    const job = await runJob("hello", { name: "stored" });
    await http("GET", `${job}/provenance`);
    const prov = s.app.uws.provenance!;
    await prov.settle();
    const id = job.split("/").pop()!;
    const rec = JSON.parse(prov.db.get(id)!);
    expect(rec.complete).toBe(true);
    expect(rec.notes).toEqual([]);
    expect(rec.generated[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rec.generated[0].sha256).not.toBe("0".repeat(64));
    expect((await http("DELETE", job)).status).toBe(303);
    // The worker removes the rows of deleted jobs every few minutes; gc() does it now.
    expect(await prov.gc()).toBeGreaterThanOrEqual(1);
    expect(prov.db.get(id)).toBeUndefined();
  });

  it("content negotiation, FORMAT, and errors", async () => {
    const job = await runJob("hello", { name: "neg" });
    const get = (h: Record<string, string>, q = "") => http("GET", `${job}/provenance${q}`, { headers: h });
    expect((await get({})).headers.get("content-type")).toContain("application/json");
    expect((await get({ accept: "text/provenance-notation" })).headers.get("content-type")).toContain("text/provenance-notation");
    expect((await get({ accept: "application/provenance+xml" })).body).toMatch(/^<\?xml/);
    expect((await get({ accept: "image/svg+xml" })).body).toContain("<svg");
    expect((await get({ accept: "text/html;q=0.9, image/svg+xml;q=0.2, application/provenance+xml;q=0.5" })).headers.get("content-type")).toContain("application/provenance+xml");
    expect((await get({ accept: "text/csv" })).status).toBe(406);
    expect((await get({ accept: "image/svg+xml" }, "?FORMAT=prov-n")).body).toMatch(/^document\n/);
    expect((await get({}, "?FORMAT=pdf")).status).toBe(400);
    const pending = await createJob(s.url, "sleep", { seconds: "5" });
    expect((await http("GET", `${pending}/provenance`)).status).toBe(404);
    expect((await http("GET", `${s.url}/provenance`)).status).toBe(400);
    expect((await http("GET", `${s.url}/provenance?ID=nosuchjob`)).status).toBe(404);
    expect((await http("GET", `${s.url}/provenance?ID=${job.split("/").pop()}&DEPTH=-1`)).status).toBe(400);
    expect((await http("GET", `${s.url}/provenance?ID=${job.split("/").pop()}&DIRECTION=SIDEWAYS`)).status).toBe(400);
  });
});
