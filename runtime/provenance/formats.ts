// The four serializations, chosen by a FORMAT / RESPONSEFORMAT parameter or by the Accept header.
import type { ProvDoc } from "./model.js";
import { toProvN, toProvXml } from "./serialize.js";
import { toSvg } from "./svg.js";

export type Format = "PROV-JSON" | "PROV-N" | "PROV-XML" | "SVG";

export const MEDIA: Record<Format, string> = {
  "PROV-JSON": "application/json; charset=utf-8",
  "PROV-N": "text/provenance-notation; charset=utf-8",
  "PROV-XML": "application/provenance+xml; charset=utf-8",
  SVG: "image/svg+xml; charset=utf-8",
};

/** Parameter values (case-insensitive): format names, short names and media types. */
const NAMES: Record<string, Format> = {
  "prov-json": "PROV-JSON",
  json: "PROV-JSON",
  "application/json": "PROV-JSON",
  "application/provenance+json": "PROV-JSON",
  "prov-n": "PROV-N",
  provn: "PROV-N",
  "text/provenance-notation": "PROV-N",
  "prov-xml": "PROV-XML",
  xml: "PROV-XML",
  "application/provenance+xml": "PROV-XML",
  "application/xml": "PROV-XML",
  "text/xml": "PROV-XML",
  svg: "SVG",
  "image/svg+xml": "SVG",
  "prov-svg": "SVG",
};

export function formatNamed(v: string): Format | undefined {
  return NAMES[v.trim().toLowerCase()];
}

/**
 * The format an Accept header asks for: the highest q among the media types we write; PROV-JSON
 * when there is no header or it accepts anything. undefined = nothing acceptable (406).
 */
export function negotiate(accept: string | undefined): Format | undefined {
  if (!accept || !accept.trim()) return "PROV-JSON";
  let best: { f: Format; q: number; i: number } | undefined;
  accept.split(",").forEach((part, i) => {
    const [type, ...params] = part.trim().split(";").map((s) => s.trim());
    const qp = params.find((p) => p.startsWith("q="));
    const q = qp ? Number(qp.slice(2)) : 1;
    if (!type || !(q > 0)) return;
    const t = type.toLowerCase();
    const f = t === "*/*" || t === "application/*" ? "PROV-JSON" : t === "text/*" ? "PROV-N" : t === "image/*" ? "SVG" : NAMES[t] && t.includes("/") ? NAMES[t] : undefined;
    if (f && (!best || q > best.q)) best = { f, q, i };
  });
  return best?.f;
}

export function render(doc: ProvDoc, f: Format): string {
  switch (f) {
    case "PROV-JSON":
      return doc.toJsonText();
    case "PROV-N":
      return toProvN(doc);
    case "PROV-XML":
      return toProvXml(doc);
    case "SVG":
      return toSvg(doc);
  }
}
