/**
 * A small HTTP proxy in front of the test cloud's APIs, for fault injection. Requests to
 * `/p/<port>/<path>` go to 127.0.0.1:<port>/<path>; Keystone token answers have their catalog
 * endpoints rewritten through the proxy, so a client pointed at `<proxy>/p/5000/v3` sends every
 * call through it. A seeded fraction of calls fails: 503 without forwarding, 502 after forwarding
 * (the cloud did the work, the client never hears), a connection reset, or a hang (no answer).
 *
 * It can also act as a stand-in for Keystone's OIDC federation endpoint (the test cloud has no
 * identity provider configured): a request with the expected bearer access token gets a real
 * unscoped Keystone token of a given user, the rest of the flow runs against the real Keystone.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export type Fault = "503" | "502-after" | "reset" | "hang";

export interface ProxyOptions {
  /** Fraction of calls (0..1) that fail. */
  rate?: number;
  faults?: Fault[];
  seed?: number;
  /** Paths matching this are never faulted (e.g. to keep authentication clean). */
  spare?: RegExp;
  oidc?: { idp: string; protocol: string; accessToken: string; user: { name: string; password: string; domain: string } };
}

export interface FaultProxy {
  url: string;
  /** Keystone URL through the proxy. */
  authUrl: string;
  counts: Record<Fault | "forwarded" | "oidc", number>;
  setRate(rate: number): void;
  close(): Promise<void>;
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startFaultProxy(o: ProxyOptions = {}): Promise<FaultProxy> {
  const rand = prng(o.seed ?? 42);
  let rate = o.rate ?? 0;
  const faults = o.faults ?? ["503", "502-after", "reset", "hang"];
  const counts: FaultProxy["counts"] = { "503": 0, "502-after": 0, reset: 0, hang: 0, forwarded: 0, oidc: 0 };
  const sockets = new Set<Socket>();
  let base = "";

  const forward = async (req: IncomingMessage, port: number, path: string, body: Buffer) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (["host", "connection", "content-length", "transfer-encoding", "keep-alive"].includes(k) || v === undefined) continue;
      headers[k] = Array.isArray(v) ? v.join(", ") : v;
    }
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: req.method, headers, body: body.length ? body : undefined, signal: AbortSignal.timeout(60_000) });
    let text = Buffer.from(await r.arrayBuffer());
    counts.forwarded++;
    // Catalog rewrite: every loopback endpoint through the proxy.
    if (port === 5000 && /\/auth\/tokens$/.test(path.split("?")[0]!) && r.ok) {
      text = Buffer.from(text.toString("utf8").replace(/http:\/\/127\.0\.0\.1:(\d+)/g, (_m, p: string) => `${base}/p/${p}`));
    }
    const out: Record<string, string> = {};
    r.headers.forEach((v, k) => { if (!["content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"].includes(k)) out[k] = v; });
    return { status: r.status, headers: out, body: text };
  };

  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const m = /^\/p\/(\d+)(\/.*)?$/.exec(req.url ?? "");
      if (!m) { res.writeHead(404).end(); return; }
      const port = Number(m[1]);
      const path = m[2] ?? "/";
      const body = await readBody(req);
      if (o.oidc && port === 5000 && path === `/v3/OS-FEDERATION/identity_providers/${o.oidc.idp}/protocols/${o.oidc.protocol}/auth`) {
        if (req.headers.authorization !== `Bearer ${o.oidc.accessToken}`) { res.writeHead(401, { "content-type": "application/json" }).end('{"error":{"code":401,"message":"invalid access token"}}'); return; }
        counts.oidc++;
        const r = await fetch("http://127.0.0.1:5000/v3/auth/tokens", {
          method: "POST", headers: { "content-type": "application/json" },
          body: JSON.stringify({ auth: { identity: { methods: ["password"], password: { user: { name: o.oidc.user.name, domain: { name: o.oidc.user.domain }, password: o.oidc.user.password } } } } }),
        });
        const text = await r.text();
        res.writeHead(r.status, { "content-type": "application/json", "x-subject-token": r.headers.get("x-subject-token") ?? "" }).end(text);
        return;
      }
      const faulty = rate > 0 && !(o.spare?.test(path)) && rand() < rate;
      const fault = faulty ? faults[Math.floor(rand() * faults.length)]! : undefined;
      if (fault === "503") { counts["503"]++; res.writeHead(503, { "content-type": "text/plain" }).end("injected 503"); return; }
      if (fault === "reset") { counts.reset++; req.socket.destroy(); return; }
      if (fault === "hang") { counts.hang++; return; } // never answered; the client's timeout must fire
      const r = await forward(req, port, path, body);
      if (fault === "502-after") { counts["502-after"]++; res.writeHead(502, { "content-type": "text/plain" }).end("injected 502 after forwarding"); return; }
      res.writeHead(r.status, r.headers).end(r.body);
    } catch (e) {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end(`proxy error: ${(e as Error).message}`);
    }
  });
  server.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  return {
    url: base,
    authUrl: `${base}/p/5000/v3`,
    counts,
    setRate: (r) => { rate = r; },
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}
