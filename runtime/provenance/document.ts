// The PROV document of one job record (IVOA Provenance DM, written as plain W3C PROV records with
// prov:type = voprov:… where the IVOA model has its own class).
//
// Identifiers (prefix → namespace):
//   uws:  {base}/uws/        the job (Activity), its results and uploads (Entities), its parameters
//                            and steps — ids of results and parameters ARE their URLs, so a job fed
//                            with another job's result URL uses the very same entity
//   uwsc: {base}/provenance/ agents (owner, job server, host), definitions, external URLs
//   uwsx: urn:uws-cluster:provenance#   our attribute names (sha256, size, mimeType, phase, …)
import { createHash } from "node:crypto";
import { ProvDoc, UWSX_NS, VOPROV_NS, dt, qn, uri, type Value } from "./model.js";
import type { JobRecord, Ref } from "./record.js";

/** A local part safe in PROV-N, PROV-XML and PROV-JSON: bytes outside [A-Za-z0-9_-] and inner dots kept, the rest %-encoded. */
const SAFE = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
export function safe(s: string): string {
  if (SAFE.test(s)) return s;
  const enc = Array.from(Buffer.from(s, "utf8"))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9_.-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
    })
    .join("");
  return enc.replace(/^\./, "%2E").replace(/\.$/, "%2E");
}

export function prefixes(base: string): Record<string, string> {
  return { voprov: VOPROV_NS, uwsx: UWSX_NS, uws: `${base}/uws/`, uwsc: `${base}/provenance/` };
}

const iso = (ms: number) => new Date(ms).toISOString();

export const ids = {
  job: (def: string, job: string) => `uws:${def}/${job}`,
  result: (def: string, job: string, rid: string) => `uws:${def}/${job}/results/${safe(rid)}`,
  param: (def: string, job: string, name: string) => `uws:${def}/${job}/parameters/${safe(name)}`,
  step: (def: string, job: string, n: number) => `uws:${def}/${job}/steps/${n}`,
  file: (def: string, job: string, path: string) => `uws:${def}/${job}/files/${path.split("/").map(safe).join("/")}`,
  url: (u: string) => `uwsc:url/${createHash("sha256").update(u).digest("hex").slice(0, 24)}`,
  owner: (o: string | null) => `uwsc:owner/${o === null ? "anonymous" : safe(o)}`,
  server: (version: string) => `uwsc:job-server/${safe(version)}`,
  host: (h: string) => `uwsc:host/${safe(h)}`,
  definition: (name: string, version: string) => `uwsc:definition/${name}/${safe(version)}`,
};

/** The VOTable datatype of a parameter type (ProvDM ParameterDescription.datatype). */
const DATATYPE: Record<string, string> = { string: "char", int: "long", float: "double", bool: "boolean", enum: "char", file: "char", url: "char" };

