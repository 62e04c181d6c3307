// Checks the `prov` library does not make (it accepts dangling ids, bad dates and missing
// activities), and the run of the library itself (prov_check.py).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { http } from "../helpers.js";

const run = promisify(execFile);
const HERE = import.meta.dirname;
const SHIPPED = join(HERE, "../../../runtime/definitions");

/** The shipped definitions and the fixtures, in one folder. */
export function definitionsDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "prov-defs-"));
  for (const src of [SHIPPED, join(HERE, "fixtures")]) for (const n of readdirSync(src)) cpSync(join(src, n), join(dir, n));
  return dir;
}

export const FORMATS = ["PROV-JSON", "PROV-N", "PROV-XML", "SVG"] as const;
const FORMAL_REFS: Record<string, string[]> = {
  used: ["prov:activity", "prov:entity"],
  wasGeneratedBy: ["prov:entity", "prov:activity"],
  wasDerivedFrom: ["prov:generatedEntity", "prov:usedEntity", "prov:activity"],
  wasInformedBy: ["prov:informed", "prov:informant"],
  wasAssociatedWith: ["prov:activity", "prov:agent", "prov:plan"],
  wasAttributedTo: ["prov:entity", "prov:agent"],
  actedOnBehalfOf: ["prov:delegate", "prov:responsible", "prov:activity"],
};
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Every problem found: dangling references, bad times, activities ending before they start. */
export function structuralProblems(doc: any): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const k of ["entity", "activity", "agent"]) for (const id of Object.keys(doc[k] ?? {})) ids.add(id);
  const prefixes = new Set(Object.keys(doc.prefix ?? {}));
  for (const id of ids) if (!prefixes.has(id.split(":")[0]!)) problems.push(`${id}: undeclared prefix`);
  const time = (where: string, v: unknown) => {
    if (typeof v !== "string" || !ISO.test(v) || !Number.isFinite(Date.parse(v))) problems.push(`${where}: not an ISO 8601 time: ${JSON.stringify(v)}`);
  };
  const qnames = (where: string, attrs: Record<string, any>) => {
    for (const [k, v] of Object.entries(attrs)) {
      if (v && typeof v === "object" && v.type === "prov:QUALIFIED_NAME" && !/^(prov|voprov):/.test(v.$) && !ids.has(v.$)) problems.push(`${where} ${k}: ${v.$} does not exist`);
      if (v && typeof v === "object" && v.type === "xsd:dateTime") time(`${where} ${k}`, v.$);
    }
  };
  for (const k of ["entity", "activity", "agent"])
    for (const [id, a] of Object.entries<any>(doc[k] ?? {})) {
      qnames(id, a);
      if (k === "activity") {
        if (a["prov:startTime"] !== undefined) time(`${id} startTime`, a["prov:startTime"]);
        if (a["prov:endTime"] !== undefined) time(`${id} endTime`, a["prov:endTime"]);
        if (a["prov:startTime"] && a["prov:endTime"] && Date.parse(a["prov:startTime"]) > Date.parse(a["prov:endTime"])) problems.push(`${id}: ends before it starts`);
      }
    }
  for (const [kind, refs] of Object.entries(FORMAL_REFS))
    for (const [rid, r] of Object.entries<any>(doc[kind] ?? {})) {
      if (!r[refs[0]!] || !r[refs[1]!]) problems.push(`${kind} ${rid}: missing ${refs[0]} or ${refs[1]}`);
      for (const f of refs) if (r[f] !== undefined && !ids.has(r[f])) problems.push(`${kind} ${rid}: ${f} ${r[f]} does not exist`);
      if (r["prov:time"] !== undefined) time(`${kind} ${rid} time`, r["prov:time"]);
      qnames(`${kind} ${rid}`, r);
    }
  return problems;
}

/**
 * Every entity with a sha256: the bytes it names hash to it — read over HTTP from its location, or
 * from the job's work dir for step files (`fileOf` maps those ids to paths).
 */
export async function hashProblems(doc: any, fileOf: (id: string) => string | undefined, token?: string): Promise<{ checked: number; problems: string[] }> {
  const problems: string[] = [];
  let checked = 0;
  for (const [id, a] of Object.entries<any>(doc.entity ?? {})) {
    const sha = a["uwsx:sha256"];
    if (sha === undefined) continue;
    let bytes: Buffer;
    const file = fileOf(id);
    if (file) bytes = readFileSync(file);
    else {
      const loc = a["prov:location"]?.$;
      if (!loc) {
        problems.push(`${id}: a hash but no location`);
        continue;
      }
      const r = await fetch(loc, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      if (r.status !== 200) {
        problems.push(`${id}: ${loc} answers ${r.status}`);
        continue;
      }
      bytes = Buffer.from(await r.arrayBuffer());
    }
    checked++;
    const real = createHash("sha256").update(bytes).digest("hex");
    if (real !== sha) problems.push(`${id}: sha256 ${sha} but the bytes hash to ${real}`);
    if (a["uwsx:size"] !== bytes.length) problems.push(`${id}: size ${a["uwsx:size"]} but ${bytes.length} bytes`);
  }
  return { checked, problems };
}

export interface Served {
  json: any;
  text: Record<(typeof FORMATS)[number], string>;
}

/** The four serializations of a provenance URL (FORMAT or RESPONSEFORMAT parameter). */
export async function fetchAll(url: string, paramName: "FORMAT" | "RESPONSEFORMAT", token?: string): Promise<Served> {
  const text = {} as Served["text"];
  for (const f of FORMATS) {
    const sep = url.includes("?") ? "&" : "?";
    const r = await http("GET", `${url}${sep}${paramName}=${f}`, { token });
    if (r.status !== 200) throw new Error(`${url} ${f}: ${r.status} ${r.body}`);
    text[f] = r.body;
  }
  return { json: JSON.parse(text["PROV-JSON"]), text };
}

export interface LibraryView {
  json_eq_xml: boolean;
  json_roundtrip: boolean;
  xml_roundtrip: boolean;
  records: number;
  provn_lib: string;
  svg_titles: string[];
}

/** Runs Debian's python3-prov over the four serializations. */
export async function library(s: Served): Promise<LibraryView> {
  const dir = mkdtempSync(join(tmpdir(), "prov-check-"));
  try {
    const files = ["doc.json", "doc.xml", "doc.provn", "doc.svg"].map((n) => join(dir, n));
    writeFileSync(files[0]!, s.text["PROV-JSON"]);
    writeFileSync(files[1]!, s.text["PROV-XML"]);
    writeFileSync(files[2]!, s.text["PROV-N"]);
    writeFileSync(files[3]!, s.text.SVG);
    const { stdout } = await run("/usr/bin/python3", [join(HERE, "prov_check.py"), ...files], { timeout: 60_000 });
    return JSON.parse(stdout.trim().split("\n").pop()!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function elementIds(doc: any): string[] {
  return ["entity", "activity", "agent"].flatMap((k) => Object.keys(doc[k] ?? {}));
}
