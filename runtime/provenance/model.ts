// A PROV document in memory, in the shape of PROV-JSON (W3C PROV-JSON member submission), and the
// value kinds this server writes. Every serialization (PROV-JSON, PROV-N, PROV-XML, SVG) is made from
// this one structure, so they always describe the same records in the same order.
//
// Values are deliberately few: plain strings, integers, qualified names, URIs (xsd:anyURI) and
// dateTimes. Empty strings are never written (PROV-XML cannot tell an empty element from a missing
// value), and carriage returns become newlines (XML parsers normalise them).

export const PROV_NS = "http://www.w3.org/ns/prov#";
export const VOPROV_NS = "http://www.ivoa.net/documents/ProvenanceDM/index.html#";
/** Attribute names of our own (hashes, sizes, MIME types, phases): a fixed namespace. */
export const UWSX_NS = "urn:uws-cluster:provenance#";

export type QName = { $: string; type: "prov:QUALIFIED_NAME" };
export type AnyUri = { $: string; type: "xsd:anyURI" };
export type DateTime = { $: string; type: "xsd:dateTime" };
export type Value = string | number | QName | AnyUri | DateTime;

export const qn = (q: string): QName => ({ $: q, type: "prov:QUALIFIED_NAME" });
export const uri = (u: string): AnyUri => ({ $: u, type: "xsd:anyURI" });
export const dt = (iso: string): DateTime => ({ $: iso, type: "xsd:dateTime" });

export type ElementKind = "entity" | "activity" | "agent";
export type RelationKind = "used" | "wasGeneratedBy" | "wasDerivedFrom" | "wasInformedBy" | "wasAssociatedWith" | "wasAttributedTo" | "actedOnBehalfOf";

/** Formal attributes of each record kind, in PROV-N argument order. */
export const FORMAL: Record<ElementKind | RelationKind, string[]> = {
  entity: [],
  activity: ["prov:startTime", "prov:endTime"],
  agent: [],
  used: ["prov:activity", "prov:entity", "prov:time"],
  wasGeneratedBy: ["prov:entity", "prov:activity", "prov:time"],
  wasDerivedFrom: ["prov:generatedEntity", "prov:usedEntity", "prov:activity", "prov:generation", "prov:usage"],
  wasInformedBy: ["prov:informed", "prov:informant"],
  wasAssociatedWith: ["prov:activity", "prov:agent", "prov:plan"],
  wasAttributedTo: ["prov:entity", "prov:agent"],
  actedOnBehalfOf: ["prov:delegate", "prov:responsible", "prov:activity"],
};
/** Formal attributes holding times (the rest hold identifiers). */
export const TIME_ATTRS = new Set(["prov:startTime", "prov:endTime", "prov:time"]);
export const ELEMENT_KINDS: ElementKind[] = ["entity", "activity", "agent"];
export const RELATION_KINDS: RelationKind[] = ["used", "wasGeneratedBy", "wasDerivedFrom", "wasInformedBy", "wasAssociatedWith", "wasAttributedTo", "actedOnBehalfOf"];

/** Attributes of one record, in insertion order (formal ones included, as PROV-JSON has them). */
export type Attrs = Record<string, Value>;

export interface Relation {
  kind: RelationKind;
  attrs: Attrs;
}

const DIRTY = /[\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/u;
function clean(v: Value): Value | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === "string") {
    if (!DIRTY.test(v)) return v === "" ? undefined : v;
    const s = v.replace(/\r\n?/g, "\n").replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/gu, "");
    return s === "" ? undefined : s;
  }
  return v.$ === "" ? undefined : v;
}

export class ProvDoc {
  readonly prefix: Record<string, string> = {};
  readonly elements: Record<ElementKind, Map<string, Attrs>> = { entity: new Map(), activity: new Map(), agent: new Map() };
  readonly relations: Relation[] = [];
  private readonly relationKeys = new Set<string>();

  constructor(prefix: Record<string, string>) {
    Object.assign(this.prefix, prefix);
  }

