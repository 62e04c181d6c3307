// PROV-N and PROV-XML from a ProvDoc (PROV-JSON is ProvDoc.toJson()).
//
// PROV-N is written the way the `prov` Python library (Debian python3-prov 2.0) writes the same
// document, so the two texts can be compared byte for byte: times in Python's isoformat
// (`2024-05-01T10:00:00.123000+00:00`, no fraction when it is zero), qualified-name values in single
// quotes, URIs and typed times as `"…" %% xsd:…`, multi-line strings in triple quotes. One deliberate
// difference: a backslash in a string is escaped (`\\`), as the PROV-N grammar requires; the library
// leaves it bare.
//
// PROV-XML follows the W3C PROV-XML schema's element order (formal references and times, then
// prov:label, prov:location, prov:role, prov:type, prov:value, then other attributes).
import { FORMAL, TIME_ATTRS, PROV_NS, type Attrs, type ProvDoc, type Value } from "./model.js";

/** An ISO time as Python's datetime.isoformat() writes it after parsing (UTC). */
export function pyIso(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  const s = new Date(ms).toISOString(); // 2024-05-01T10:00:00.123Z
  const frac = ms % 1000 === 0 ? "" : `.${s.slice(20, 23)}000`;
  return `${s.slice(0, 19)}${frac}+00:00`;
}

function provnString(s: string): string {
  const e = s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  return s.includes("\n") ? `"""${e}"""` : `"${e}"`;
}

function provnValue(v: Value): string {
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return provnString(v);
  switch (v.type) {
    case "prov:QUALIFIED_NAME":
      return `'${v.$}'`;
    case "xsd:anyURI":
      return `"${v.$}" %% xsd:anyURI`;
    case "xsd:dateTime":
      return `"${pyIso(v.$)}" %% xsd:dateTime`;
  }
}

function provnRecord(kind: keyof typeof FORMAL, id: string | undefined, attrs: Attrs): string {
  const formal = FORMAL[kind];
  const items: string[] = [];
  if (id !== undefined) items.push(id);
  for (const f of formal) {
    const v = attrs[f];
    items.push(v === undefined ? "-" : TIME_ATTRS.has(f) ? pyIso(v as string) : (v as string));
  }
  const extra = Object.entries(attrs)
    .filter(([k]) => !formal.includes(k))
    .map(([k, v]) => `${k}=${provnValue(v)}`);
  if (extra.length) items.push(`[${extra.join(", ")}]`);
  return `${kind}(${items.join(", ")})`;
}

export function toProvN(doc: ProvDoc): string {
  const lines = ["document", ...Object.entries(doc.prefix).map(([p, u]) => `prefix ${p} <${u}>`)];
  if (Object.keys(doc.prefix).length) lines.push("");
  for (const r of doc.ordered()) lines.push(provnRecord(r.kind, r.id, r.attrs));
  return lines.join("\n  ") + "\nendDocument\n";
}

const XESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
const xesc = (s: string) => s.replace(/[&<>"]/g, (c) => XESC[c]!);

function xmlValue(name: string, v: Value): string {
  if (typeof v === "number") return `<${name} xsi:type="xsd:long">${v}</${name}>`;
  if (typeof v === "string") return `<${name}>${xesc(v)}</${name}>`;
  const t = v.type === "prov:QUALIFIED_NAME" ? "xsd:QName" : v.type;
  return `<${name} xsi:type="${t}">${xesc(v.$)}</${name}>`;
}

const PROV_ORDER = ["prov:label", "prov:location", "prov:role", "prov:type", "prov:value"];

function xmlRecord(kind: keyof typeof FORMAL, id: string | undefined, attrs: Attrs): string {
  const formal = FORMAL[kind];
  const parts: string[] = [];
  for (const f of formal) {
    const v = attrs[f];
    if (v === undefined) continue;
    parts.push(TIME_ATTRS.has(f) ? `<${f}>${xesc(v as string)}</${f}>` : `<${f} prov:ref="${xesc(v as string)}"/>`);
  }
  const rest = Object.entries(attrs).filter(([k]) => !formal.includes(k));
  for (const p of PROV_ORDER) for (const [k, v] of rest) if (k === p) parts.push(xmlValue(k, v));
  for (const [k, v] of rest) if (!PROV_ORDER.includes(k)) parts.push(xmlValue(k, v));
  const open = `<prov:${kind}${id !== undefined ? ` prov:id="${xesc(id)}"` : ""}`;
  return parts.length ? `  ${open}>\n    ${parts.join("\n    ")}\n  </prov:${kind}>` : `  ${open}/>`;
}

export function toProvXml(doc: ProvDoc): string {
  const ns = Object.entries(doc.prefix).map(([p, u]) => ` xmlns:${p}="${xesc(u)}"`).join("");
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<prov:document xmlns:prov="${PROV_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"${ns}>`,
  ];
  for (const r of doc.ordered()) lines.push(xmlRecord(r.kind, r.id, r.attrs));
  lines.push(`</prov:document>`, "");
  return lines.join("\n");
}
