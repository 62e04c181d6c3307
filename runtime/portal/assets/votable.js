// VOTable preview: the first table's PARAMs (resource and table level) and its first rows
// (TABLEDATA; BINARY/FITS serializations are only counted as "not shown"). Any VOTable version.
const all = (el, tag) => [...el.getElementsByTagNameNS("*", tag)];

export function parseVotable(text, maxRows = 20) {
  const doc = new DOMParser().parseFromString(text, "application/xml");
  if (doc.getElementsByTagName("parsererror").length) throw new Error("not well-formed XML");
  const root = doc.documentElement;
  if (root.localName !== "VOTABLE") throw new Error(`not a VOTable (root element ${root.localName})`);
  const table = all(root, "TABLE")[0];
  const params = all(root, "PARAM").map((p) => ({ name: p.getAttribute("name") ?? "", value: p.getAttribute("value") ?? "", unit: p.getAttribute("unit") ?? "", ucd: p.getAttribute("ucd") ?? "" }));
  const infos = all(root, "INFO").map((i) => ({ name: i.getAttribute("name") ?? "", value: i.getAttribute("value") ?? i.textContent.trim() }));
  if (!table) return { params, infos, fields: [], rows: [], total: 0, note: "no TABLE" };
  const fields = all(table, "FIELD").map((f) => ({ name: f.getAttribute("name") ?? "", unit: f.getAttribute("unit") ?? "", ucd: f.getAttribute("ucd") ?? "" }));
  const trs = all(table, "TR");
  const rows = trs.slice(0, maxRows).map((tr) => all(tr, "TD").map((td) => td.textContent));
  const note = trs.length === 0 && (all(table, "BINARY").length || all(table, "BINARY2").length || all(table, "FITS").length) ? "binary serialization: download to see the rows" : "";
  return { params, infos, fields, rows, total: trs.length, note };
}