/** The PROV document of one job. `base` is the server's canonical URL (no trailing slash). */
export function jobDocument(rec: JobRecord, base: string): ProvDoc {
  const doc = new ProvDoc(prefixes(base));
  const { job } = rec;
  const D = job.definition;
  const J = job.id;
  const jobUrl = `${base}/uws/${D}/${J}`;
  const act = ids.job(D, J);
  const defId = ids.definition(rec.definition.name, rec.definition.version);
  const owner = ids.owner(job.owner);
  const server = ids.server(rec.server.version);
  const host = ids.host(rec.server.host);
  const hash = (f: { sha256?: string; size?: number }) => ({ "uwsx:sha256": f.sha256, "uwsx:size": f.size });

  // Entities first: the description, parameters, inputs, results, step files. The description and
  // the agents are the same for every job of a definition: made once per server URL and shared.
  const key = `${base}\u0000${defId}\u0000${owner}\u0000${server}\u0000${host}`;
  let fixed = FIXED.get(key);
  if (!fixed) {
    const d = new ProvDoc({});
    fixedParts(d, rec, base, defId, owner, server, host);
    fixed = { entity: [...d.elements.entity].map(([id, a]) => [id, Object.freeze(a)] as const), agent: [...d.elements.agent].map(([id, a]) => [id, Object.freeze(a)] as const) };
    if (FIXED.size >= 1000) FIXED.clear();
    FIXED.set(key, fixed);
  }
  for (const [id, a] of fixed.entity) doc.shared("entity", id, a);
  const paramDesc = (name: string) => (rec.definition.parameters.some((p) => p.name === name) ? qn(`${defId}/parameters/${safe(name)}`) : undefined);

  const usedIds = new Map<string, string>(); // role → entity id
  for (const p of rec.params) {
    if (p.type === "file" || p.byReference) continue; // the upload entity is the parameter
    doc.entity(ids.param(D, J, p.name), {
      "prov:label": `${p.name} = ${p.value.length > 60 ? p.value.slice(0, 57) + "..." : p.value}`,
      "prov:type": qn("voprov:Parameter"),
      "prov:value": p.value,
      "voprov:name": p.name,
      "uwsx:description": paramDesc(p.name),
    });
  }
  for (const u of rec.used) {
    let id: string;
    if (u.kind === "upload") {
      id = ids.param(D, J, u.role);
      doc.entity(id, { "prov:label": `upload ${u.role}`, "prov:location": uri(`${jobUrl}/parameters/${encodeURIComponent(u.role)}`), "voprov:name": u.role, ...hash(u), "uwsx:description": paramDesc(u.role) });
    } else if (u.kind === "result" && u.source) {
      const s = u.source;
      id = ids.result(s.definition, s.job, s.result);
      doc.entity(id, resultAttrs(base, s.definition, s.job, s.result, s.sameOwner ? { ...u, mimeType: s.mimeType } : {}));
    } else {
      id = ids.url(u.url!);
      doc.entity(id, { "prov:label": shortUrl(u.url!), "prov:location": uri(normUrl(u.url!)) });
    }
    usedIds.set(u.role, id);
  }
  for (const r of rec.generated) doc.entity(ids.result(D, J, r.id), resultAttrs(base, D, J, r.id, r));
  for (const [path, f] of Object.entries(rec.files)) doc.entity(ids.file(D, J, path), { "prov:label": path, ...hash(f), "uwsx:inWorkDir": "true" });

  const refId = (r: Ref): string => {
    switch (r.kind) {
      case "result":
        return ids.result(D, J, r.id);
      case "param":
        return usedIds.get(r.name) ?? ids.param(D, J, r.name);
      case "file":
        return ids.file(D, J, r.path);
      case "url": {
        const id = ids.url(r.url);
        doc.entity(id, { "prov:label": shortUrl(r.url), "prov:location": uri(normUrl(r.url)) });
        return id;
      }
    }
  };
  // Step references to external URLs add entities: resolve them before any relation is written.
  const steps = rec.steps.map((s, i) => ({ s, id: ids.step(D, J, i + 1), used: s.used.map(refId), generated: s.generated.map(refId), derived: s.derivedFrom.map(([t, f]) => [refId(t), refId(f)] as const) }));

  // Activities: the job, then its steps.
  doc.activity(act, {
    "prov:startTime": job.started !== null ? iso(job.started) : undefined,
    "prov:endTime": iso(job.ended),
    "prov:label": `${D} job ${J}`,
    "prov:type": qn("voprov:Activity"),
    "voprov:name": D,
    "voprov:comment": rec.notes.length ? rec.notes.join("\n") : undefined,
    "prov:location": uri(jobUrl),
    "uwsx:phase": job.phase,
    "uwsx:error": job.error ?? undefined,
    "uwsx:runId": job.runId ?? undefined,
    "uwsx:creationTime": dt(iso(job.created)),
    "uwsx:executor": rec.server.executor,
  });
  for (const st of steps)
    doc.activity(st.id, {
      "prov:startTime": st.s.started !== undefined ? iso(st.s.started) : undefined,
      "prov:endTime": st.s.ended !== undefined ? iso(st.s.ended) : undefined,
      "prov:label": `step ${st.s.name}`,
      "voprov:name": st.s.name,
      "uwsx:job": qn(act),
    });

  // Agents: the owner, the job server, the host it runs on.
  for (const [id, a] of fixed.agent) doc.shared("agent", id, a);

  // Relations.
  for (const p of rec.params)
    if (!(p.type === "file" || p.byReference)) doc.relation("used", { "prov:activity": act, "prov:entity": ids.param(D, J, p.name), "prov:role": p.name, "voprov:artefactType": "Parameter" });
  for (const [role, id] of usedIds) doc.relation("used", { "prov:activity": act, "prov:entity": id, "prov:time": job.started !== null ? iso(job.started) : undefined, "prov:role": role });
  for (const st of steps) {
    for (const u of st.used) doc.relation("used", { "prov:activity": st.id, "prov:entity": u, "prov:time": st.s.started !== undefined ? iso(st.s.started) : undefined });
  }
  for (const r of rec.generated) doc.relation("wasGeneratedBy", { "prov:entity": ids.result(D, J, r.id), "prov:activity": act, "prov:time": iso(job.ended), "prov:role": r.id });
  for (const st of steps) for (const g of st.generated) doc.relation("wasGeneratedBy", { "prov:entity": g, "prov:activity": st.id, "prov:time": st.s.ended !== undefined ? iso(st.s.ended) : undefined });
  for (const st of steps) for (const [t, f] of st.derived) doc.relation("wasDerivedFrom", { "prov:generatedEntity": t, "prov:usedEntity": f, "prov:activity": st.id });
  // Steps: each is informed by the earlier steps whose output it used, else by the one before it;
  // the job is informed by every step (PROV has no part-of relation between activities).
  steps.forEach((st, i) => {
    const from = new Set<string>();
    for (const u of st.used) for (let j = i - 1; j >= 0; j--) if (steps[j]!.generated.includes(u)) from.add(steps[j]!.id);
    if (from.size === 0 && i > 0) from.add(steps[i - 1]!.id);
    for (const f of from) doc.relation("wasInformedBy", { "prov:informed": st.id, "prov:informant": f });
  });
  for (const st of steps) doc.relation("wasInformedBy", { "prov:informed": act, "prov:informant": st.id });
  doc.relation("wasAssociatedWith", { "prov:activity": act, "prov:agent": owner, "prov:role": "owner" });
  doc.relation("wasAssociatedWith", { "prov:activity": act, "prov:agent": server, "prov:plan": defId, "prov:role": "job server" });
  doc.relation("wasAssociatedWith", { "prov:activity": act, "prov:agent": host, "prov:role": "host" });
  for (const r of rec.generated) doc.relation("wasAttributedTo", { "prov:entity": ids.result(D, J, r.id), "prov:agent": owner });
  doc.relation("actedOnBehalfOf", { "prov:delegate": server, "prov:responsible": owner, "prov:activity": act });
  doc.relation("actedOnBehalfOf", { "prov:delegate": server, "prov:responsible": host });
  return doc;
}

