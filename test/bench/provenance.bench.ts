// What provenance costs (`npm run bench:provenance`). Prints figures; asserts nothing. Goal: ≤ 5 %
// on job creation and completion.
// 1. End to end, the server as its own process (runtime/main.ts, auth none, local executor), run
//    alternately with UWS_PROVENANCE=off and on (--rounds N each, default 3; the best round counts):
//    creations/s (sequential and 8 clients), completions/s of PENDING jobs aborted (the final-phase
//    path without a process: capture, result entry, hashing, SQLite), and hello jobs run to
//    COMPLETED (a process each).
// 2. In process: the main thread's CPU time for JobService to finish a COMPLETED hello job, without
//    and with the provenance hook, then per job what storing the records costs the main thread and
//    the other threads (the provenance worker: capture, hashes, JSON, SQLite).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createServer } from "../../runtime/server.js";

const ROOT = resolve(import.meta.dirname, "../..");
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function req(port: number, method: string, path: string, body?: string): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((res, rej) => {
    const r = http.request({ host: "127.0.0.1", port, path, method, agent, headers: body ? { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(body) } : {} }, (resp) => {
      const chunks: Buffer[] = [];
      resp.on("data", (c) => chunks.push(c));
      resp.on("end", () => res({ status: resp.statusCode!, location: resp.headers.location, body: Buffer.concat(chunks).toString() }));
    });
    r.on("error", rej);
    if (body) r.write(body);
    r.end();
  });
}

async function pool(n: number, clients: number, fn: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  return n / ((performance.now() - t) / 1000);
}

interface Figures {
  seq: number;
  conc: number;
  aborts: number;
  runs: number;
  /** The server process's CPU µs per abort: its main thread, and all its threads. */
  abortMain: number;
  abortAll: number;
}

/** CPU µs of a process: its main thread and all its threads (/proc, 10 ms ticks). */
function threadCpu(pid: number): { main: number; all: number } {
  const ticks = (file: string) => {
    const f = readFileSync(file, "utf8");
    const [u, st] = f.slice(f.lastIndexOf(")") + 2).split(" ").slice(11, 13).map(Number);
    return ((u! + st!) * 1e6) / 100;
  };
  const main = ticks(`/proc/${pid}/task/${pid}/stat`);
  return { main, all: ticks(`/proc/${pid}/stat`) };
}

