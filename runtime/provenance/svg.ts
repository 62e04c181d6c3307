// An SVG drawing of a PROV document, laid out here in plain TypeScript (no Graphviz on the head):
// causes on the left, effects on the right, one column per rank (longest path from the causes),
// rows ordered by the barycentre of their neighbours. PROV's usual shapes and colours: entities
// are yellow ellipses, activities blue rectangles, agents orange houses. Every node is a <g> with a
// <title> holding its full identifier; arrows point from effect to cause, as PROV relations do.
import type { ElementKind, ProvDoc } from "./model.js";

const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ESC[c]!);

/** For each relation kind: the effect end and the cause end (the arrow goes effect → cause). */
const ENDS: Record<string, [string, string]> = {
  used: ["prov:activity", "prov:entity"],
  wasGeneratedBy: ["prov:entity", "prov:activity"],
  wasDerivedFrom: ["prov:generatedEntity", "prov:usedEntity"],
  wasInformedBy: ["prov:informed", "prov:informant"],
  wasAssociatedWith: ["prov:activity", "prov:agent"],
  wasAttributedTo: ["prov:entity", "prov:agent"],
  actedOnBehalfOf: ["prov:delegate", "prov:responsible"],
};

interface Node {
  id: string;
  kind: ElementKind;
  label: string;
  rank: number;
  order: number;
  x: number;
  y: number;
  w: number;
}

const COL_GAP = 90;
const ROW_H = 64;
const NODE_H = 38;
const CHAR_W = 6.6;

function label(id: string, attrs: Record<string, unknown>): string {
  const l = attrs["prov:label"];
  const s = typeof l === "string" ? l : id;
  return s.length > 48 ? s.slice(0, 45) + "..." : s;
}