const FIXED = new Map<string, { entity: ReadonlyArray<readonly [string, Readonly<Record<string, Value>>]>; agent: ReadonlyArray<readonly [string, Readonly<Record<string, Value>>]> }>();

/** The records every job of a definition (and owner) shares: its description and the agents. */
function fixedParts(doc: ProvDoc, rec: JobRecord, base: string, defId: string, owner: string, server: string, host: string): void {
  const { job } = rec;
  doc.entity(defId, {
    "prov:label": `job definition ${rec.definition.name}`,
    "prov:type": qn("voprov:ActivityDescription"),
    "voprov:name": rec.definition.name,
    "voprov:version": rec.definition.version,
    "voprov:description": rec.definition.description,
    "voprov:docurl": uri(`${base}/uws`),
    "voprov:type": "UWS job",
  });
  for (const p of rec.definition.parameters) {
    doc.entity(`${defId}/parameters/${safe(p.name)}`, {
      "prov:label": `parameter ${p.name}`,
      "prov:type": qn("voprov:ParameterDescription"),
      "voprov:name": p.name,
      "voprov:datatype": DATATYPE[p.type] ?? "char",
      "voprov:xtype": p.type === "url" || p.type === "file" ? p.type : undefined,
      "voprov:unit": p.unit,
      "voprov:ucd": p.ucd,
      "voprov:description": p.description,
      "voprov:default": p.default,
      "voprov:min": p.min === undefined ? undefined : String(p.min),
      "voprov:max": p.max === undefined ? undefined : String(p.max),
      "voprov:options": p.values?.join("|"),
      "uwsx:required": p.required ? "true" : "false",
      "uwsx:activityDescription": qn(defId),
    });
  }
  doc.agent(owner, { "prov:label": job.owner ?? "anonymous", "prov:type": qn("prov:Person"), "voprov:name": job.owner ?? "anonymous" });
  doc.agent(server, { "prov:label": `uws-cluster job server ${rec.server.version}`, "prov:type": qn("prov:SoftwareAgent"), "voprov:name": "uws-cluster job server", "voprov:version": rec.server.version });
  doc.agent(host, { "prov:label": `cluster host ${rec.server.host}`, "voprov:name": rec.server.host, "voprov:type": "cluster host" });
}

function resultAttrs(base: string, def: string, job: string, rid: string, f: { sha256?: string; size?: number; mimeType?: string }): Record<string, Value | undefined> {
  return {
    "prov:label": `${rid} of ${def} job ${job}`,
    "prov:location": uri(`${base}/uws/${def}/${job}/results/${encodeURIComponent(rid)}`),
    "voprov:name": rid,
    "uwsx:sha256": f.sha256,
    "uwsx:size": f.size,
    "uwsx:mimeType": f.mimeType,
  };
}

function normUrl(u: string): string {
  try {
    return new URL(u).href;
  } catch {
    return encodeURI(u);
  }
}

function shortUrl(u: string): string {
  return u.length > 80 ? u.slice(0, 77) + "..." : u;
}