  /** Adds an element, or merges attributes into the one already there (the first value wins). */
  element(kind: ElementKind, id: string, attrs: Record<string, Value | undefined | null> = {}): string {
    let a = this.elements[kind].get(id);
    if (!a) this.elements[kind].set(id, (a = {}));
    else if (Object.isFrozen(a)) this.elements[kind].set(id, (a = { ...a })); // shared: copy on write
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || k in a) continue;
      const c = clean(v);
      if (c !== undefined) a[k] = c;
    }
    return id;
  }
  /** Adds a record made once and shared between documents (frozen: merged into by copy). */
  shared(kind: ElementKind, id: string, attrs: Readonly<Attrs>): void {
    if (!this.elements[kind].has(id)) this.elements[kind].set(id, attrs as Attrs);
    else this.element(kind, id, attrs);
  }

  entity(id: string, attrs?: Record<string, Value | undefined | null>): string {
    return this.element("entity", id, attrs);
  }
  activity(id: string, attrs?: Record<string, Value | undefined | null>): string {
    return this.element("activity", id, attrs);
  }
  agent(id: string, attrs?: Record<string, Value | undefined | null>): string {
    return this.element("agent", id, attrs);
  }

  /** Adds a relation unless the same one (same kind and attributes) is already there. */
  relation(kind: RelationKind, attrs: Record<string, Value | undefined | null>): void {
    const a: Attrs = {};
    for (const k of FORMAL[kind]) {
      const v = attrs[k];
      if (v !== undefined && v !== null) a[k] = v;
    }
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || k in a) continue;
      const c = clean(v);
      if (c !== undefined) a[k] = c;
    }
    let key: string = kind;
    for (const k in a) {
      const v = a[k]!;
      key += `\u0001${k}\u0002${typeof v === "object" ? v.$ : v}`;
    }
    if (this.relationKeys.has(key)) return;
    this.relationKeys.add(key);
    this.relations.push({ kind, attrs: a });
  }

  /** Copies every record of another document into this one (ids are shared, so records merge). */
  merge(other: ProvDoc): void {
    for (const [p, u] of Object.entries(other.prefix)) if (!(p in this.prefix)) this.prefix[p] = u;
    for (const k of ELEMENT_KINDS) for (const [id, a] of other.elements[k]) this.element(k, id, a);
    for (const r of other.relations) this.relation(r.kind, r.attrs);
  }

  /** Every identifier a relation or a qualified-name value refers to. */
  references(): Array<{ from: string; ref: string }> {
    const out: Array<{ from: string; ref: string }> = [];
    for (const r of this.relations)
      for (const [k, v] of Object.entries(r.attrs)) {
        if (FORMAL[r.kind].includes(k) && !TIME_ATTRS.has(k)) out.push({ from: r.kind, ref: v as string });
        else if (typeof v === "object" && v.type === "prov:QUALIFIED_NAME" && !v.$.startsWith("prov:") && !v.$.startsWith("voprov:")) out.push({ from: `${r.kind} ${k}`, ref: v.$ });
      }
    for (const kind of ELEMENT_KINDS)
      for (const [id, a] of this.elements[kind])
        for (const [k, v] of Object.entries(a))
          if (typeof v === "object" && v.type === "prov:QUALIFIED_NAME" && !v.$.startsWith("prov:") && !v.$.startsWith("voprov:")) out.push({ from: `${id} ${k}`, ref: v.$ });
    return out;
  }

  has(id: string): boolean {
    return ELEMENT_KINDS.some((k) => this.elements[k].has(id));
  }

  kindOf(id: string): ElementKind | undefined {
    return ELEMENT_KINDS.find((k) => this.elements[k].has(id));
  }

  /** The PROV-JSON object. Relations get blank-node keys (`_:r1`, …), as PROV-JSON requires keys. */
  toJson(): Record<string, unknown> {
    const out: Record<string, unknown> = { prefix: { ...this.prefix } };
    for (const k of ELEMENT_KINDS) if (this.elements[k].size) out[k] = Object.fromEntries(this.elements[k]);
    let n = 0;
    for (const k of RELATION_KINDS) {
      const rs = this.relations.filter((r) => r.kind === k);
      if (rs.length) out[k] = Object.fromEntries(rs.map((r) => [`_:r${++n}`, r.attrs]));
    }
    return out;
  }

  /** JSON.stringify(this.toJson()), written directly (it runs at every job's completion, for the size). */
  toJsonText(): string {
    const str = JSON.stringify;
    const attrs = (a: Attrs): string => {
      let out = "";
      for (const k in a) {
        const v = a[k]!;
        out += `${out ? "," : ""}${str(k)}:${typeof v === "object" ? `{"$":${str(v.$)},"type":${str(v.type)}}` : str(v)}`;
      }
      return `{${out}}`;
    };
    let out = `{"prefix":${str(this.prefix)}`;
    for (const k of ELEMENT_KINDS) {
      if (!this.elements[k].size) continue;
      let sec = "";
      for (const [id, a] of this.elements[k]) sec += `${sec ? "," : ""}${str(id)}:${attrs(a)}`;
      out += `,"${k}":{${sec}}`;
    }
    let n = 0;
    for (const k of RELATION_KINDS) {
      let sec = "";
      for (const r of this.relations) if (r.kind === k) sec += `${sec ? "," : ""}"_:r${++n}":${attrs(r.attrs)}`;
      if (sec) out += `,"${k}":{${sec}}`;
    }
    return out + "}";
  }

  /** Records in serialization order: elements by kind, then relations grouped by kind. */
  ordered(): Array<{ kind: ElementKind | RelationKind; id?: string; attrs: Attrs }> {
    const out: Array<{ kind: ElementKind | RelationKind; id?: string; attrs: Attrs }> = [];
    for (const k of ELEMENT_KINDS) for (const [id, attrs] of this.elements[k]) out.push({ kind: k, id, attrs });
    for (const k of RELATION_KINDS) for (const r of this.relations) if (r.kind === k) out.push({ kind: k, attrs: r.attrs });
    return out;
  }
}
