// Shared helpers for the runtime tests: an in-process server on an ephemeral port, a small HTTP
// client that never follows redirects, and XSD validation with xmllint-wasm.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { validateXML } from "xmllint-wasm";
import { createServer, type ServerOptions } from "../../runtime/server.js";

export interface Running {
  app: FastifyInstance;
  url: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startServer(opts: ServerOptions = {}): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), "uws-test-"));
  const app = await createServer({ data: join(dir, "data"), logger: false, sweepMs: 200, ...opts });
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    app,
    url: address,
    dir,
    async stop() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Res {
  status: number;
  headers: Headers;
  body: string;
}

export async function http(method: string, url: string, opts: { form?: Record<string, string | string[]> | Array<[string, string]>; token?: string; headers?: Record<string, string>; body?: string | FormData | Uint8Array } = {}): Promise<Res> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | FormData | Uint8Array | undefined = opts.body;
  if (opts.form) {
    const p = new URLSearchParams();
    const entries = Array.isArray(opts.form) ? opts.form : Object.entries(opts.form).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x] as [string, string]) : [[k, v] as [string, string]]));
    for (const [k, v] of entries) p.append(k, v);
    body = p.toString();
    headers["content-type"] = "application/x-www-form-urlencoded";
  }
  const r = await fetch(url, { method, headers, body, redirect: "manual" });
  return { status: r.status, headers: r.headers, body: await r.text() };
}

/** POST creating a job; returns the job URL (the 303 target). */
export async function createJob(base: string, def: string, form: Record<string, string | string[]> = {}, token?: string): Promise<string> {
  const r = await http("POST", `${base}/uws/${def}`, { form, token });
  if (r.status !== 303) throw new Error(`create ${def}: ${r.status} ${r.body}`);
  return r.headers.get("location")!;
}

export async function phaseOf(jobUrl: string, token?: string): Promise<string> {
  return (await http("GET", `${jobUrl}/phase`, { token })).body;
}

/** Waits (WAIT=…) until the job leaves the active phases. */
export async function waitFinal(jobUrl: string, token?: string, maxS = 30): Promise<string> {
  const end = Date.now() + maxS * 1000;
  for (;;) {
    const p = await phaseOf(jobUrl, token);
    if (!["PENDING", "QUEUED", "EXECUTING"].includes(p) || Date.now() > end) return p;
    await http("GET", `${jobUrl}?WAIT=5`, { token });
  }
}

const SCHEMA_DIR = join(import.meta.dirname, "../../runtime/schemas");
const uwsXsd = readFileSync(join(SCHEMA_DIR, "UWS-v1.1.xsd"), "utf8");
const xlinkXsd = readFileSync(join(SCHEMA_DIR, "xlink.xsd"), "utf8");

/** Validates a document against UWS-v1.1.xsd (xlink.xsd preloaded under its remote location). */
export async function xsdErrors(xml: string): Promise<string[]> {
  const r = await validateXML({
    xml: [{ fileName: "doc.xml", contents: xml }],
    schema: [{ fileName: "UWS-v1.1.xsd", contents: uwsXsd.replace("http://www.ivoa.net/xml/Xlink/xlink.xsd", "xlink.xsd") }],
    preload: [{ fileName: "xlink.xsd", contents: xlinkXsd }],
  });
  return r.valid ? [] : r.errors.map((e) => e.rawMessage);
}