async function endToEnd(provenance: boolean): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), "prov-bench-"));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = spawn(process.execPath, [join(ROOT, "scripts/run-ts.mjs"), join(ROOT, "runtime/main.ts"), "--port", String(port), "--data", join(dir, "data"), "--auth", "none", "--log-level", "error", "--concurrency", "8"], {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, UWS_PROVENANCE: provenance ? "on" : "off" },
  });
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await req(port, "GET", "/health")).status === 200) break;
      } catch {
        /* starting */
      }
      if (i > 300) throw new Error("server did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
    const create = async (body = "name=b") => {
      const r = await req(port, "POST", "/uws/hello", body);
      if (r.status !== 303) throw new Error(`create: ${r.status} ${r.body}`);
      return new URL(r.location!).pathname;
    };
    for (let i = 0; i < 2000; i++) await create();
    const seq = await pool(4000, 1, async () => void (await create()));
    const conc = await pool(8000, 8, async () => void (await create()));
    // Completions without a process: PENDING jobs aborted (the final-phase path).
    const pending: string[] = [];
    for (let i = 0; i < 3000; i++) pending.push(await create());
    const c0 = threadCpu(server.pid!);
    const aborts = await pool(pending.length, 8, async (i) => {
      const r = await req(port, "POST", `${pending[i]}/phase`, "PHASE=ABORT");
      if (r.status !== 303) throw new Error(`abort: ${r.status}`);
    });
    // What finishing them costs until the records are stored too (the worker's last batch).
    await new Promise((r) => setTimeout(r, 300));
    const c1 = threadCpu(server.pid!);
    const abortMain = (c1.main - c0.main) / pending.length;
    const abortAll = (c1.all - c0.all) / pending.length;
    // Completions with a process each: hello jobs run to COMPLETED (8 at once).
    const N = 240;
    const t = performance.now();
    const jobs: string[] = [];
    await pool(N, 8, async () => void jobs.push(await create("name=run&PHASE=RUN")));
    for (const j of jobs)
      for (;;) {
        const p = (await req(port, "GET", `${j}/phase`)).body;
        if (p === "COMPLETED") break;
        if (p === "ERROR" || p === "ABORTED") throw new Error(`${j}: ${p}`);
        await req(port, "GET", `${j}?WAIT=10`);
      }
    const runs = N / ((performance.now() - t) / 1000);
    return { seq, conc, aborts, runs, abortMain, abortAll };
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU time of this process's main thread (/proc, in µs; 10 ms ticks: measure a few hundred ms). */
function mainThreadCpu(): number {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
  const [utime, stime] = f.slice(f.lastIndexOf(")") + 2).split(" ").slice(11, 13).map(Number);
  return ((utime! + stime!) * 1e6) / 100;
}
const processCpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

interface InProcess {
  /** Main-thread µs per job in JobService finishing it, without and with the hook. */
  off: number;
  on: number;
  /** After it: main-thread µs per job (receiving and storing records) and other threads' (the worker). */
  afterMain: number;
  afterOther: number;
}

/** CPU µs JobService spends finishing a COMPLETED hello job (its greeting file in place), per thread. */
async function inProcess(): Promise<InProcess> {
  const dir = mkdtempSync(join(tmpdir(), "prov-bench-ip-"));
  const app = await createServer({ data: join(dir, "data"), auth: "none", logger: false });
  try {
    const service = app.uws.service;
    const hooks = [...service.finalHooks];
    const def = service.definitions.get("hello")!;
    const N = 3000;
    const once = async (n: number, withHook: boolean): Promise<number> => {
      service.finalHooks.length = 0;
      if (withHook) service.finalHooks.push(...hooks);
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const job = await service.create(def, null, [{ name: "name", value: `j${i}` }], {});
        const wd = service.jobDir(job.id);
        mkdirSync(wd, { recursive: true });
        writeFileSync(join(wd, "greeting.txt"), `hello j${i}\n`);
        service.db.setPhase(job.id, "EXECUTING", Date.now());
        ids.push(job.id);
      }
      // CPU time of the main thread (other processes on a loaded machine inflate wall time, not this).
      const c = mainThreadCpu();
      for (const id of ids) service.onExecUpdate(id, { phase: "COMPLETED" });
      return (mainThreadCpu() - c) / n;
    };
    await once(500, true); // warm-up
    await app.uws.provenance?.settle();
    await once(500, false);
    const r = { off: Infinity, on: Infinity, afterMain: Infinity, afterOther: Infinity };
    for (let round = 0; round < 3; round++) {
      r.off = Math.min(r.off, await once(N, false));
      r.on = Math.min(r.on, await once(N, true));
      const m = mainThreadCpu();
      const p = processCpu();
      await app.uws.provenance?.settle();
      const main = mainThreadCpu() - m;
      r.afterMain = Math.min(r.afterMain, main / N);
      r.afterOther = Math.min(r.afterOther, (processCpu() - p - main) / N);
    }
    return r;
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const pct = (on: number, off: number) => `${(((off - on) / off) * 100).toFixed(1)} %`;

async function main() {
  // --in-process: only part 2 (quick).
  if (process.argv.includes("--in-process")) return void (await reportInProcess(), agent.destroy());
  const ri = process.argv.indexOf("--rounds");
  const rounds = ri > 0 ? Number(process.argv[ri + 1]) : 3;
  const best = { off: undefined as Figures | undefined, on: undefined as Figures | undefined };
  for (let round = 0; round < rounds; round++)
    for (const mode of ["off", "on"] as const) {
      const f = await endToEnd(mode === "on");
      const b = best[mode];
      best[mode] = b
        ? { seq: Math.max(b.seq, f.seq), conc: Math.max(b.conc, f.conc), aborts: Math.max(b.aborts, f.aborts), runs: Math.max(b.runs, f.runs), abortMain: Math.min(b.abortMain, f.abortMain), abortAll: Math.min(b.abortAll, f.abortAll) }
        : f;
      console.log(
        `round ${round + 1} (load ${loadavg()[0]!.toFixed(2)}), provenance ${mode}: creations/s ${f.seq.toFixed(0)} sequential, ${f.conc.toFixed(0)} 8 clients; aborts/s ${f.aborts.toFixed(0)} (server CPU per abort: ${f.abortMain.toFixed(0)} µs main thread, ${f.abortAll.toFixed(0)} µs all threads); hello runs to COMPLETED/s ${f.runs.toFixed(1)}`,
      );
    }
  const { off, on } = best as { off: Figures; on: Figures };
  console.log(`best of ${rounds} (cost = drop with provenance on; goal ≤ 5 %):`);
  console.log(`  creations/s sequential  off ${off.seq.toFixed(0)}  on ${on.seq.toFixed(0)}  cost ${pct(on.seq, off.seq)}`);
  console.log(`  creations/s 8 clients   off ${off.conc.toFixed(0)}  on ${on.conc.toFixed(0)}  cost ${pct(on.conc, off.conc)}`);
  console.log(`  completions/s (ABORT)   off ${off.aborts.toFixed(0)}  on ${on.aborts.toFixed(0)}  cost ${pct(on.aborts, off.aborts)}`);
  console.log(`  hello runs/s COMPLETED  off ${off.runs.toFixed(1)}  on ${on.runs.toFixed(1)}  cost ${pct(on.runs, off.runs)}`);
  const more = (on: number, off: number) => `+${(((on - off) / off) * 100).toFixed(1)} %`;
  console.log(`  server CPU per abort (least of ${rounds}; load-independent): main thread off ${off.abortMain.toFixed(0)} µs  on ${on.abortMain.toFixed(0)} µs  ${more(on.abortMain, off.abortMain)}; all threads off ${off.abortAll.toFixed(0)} µs  on ${on.abortAll.toFixed(0)} µs  ${more(on.abortAll, off.abortAll)}`);
  await reportInProcess();
  agent.destroy();
}

async function reportInProcess() {
  const ip = await inProcess();
  console.log(`in process (load ${loadavg()[0]!.toFixed(2)}), main-thread CPU to finish a COMPLETED hello job: ${ip.off.toFixed(1)} µs without provenance, ${ip.on.toFixed(1)} µs with (+${(ip.on - ip.off).toFixed(1)} µs synchronous)`);
  console.log(`  then per job: ${ip.afterMain.toFixed(1)} µs on the main thread (storing the records), ${ip.afterOther.toFixed(1)} µs on other threads (the provenance worker: capture, hashes, JSON)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
