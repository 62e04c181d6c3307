/**
 * An EPN-TAP service of our own (the real M4AST cannot be reached from here): TAP sync at
 * `<base>/tap/sync` answers an ADQL query on `m4ast.epn_core` with an EPN-TAP 2.0 VOTable of Vesta
 * granules whose access_url points at M4AST-style ASCII spectra served at `<base>/files/`; one of
 * them is malformed (no numeric rows), as some services' files are. It records every query it got.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Granule {
  uid: string;
  file: string;
  instrument: string;
  timeMin: number;
  body: string;
}

/** A spectrum as M4AST serves it: a header, then wavelength (µm), reflectance and error columns. */
export function asciiSpectrum(seed: number, points = 40): string {
  const lines = [`# M4AST formatted spectrum ${seed}`, "; wavelength(um) reflectance error"];
  for (let i = 0; i < points; i++) {
    const wl = 0.45 + (i * (2.45 - 0.45)) / (points - 1);
    const refl = 1 + 0.08 * Math.sin(wl * 3 + seed) - (Math.abs(wl - 0.9) < 0.1 ? 0.15 : 0);
    lines.push(`${wl.toFixed(4)}  ${refl.toFixed(5)}  ${(0.01 + 0.001 * seed).toFixed(4)}`);
  }
  return lines.join("\n") + "\n";
}

export function vestaGranules(n: number): Granule[] {
  const out: Granule[] = [];
  for (let i = 1; i <= n; i++) {
    out.push({ uid: `vesta_spec_${i}`, file: `vesta_${i}.txt`, instrument: i % 2 ? "SpeX" : "NICS", timeMin: 2455000.5 + i, body: asciiSpectrum(i) });
  }
  return out;
}

const COLUMNS: [string, string][] = [
  ["granule_uid", "char"], ["granule_gid", "char"], ["obs_id", "char"], ["dataproduct_type", "char"], ["target_name", "char"],
  ["target_class", "char"], ["time_min", "double"], ["time_max", "double"], ["spectral_range_min", "double"], ["spectral_range_max", "double"],
  ["instrument_host_name", "char"], ["instrument_name", "char"], ["access_url", "char"], ["access_format", "char"], ["bib_reference", "char"],
  ["service_title", "char"],
];

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export class EpnTapFixture {
  readonly queries: string[] = [];
  private server?: Server;
  base = "";

  constructor(private readonly granules: Granule[], private readonly malformed = true) {}

  /** Listens on `host` (a loopback address, or the cluster's bridge address the nodes reach). */
  async start(host: string): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname.startsWith("/files/")) {
        const name = decodeURIComponent(url.pathname.slice("/files/".length));
        const g = this.all().find((x) => x.file === name);
        if (!g) { res.writeHead(404).end("no such file"); return; }
        res.writeHead(200, { "content-type": "text/plain" }).end(g.body);
        return;
      }
      if (url.pathname === "/tap/sync") {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
          const form = new URLSearchParams(req.method === "POST" ? body : url.search);
          const query = form.get("QUERY") ?? form.get("query") ?? "";
          this.queries.push(query);
          res.writeHead(200, { "content-type": "application/x-votable+xml" }).end(this.votable(query));
        });
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r, j) => this.server!.listen(0, host, () => r()).once("error", j));
    this.base = `http://${host}:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections();
  }

  /** The service parameter of the workflow for this fixture. */
  get service(): string {
    return `${this.base}/tap|m4ast`;
  }

  private all(): Granule[] {
    return this.malformed ? [...this.granules, { uid: "vesta_broken", file: "vesta_broken.txt", instrument: "SpeX", timeMin: 2455100.5, body: "<html>not a spectrum</html>\n" }] : this.granules;
  }

  /** Rows for target_name = 'Vesta' (any other target: none), TOP n honoured. */
  private votable(query: string): string {
    const target = /target_name\s*=\s*'((?:[^']|'')*)'/i.exec(query)?.[1]?.replace(/''/g, "'");
    const top = Number(/SELECT\s+TOP\s+(\d+)/i.exec(query)?.[1] ?? 1e9);
    const rows = target === "Vesta" ? this.all().slice(0, top) : [];
    const tr = rows.map((g) => {
      const v: Record<string, string | number> = {
        granule_uid: g.uid, granule_gid: "formatted", obs_id: g.uid, dataproduct_type: "sp", target_name: "Vesta", target_class: "asteroid",
        time_min: g.timeMin, time_max: g.timeMin + 0.01, spectral_range_min: 2.99792458e14 / 2.45, spectral_range_max: 2.99792458e14 / 0.45,
        instrument_host_name: "IRTF", instrument_name: g.instrument, access_url: `${this.base}/files/${g.file}`, access_format: "text/plain",
        bib_reference: "2009Icar..202..160D", service_title: "M4AST",
      };
      return `<TR>${COLUMNS.map(([c]) => `<TD>${esc(String(v[c]))}</TD>`).join("")}</TR>`;
    }).join("\n");
    return `<?xml version="1.0" encoding="UTF-8"?>
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
<RESOURCE type="results">
<INFO name="QUERY_STATUS" value="OK"/>
<TABLE name="m4ast.epn_core">
${COLUMNS.map(([c, t]) => `<FIELD name="${c}" datatype="${t}"${t === "char" ? ' arraysize="*"' : ""}/>`).join("\n")}
<DATA><TABLEDATA>
${tr}
</TABLEDATA></DATA>
</TABLE>
</RESOURCE>
</VOTABLE>
`;
  }
}
