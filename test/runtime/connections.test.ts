// Connection bounds (runtime/connections.ts) under a slow-loris and a connection flood, loopback
// only, bounded counts and time: the hostile connections are closed and legitimate requests are
// still served meanwhile. No timing is asserted beyond generous upper bounds on closing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Socket } from "node:net";
import { http, startServer, type Running } from "./helpers.js";

let s: Running;
const sockets: Socket[] = [];
beforeAll(async () => {
  s = await startServer({
    auth: "tokens",
    tokens: ["t=tester"],
    connections: { headersTimeout: 1, requestTimeout: 3, keepAliveTimeout: 2, bodyTimeout: 1, maxConnections: 60 },
  });
});
afterAll(async () => {
  for (const c of sockets) c.destroy();
  await s?.stop();
});

const port = () => Number(new URL(s.url).port);
function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const c = connect(port(), "127.0.0.1", () => resolve(c));
    // Read (and drop) what the server sends, so its closing is seen.
    c.resume();
    c.on("error", () => {});
    c.once("error", reject);
    sockets.push(c);
  });
}
const closed = (c: Socket) => new Promise<void>((r) => (c.destroyed ? r() : c.once("close", () => r())));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A legitimate client: a fresh connection, a whole request at once. */
async function legit(): Promise<number> {
  const r = await http("GET", `${s.url}/uws/hello?LAST=1`, { token: "t", headers: { connection: "close" } });
  return r.status;
}

describe("connection bounds", () => {
  it("slow-loris: 40 connections sending headers a byte at a time are closed; legitimate requests are served meanwhile", async () => {
    const loris = await Promise.all(Array.from({ length: 40 }, () => open()));
    const header = "GET /uws/hello HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nX-Pad: " + "a".repeat(200);
    let i = 0;
    const drip = setInterval(() => {
      for (const c of loris) if (!c.destroyed) c.write(header[i % header.length]!);
      i++;
    }, 100);
    try {
      const statuses: number[] = [];
      for (let k = 0; k < 10; k++) statuses.push(await legit());
      expect(statuses.every((x) => x === 200)).toBe(true);
      // headersTimeout is 1 s: every dripping connection is closed well within 10 s.
      await Promise.race([Promise.all(loris.map(closed)), sleep(10_000)]);
      expect(loris.filter((c) => !c.destroyed).length).toBe(0);
    } finally {
      clearInterval(drip);
    }
  });

  it("a slow body (one byte a second, then nothing) is closed after the body timeout", async () => {
    const c = await open();
    c.write("POST /uws/hello HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nname=");
    let reply = "";
    c.on("data", (d) => (reply += d));
    await Promise.race([closed(c), sleep(10_000)]);
    expect(c.destroyed).toBe(true);
    expect(reply).not.toMatch(/^HTTP\/1.1 303/);
    expect(await legit()).toBe(200);
  });

  it("flood: 200 idle connections (above maxConnections 60) never keep legitimate clients out; silent ones are closed", async () => {
    const flood: Socket[] = [];
    for (let k = 0; k < 200; k++) flood.push(await open().catch(() => connect(1, "127.0.0.1").on("error", () => {})));
    // Every legitimate request is served while the flood holds its sockets open.
    const statuses = await Promise.all(Array.from({ length: 20 }, () => legit()));
    expect(statuses).toEqual(Array(20).fill(200));
    expect(s.app.uws.connections.open()).toBeLessThanOrEqual(60);
    const counts = s.app.uws.connections.closed();
    expect(counts.evicted + counts.silent).toBeGreaterThan(0);
    // The rest go once silent for headersTimeout.
    await Promise.race([Promise.all(flood.map(closed)), sleep(10_000)]);
    expect(flood.filter((c) => !c.destroyed).length).toBe(0);
  });

  it("a WAIT outlives every timeout above (they bound receiving a request, never the answer)", async () => {
    const job = (await http("POST", `${s.url}/uws/sleep`, { token: "t", form: { seconds: "4", PHASE: "RUN" } })).headers.get("location")!;
    const t = Date.now();
    const r = await http("GET", `${job}?WAIT=30&PHASE=QUEUED`, { token: "t" });
    const r2 = await http("GET", `${job}?WAIT=30&PHASE=EXECUTING`, { token: "t" });
    expect(r.status).toBe(200);
    expect(r2.status).toBe(200);
    expect(r2.body).toMatch(/<uws:phase>COMPLETED</);
    // The second WAIT lasted most of the job's 4 s, beyond requestTimeout (3 s) and the others.
    expect(Date.now() - t).toBeGreaterThan(3000);
  });
});
