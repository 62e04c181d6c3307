// Benchmark of the UWS job server (`npm run bench:uws`). Prints figures; asserts nothing.
// The server runs as its own process (runtime/main.ts, auth none, local executor) so the client
// does not share its event loop. Goals: ≥ 5,000 creations/s; list p50 ≤ 20 ms with 100,000 jobs;
// other requests p99 ≤ 50 ms during 1,000 concurrent WAITs.
// The client is Node's own node:http with a keep-alive Agent (one connection per client). Both
// processes are warmed up with WARMUP creations first: with only a few hundred, the timed window
// still ran partly in unoptimised (pre-JIT) code on both sides and the sequential figure varied by
// ~40 % between runs of the same code.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { JobsDb, type Phase } from "../../runtime/store/jobs-db.js";
import { newJobId } from "../../runtime/jobs/service.js";

const ROOT = resolve(import.meta.dirname, "../..");
const PORT = 18000 + Math.floor(Math.random() * 2000);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const CLIENT = "node:http keep-alive Agent";
const WARMUP = 3000;
const waitAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

function req(method: string, path: string, body?: string, a: http.Agent = agent): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: "127.0.0.1", port: PORT, path, method, agent: a, headers: body ? { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, location: res.headers.location, body: Buffer.concat(chunks).toString() }));
    });
    r.on("error", reject);
    if (body) r.write(body);
    r.end();
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (x: number) => `${x.toFixed(2)} ms`;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "uws-bench-"));
  const data = join(dir, "data");
  // Seed 100,000 jobs straight into SQLite (one transaction) before the server opens the file.
  const seedT = performance.now();
  {
    const { mkdirSync } = await import("node:fs");
    mkdirSync(data, { recursive: true });
    const db = new JobsDb(join(data, "uws.sqlite"));
    const phases: Phase[] = ["COMPLETED", "COMPLETED", "COMPLETED", "COMPLETED", "COMPLETED", "COMPLETED", "ERROR", "ABORTED", "PENDING", "PENDING"];
    const t0 = Date.now() - 100_000 * 10;
    const rows = Array.from({ length: 100_000 }, (_, i) => ({
      id: newJobId(),
      definition: "hello",
      owner: null,
      runId: null,
      phase: phases[i % phases.length]!,
      created: t0 + i * 10,
      duration: 60,
      destruction: t0 + 30 * 86400_000,
      params: [{ name: "name", value: `seed${i}` }],
    }));
    db.insertMany(rows);
    await db.close();
  }
  console.log(`seeded 100,000 jobs in ${((performance.now() - seedT) / 1000).toFixed(1)} s`);

  const server = spawn(process.execPath, [join(ROOT, "scripts/run-ts.mjs"), join(ROOT, "runtime/main.ts"), "--port", String(PORT), "--data", data, "--auth", "none", "--log-level", "error", "--max-wait", "120"], { stdio: ["ignore", "inherit", "inherit"] });
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await req("GET", "/health")).status === 200) break;
      } catch {
        /* starting */
      }
      if (i > 300) throw new Error("server did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`client: ${CLIENT}; warm-up: ${WARMUP} sequential creations`);
    for (let i = 0; i < WARMUP; i++) await req("POST", "/uws/hello", "name=warm");

    // 1. Creations, sequential.
    const N1 = 10000;
    let t = performance.now();
    for (let i = 0; i < N1; i++) {
      const r = await req("POST", "/uws/hello", `name=s${i}`);
      if (r.status !== 303) throw new Error(`create: ${r.status} ${r.body}`);
    }
    const seqRate = N1 / ((performance.now() - t) / 1000);
    // 2. Creations, 8 concurrent clients.
    const N2 = 16000;
    let next = 0;
    t = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N2) {
          next++;
          const r = await req("POST", "/uws/hello", "name=c");
          if (r.status !== 303) throw new Error(`create: ${r.status}`);
        }
      }),
    );
    const concRate = N2 / ((performance.now() - t) / 1000);
    console.log(`creations/s: sequential ${seqRate.toFixed(0)}, 8 concurrent clients ${concRate.toFixed(0)}   (goal ≥ 5,000)`);

    // 3. List latency with > 100,000 jobs.
    const total = 100_000 + WARMUP + N1 + N2;
    for (const q of ["LAST=100", "PHASE=COMPLETED&LAST=100", "PHASE=ERROR&LAST=100", "PHASE=PENDING&PHASE=ABORTED&LAST=100", "PHASE=EXECUTING"]) {
      const lat: number[] = [];
      for (let i = 0; i < 200; i++) lat.push(await timed(() => req("GET", `/uws/hello?${q}`)));
      console.log(`GET /uws/hello?${q.padEnd(36)} (${total} jobs): p50 ${ms(pct(lat, 50))}  p99 ${ms(pct(lat, 99))}   (goal p50 ≤ 20 ms)`);
    }
    {
      // The whole list (no filter): every job, oldest first — a large document, not a hot path.
      const lat: number[] = [];
      let size = 0;
      for (let i = 0; i < 5; i++) lat.push(await timed(async () => (size = (await req("GET", "/uws/hello")).body.length)));
      console.log(`GET /uws/hello (no filter, ${total} jobs, ${(size / 1e6).toFixed(1)} MB): p50 ${ms(pct(lat, 50))}`);
    }

    // 4. 1,000 concurrent WAIT clients, other requests measured meanwhile.
    const sleeper = (await req("POST", "/uws/sleep", "seconds=1")).location!;
    const sleeperPath = new URL(sleeper).pathname;
    const waitJobs: string[] = [];
    for (let i = 0; i < 100; i++) waitJobs.push(new URL((await req("POST", "/uws/sleep", "seconds=1")).location!).pathname);
    const waits: Array<Promise<unknown>> = [];
    for (let i = 0; i < 1000; i++) waits.push(req("GET", `${i % 10 === 0 ? sleeperPath : waitJobs[i % 100]}?WAIT=60`, undefined, waitAgent));
    // Let every WAIT connection be accepted and parked.
    await new Promise((r) => setTimeout(r, 1500));
    const other: number[] = [];
    const kinds = [() => req("GET", sleeperPath), () => req("GET", "/uws/hello?LAST=20"), () => req("POST", "/uws/hello", "name=during"), () => req("GET", `${sleeperPath}/phase`)];
    for (let i = 0; i < 2000; i++) other.push(await timed(kinds[i % kinds.length]!));
    console.log(`during 1,000 concurrent WAITs: other requests p50 ${ms(pct(other, 50))}  p99 ${ms(pct(other, 99))}  max ${ms(Math.max(...other))}   (goal p99 ≤ 50 ms)`);
    // Release: abort every waited job; all WAITs return at the phase change.
    t = performance.now();
    await Promise.all([sleeperPath, ...waitJobs].map((p) => req("POST", `${p}/phase`, "PHASE=ABORT")));
    await Promise.all(waits);
    console.log(`1,000 WAITs released by the phase change in ${ms(performance.now() - t)}`);
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
    agent.destroy();
    waitAgent.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