export function toSvg(doc: ProvDoc): string {
  const nodes = new Map<string, Node>();
  for (const r of doc.ordered()) if (r.id !== undefined) nodes.set(r.id, { id: r.id, kind: r.kind as ElementKind, label: label(r.id, r.attrs), rank: 0, order: 0, x: 0, y: 0, w: 0 });
  const edges: Array<{ from: string; to: string; kind: string }> = [];
  for (const r of doc.relations) {
    const [a, b] = ENDS[r.kind]!;
    const from = r.attrs[a] as string | undefined;
    const to = r.attrs[b] as string | undefined;
    if (from && to && nodes.has(from) && nodes.has(to) && from !== to) edges.push({ from, to, kind: r.kind });
  }
  // Rank: longest path from the causes (a node's rank exceeds every cause's). Cycles are cut where
  // the depth-first walk meets a node still on its stack.
  const causes = new Map<string, string[]>();
  for (const e of edges) (causes.get(e.from) ?? causes.set(e.from, []).get(e.from)!).push(e.to);
  const state = new Map<string, 1 | 2>();
  const rankOf = (id: string): number => {
    const s = state.get(id);
    if (s === 2) return nodes.get(id)!.rank;
    if (s === 1) return -1;
    state.set(id, 1);
    let r = 0;
    for (const c of causes.get(id) ?? []) r = Math.max(r, rankOf(c) + 1);
    nodes.get(id)!.rank = r;
    state.set(id, 2);
    return r;
  };
  for (const id of nodes.keys()) rankOf(id);
  const columns: Node[][] = [];
  for (const n of nodes.values()) (columns[n.rank] ??= []).push(n);
  for (let i = 0; i < columns.length; i++) columns[i] ??= [];
  columns.forEach((c) => c.forEach((n, i) => (n.order = i)));
  // Barycentre sweeps, left to right then right to left.
  const neighbours = new Map<string, string[]>();
  for (const e of edges) {
    (neighbours.get(e.from) ?? neighbours.set(e.from, []).get(e.from)!).push(e.to);
    (neighbours.get(e.to) ?? neighbours.set(e.to, []).get(e.to)!).push(e.from);
  }
  const sweep = (col: Node[], side: (n: Node) => boolean) => {
    const bc = (n: Node) => {
      const ns = (neighbours.get(n.id) ?? []).map((x) => nodes.get(x)!).filter(side);
      return ns.length ? ns.reduce((s, x) => s + x.order, 0) / ns.length : n.order;
    };
    const keyed = col.map((n) => [bc(n), n.order, n] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    keyed.forEach(([, , n], i) => (n.order = i));
    col.sort((a, b) => a.order - b.order);
  };
  for (let pass = 0; pass < 4; pass++) {
    for (let i = 1; i < columns.length; i++) sweep(columns[i]!, (x) => x.rank < i);
    for (let i = columns.length - 2; i >= 0; i--) sweep(columns[i]!, (x) => x.rank > i);
  }
  // Coordinates.
  let x = 20;
  const rows = Math.max(1, ...columns.map((c) => c.length));
  for (const col of columns) {
    const w = Math.max(60, ...col.map((n) => Math.ceil(n.label.length * CHAR_W) + 28));
    const top = 20 + ((rows - col.length) * ROW_H) / 2;
    col.forEach((n, i) => {
      n.w = Math.max(60, Math.ceil(n.label.length * CHAR_W) + 28);
      n.x = x + (w - n.w) / 2;
      n.y = top + i * ROW_H;
    });
    x += w + COL_GAP;
  }
  const width = Math.max(120, x - COL_GAP + 20);
  const height = rows * ROW_H + 30;

  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>PROV graph: ${nodes.size} nodes, ${edges.length} relations</title>`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>`,
    `<g class="edges">`,
  ];
  for (const e of edges) {
    const a = nodes.get(e.from)!;
    const b = nodes.get(e.to)!;
    const ay = a.y + NODE_H / 2;
    const by = b.y + NODE_H / 2;
    // Effect (right) to cause (left); same-column edges bow out to the right.
    const [x1, x2] = a.rank > b.rank ? [a.x, b.x + b.w] : a.rank < b.rank ? [a.x + a.w, b.x] : [a.x + a.w, b.x + b.w];
    const bend = a.rank === b.rank ? 40 : (x2 - x1) / 2;
    const d = a.rank === b.rank ? `M${x1},${ay} C${x1 + bend},${ay} ${x2 + bend},${by} ${x2},${by}` : `M${x1},${ay} C${x1 + bend},${ay} ${x2 - bend},${by} ${x2},${by}`;
    out.push(`<g class="edge ${e.kind}"><title>${esc(`${e.kind}(${e.from}, ${e.to})`)}</title><path d="${d}" fill="none" stroke="#777" marker-end="url(#arrow)"/></g>`);
  }
  out.push(`</g>`, `<g class="nodes">`);
  let i = 0;
  for (const n of nodes.values()) {
    const cx = n.x + n.w / 2;
    const cy = n.y + NODE_H / 2;
    let shape: string;
    if (n.kind === "entity") shape = `<ellipse cx="${cx}" cy="${cy}" rx="${n.w / 2}" ry="${NODE_H / 2}" fill="#FFFC87" stroke="#808080"/>`;
    else if (n.kind === "activity") shape = `<rect x="${n.x}" y="${n.y}" width="${n.w}" height="${NODE_H}" fill="#9FB1FC" stroke="#0000FF"/>`;
    else {
      const r = n.x + n.w;
      const b = n.y + NODE_H;
      shape = `<polygon points="${n.x},${n.y + 12} ${cx},${n.y} ${r},${n.y + 12} ${r},${b} ${n.x},${b}" fill="#FED37F" stroke="#000000"/>`;
    }
    out.push(`<g class="node ${n.kind}" id="node${++i}"><title>${esc(n.id)}</title>${shape}<text x="${cx}" y="${cy + 4}" text-anchor="middle">${esc(n.label)}</text></g>`);
  }
  out.push(`</g>`, `</svg>`, "");
  return out.join("\n");
}
