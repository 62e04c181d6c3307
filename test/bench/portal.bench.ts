// Benchmark of the web portal (`npm run bench:portal`). Prints figures; asserts nothing.
// Debian's Chromium (playwright-core) against an in-process job server on loopback (auth tokens, one
// session per run, a fresh browser context each time: nothing cached). Goals: first load ≤ 200 KB
// transferred and interactive ≤ 300 ms; a job list of 10,000 jobs rendered ≤ 300 ms.
//   first load: every byte of the page, its styles and scripts, the session and the definitions
//     (navigation + resource transferSize: headers and bodies as sent, gzip where accepted);
//     interactive = navigation start → the applications shown (performance mark portal:ready).
//   job list: the owner's 10,000 jobs as one JSON list; fetch → rendered (first page of 100 rows,
//     counts, filters) and render alone (parsed → rendered).
import { newJobId } from "../../runtime/jobs/service.js";
import { context, launch, serve } from "../runtime/portal/harness.js";

// Page-side code in evaluate() callbacks runs in Chromium; the project compiles without the DOM lib.
declare const document: any;


const RUNS = 7;
const JOBS = 10_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const s = await serve({ auth: "tokens", tokens: ["bench-token=alice"] });
const db = s.app.uws.service.db;
const t0 = Date.now() - JOBS * 1000;
for (let i = 0; i < JOBS; i++)
  db.insert({ id: newJobId(), definition: "sleep", owner: "alice", runId: i % 10 ? null : `run-${i}`, phase: i % 3 ? "COMPLETED" : "PENDING", created: t0 + i * 1000, duration: 60, destruction: null, params: [{ name: "seconds", value: "1" }] });
const browser = await launch();
const load: Array<{ bytes: number; requests: number; tti: number }> = [];
const list: Array<{ total: number; render: number; fetched: number }> = [];
try {
  for (let r = 0; r < RUNS + 1; r++) {
    const ctx = await context(browser);
    const page = await ctx.newPage();
    await page.goto(`${s.url}/`);
    await page.evaluate(async () => {
      await fetch("/portal/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: "bench-token" }) });
    });
    // First load, logged in, nothing cached (a new page of the same context keeps the cookie only).
    const p2 = await ctx.newPage();
    const cdp = await ctx.newCDPSession(p2);
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    let bytes = 0;
    let requests = 0;
    cdp.on("Network.loadingFinished", (e: { encodedDataLength: number }) => {
      bytes += e.encodedDataLength;
      requests++;
    });
    await p2.goto(`${s.url}/`);
    await p2.waitForSelector(".cards .card");
    await p2.waitForLoadState("networkidle");
    const tti = await p2.evaluate(() => performance.getEntriesByName("portal:ready")[0]!.startTime);
    const loadBytes = bytes;
    const loadRequests = requests;
    if (process.env.PORTAL_BENCH_DEBUG)
      console.log(await p2.evaluate(() => performance.getEntriesByType("resource").map((e: any) => `${e.name} ${e.startTime.toFixed(0)}→${e.responseEnd.toFixed(0)} ${e.transferSize}`).join("\n")));
    // The job list of 10,000 jobs.
    await p2.click('a[href="#/apps/sleep"]');
    await p2.waitForSelector('.joblist tbody tr[data-job]');
    const m = await p2.evaluate(() => ({
      total: performance.getEntriesByName("joblist")[0]!.duration,
      render: performance.getEntriesByName("joblist:render")[0]!.duration,
      count: document.querySelector(".count")!.textContent,
    }));
    if (m.count !== `${JOBS} jobs`) throw new Error(`the list shows ${m.count}, expected ${JOBS} jobs`);
    if (r > 0) {
      // The first run warms the server and Chromium up; it is not counted.
      load.push({ bytes: loadBytes, requests: loadRequests, tti });
      list.push({ total: m.total, render: m.render, fetched: m.total - m.render });
    }
    await ctx.close();
  }
} finally {
  await browser.close();
  await s.stop();
}
const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
console.log(`portal first load (logged in, no cache), median of ${RUNS}: ${kb(median(load.map((x) => x.bytes)))} in ${load[0]!.requests} requests (goal ≤ 200 KB); interactive after ${median(load.map((x) => x.tti)).toFixed(0)} ms (goal ≤ 300 ms)`);
console.log(`job list of ${JOBS} jobs, median of ${RUNS}: ${median(list.map((x) => x.total)).toFixed(0)} ms from request to rendered (goal ≤ 300 ms), of which fetch + JSON ${median(list.map((x) => x.fetched)).toFixed(0)} ms and render ${median(list.map((x) => x.render)).toFixed(0)} ms`);
