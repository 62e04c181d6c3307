// The issue's "done when", with the real Vesta workflow (examples/apps/vesta, epn-spectra: pyvo,
// astropy, matplotlib) against the EPN-TAP fixture on loopback: its provenance loads in python3-prov,
// its lineage goes from the TAP query to each thumbnail (through the step log's downloads and
// VOTables), and a second job fed with one of its results links back to it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { EpnTapFixture, vestaGranules } from "../../apps/epntap-fixture.js";
import { createJob, http, startServer, waitFinal, type Running } from "../helpers.js";
import { definitionsDir, fetchAll, hashProblems, library, structuralProblems } from "./checks.js";

const REPO = join(import.meta.dirname, "../../..");
let s: Running;
let defs: string;
const fixture = new EpnTapFixture(vestaGranules(2));
beforeAll(async () => {
  await fixture.start("127.0.0.1");
  defs = definitionsDir();
  s = await startServer({ auth: "none", definitions: defs, apps: join(REPO, "examples/apps"), local: { concurrency: 2 } });
});
afterAll(async () => {
  await s?.stop();
  await fixture.stop();
  rmSync(defs, { recursive: true, force: true });
});

describe("provenance of the Vesta workflow", () => {
  it("TAP query → downloads → VOTables → thumbnails, and a second job links back", { timeout: 240_000 }, async () => {
    const job = await createJob(s.url, "epn-spectra", { services: fixture.service, limit: "2", PHASE: "RUN" });
    expect(await waitFinal(job, undefined, 180)).toBe("COMPLETED");
    const A = `uws:${job.split("/uws/")[1]}`;
    const served = await fetchAll(`${job}/provenance`, "FORMAT");
    const lib = await library(served);
    expect(lib.json_eq_xml && lib.json_roundtrip && lib.xml_roundtrip).toBe(true);
    expect(served.text["PROV-N"]).toBe(lib.provn_lib + "\n");
    expect(structuralProblems(served.json)).toEqual([]);
    const id = job.split("/").pop()!;
    const dir = s.app.uws.service.jobDir(id);
    const hashes = await hashProblems(served.json, (eid) => (eid.includes(`/${id}/files/`) ? join(dir, decodeURIComponent(eid.split(`/${id}/files/`)[1]!)) : undefined));
    expect(hashes.problems).toEqual([]);
    expect(hashes.checked).toBeGreaterThan(6);
    const tap = fixture.service.split("|")[0]!.replace(/\/+$/, "");
    const tapEntity = Object.entries<any>(served.json.entity).find(([, e]) => e["prov:location"]?.$ === new URL(tap).href)?.[0];
    expect(tapEntity, "the TAP service is a used entity").toBeDefined();
    const thumbs = Object.keys(served.json.entity).filter((k) => /\/results\/thumbnail-\d+$/.test(k));
    expect(thumbs.length).toBe(2);
    for (const t of thumbs) {
      const back = JSON.parse((await http("GET", `${s.url}/provenance?ID=${encodeURIComponent(t)}&DIRECTION=BACK`)).body);
      expect(back.entity[tapEntity!], `lineage of ${t} reaches the TAP query`).toBeDefined();
      const vot = t.replace(/thumbnail-(\d+)$/, "votable-$1");
      expect(Object.values<any>(back.wasDerivedFrom).some((r) => r["prov:generatedEntity"] === t && r["prov:usedEntity"] === vot)).toBe(true);
      expect(Object.values<any>(back.wasDerivedFrom).some((r) => r["prov:generatedEntity"] === vot && r["prov:usedEntity"].startsWith(`${A}/files/raw/`))).toBe(true);
    }
    // A second job fed with one of its results links back to it (and on to the query).
    const second = await createJob(s.url, "consume", { source: `${job}/results/votable-1`, PHASE: "RUN" });
    expect(await waitFinal(second)).toBe("COMPLETED");
    const chain = JSON.parse((await http("GET", `${s.url}/provenance?ID=${encodeURIComponent(`${second}/results/count`)}&DIRECTION=BACK`)).body);
    expect(Object.keys(chain.activity)).toEqual(expect.arrayContaining([A, `uws:${second.split("/uws/")[1]}`]));
    expect(chain.entity[tapEntity!]).toBeDefined();
    expect(structuralProblems(chain)).toEqual([]);
  });
});
