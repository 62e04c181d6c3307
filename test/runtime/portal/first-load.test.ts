// The portal's first load and its job list in Chromium, as the speed work left them: the page
// carries its stylesheet, its script and the caller's session and applications, so the applications
// are on screen with no further request; the Content-Security-Policy allows exactly those inline
// blocks (by hash, no 'unsafe-inline') and a definition's text cannot break out of the data block.
// The job list arrives a page at a time (the newest 100, the count of all), grows on demand, filters
// on the server, and stays the newest first while the live stream reports jobs beyond the page.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext } from "playwright-core";
import { newJobId } from "../../../runtime/jobs/service.js";
import { context, DEFS, launch, serve, type Served } from "./harness.js";

// Page-side code in evaluate() callbacks runs in Chromium; the project compiles without the DOM lib.
declare const document: any;

const HOSTILE = "Ends a script </script><script>document.title='owned'</script><!-- and a line separator \u2028 here";

describe("portal first load and job list pages", { timeout: 120_000 }, () => {
  let browser: Browser;
  let s: Served;
  let defs: string;
  let ctx: BrowserContext;
  const T0 = Date.parse("2026-01-01T00:00:00Z");

  beforeAll(async () => {
    defs = mkdtempSync(join(tmpdir(), "portal-defs-"));
    writeFileSync(join(defs, "sleep.yaml"), readFileSync(join(DEFS, "sleep.yaml")));
    writeFileSync(
      join(defs, "hostile.yaml"),
      `name: hostile\ndescription: ${JSON.stringify(HOSTILE)}\nparameters:\n  x:\n    type: string\n    default: a\ncommand:\n  executable: /bin/true\n  args: []\nresults: []\nresources:\n  cpus: 1\n  memoryMb: 16\n  maxDuration: 60\n`,
    );
    s = await serve({ auth: "tokens", tokens: ["t-alice=alice", "t-bob=bob"], definitions: defs });
    // 250 of alice's jobs (every third PENDING: the live stream reports those at connect) and one of bob's.
    const db = s.app.uws.service.db;
    for (let i = 0; i < 250; i++)
      db.insert({ id: `j${String(i).padStart(3, "0")}`, definition: "sleep", owner: "alice", runId: null, phase: i % 3 ? "COMPLETED" : "PENDING", created: T0 + i * 1000, duration: 60, destruction: null, params: [{ name: "seconds", value: "1" }] });
    db.insert({ id: newJobId(), definition: "sleep", owner: "bob", runId: null, phase: "PENDING", created: T0 + 999_000, duration: 60, destruction: null, params: [{ name: "seconds", value: "1" }] });
    browser = await launch();
    ctx = await context(browser);
    const p = await ctx.newPage();
    await p.goto(`${s.url}/`);
    await p.evaluate(async () => {
      await fetch("/portal/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: "t-alice" }) });
    });
    await p.close();
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    if (defs) rmSync(defs, { recursive: true, force: true });
  });

  it("shows the applications from the page alone: one request, inline blocks allowed by hash only, data that cannot end its block", async () => {
    const page = await ctx.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on("request", (r) => requests.push(new URL(r.url()).pathname));
    // (Without a SAMP hub here, the hub indicator's ping is refused: not a problem of the page.)
    page.on("console", (m) => m.type() === "error" && !/ERR_CONNECTION_REFUSED/.test(m.text()) && problems.push(m.text()));
    page.on("pageerror", (e) => problems.push(e.message));
    const res = await page.goto(`${s.url}/`);
    await page.waitForSelector(".cards .card");
    // Nothing was asked for before the applications were on screen (the SAMP client comes after).
    const early = await page.evaluate(() => {
      const ready = performance.getEntriesByName("portal:ready")[0]!.startTime;
      return performance.getEntriesByType("resource").filter((e: any) => e.startTime < ready).map((e: any) => e.name);
    });
    expect(early).toEqual([]);
    expect(requests[0]).toBe("/");
    const csp = res!.headers()["content-security-policy"]!;
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/]{43}='; style-src 'self' 'sha256-[A-Za-z0-9+/]{43}=';/);
    expect(csp).not.toContain("unsafe-inline");
    expect(res!.headers()["cache-control"]).toBe("no-store");
    // The definition's text is shown as text; it ended nothing and ran nothing.
    expect(await page.textContent(".card:has(a[href='#/apps/hostile']) p")).toBe(HOSTILE);
    expect(await page.title()).toBe("Applications · UWS portal");
    expect(await page.locator("script").count()).toBe(2);
    expect(problems).toEqual([]);
    // The styles applied (inline stylesheet allowed by its hash): the header is the accent colour.
    expect(await page.evaluate(() => (globalThis as any).getComputedStyle(document.querySelector("header.top")).backgroundColor)).toBe("rgb(29, 79, 145)");
    // Afterwards, off the path to the first view: the SAMP client (hub indicator).
    await page.waitForFunction(() => /SAMP hub: (none|connected)/.test(document.querySelector("#hub").textContent));
    expect(requests).toContain("/portal/assets/samp.js");
    await page.close();
  });

  it("without a session the page carries no applications, only the login", async () => {
    const r = await fetch(`${s.url}/`);
    const html = await r.text();
    const boot = JSON.parse(/<script type="application\/json" id="boot">(.*?)<\/script>/s.exec(html)![1]!);
    expect(boot.session.user).toBeNull();
    expect(boot.definitions).toBeNull();
    expect(html).not.toContain("hostile");
  });

  it("lists the newest 100 of 250 jobs with the count, grows by 100, filters on the server, stays put while the stream reports older live jobs", async () => {
    const page = await ctx.newPage();
    const asked: string[] = [];
    page.on("request", (r) => r.url().includes("/portal/jobs/") && asked.push(new URL(r.url()).search));
    await page.goto(`${s.url}/#/apps/sleep`);
    await page.waitForSelector(".joblist tbody tr[data-job]");
    expect(await page.textContent(".count")).toBe("250 jobs");
    const ids = () => page.locator(".joblist tbody tr[data-job]").evaluateAll((trs: any[]) => trs.map((t) => t.dataset.job));
    let shown = await ids();
    expect(shown.length).toBe(100);
    expect(shown[0]).toBe("j249");
    expect(shown[99]).toBe("j150");
    expect(await page.textContent("#more-jobs")).toBe("Show 100 more (150 not shown)");
    // The stream has reported every PENDING job by now (j000 … j246); none beyond the page was added.
    await page.waitForTimeout(1500);
    shown = await ids();
    expect(shown.length).toBe(100);
    expect(shown[0]).toBe("j249");
    await page.click("#more-jobs");
    await page.waitForFunction(() => document.querySelectorAll(".joblist tbody tr[data-job]").length === 200);
    expect(await page.textContent("#more-jobs")).toBe("Show 50 more (50 not shown)");
    await page.selectOption("#phase-filter", "PENDING");
    await page.waitForFunction(() => document.querySelector(".count").textContent === "84 jobs");
    const pending = await page.locator(".joblist tbody tr[data-job] .phase").allTextContents();
    expect(pending.length).toBe(84);
    expect(new Set(pending)).toEqual(new Set(["PENDING"]));
    expect(asked).toEqual(["?LAST=100", "?LAST=200", "?LAST=100&PHASE=PENDING"]);
    // A job created elsewhere appears at the top, live, and is counted.
    await page.selectOption("#phase-filter", "");
    await page.waitForFunction(() => document.querySelector(".count").textContent === "250 jobs");
    const created = await fetch(`${s.url}/uws/sleep`, { method: "POST", headers: { authorization: "Bearer t-alice", "content-type": "application/x-www-form-urlencoded" }, body: "seconds=30", redirect: "manual" });
    const id = created.headers.get("location")!.split("/").pop()!;
    await page.waitForFunction((x) => document.querySelector(".joblist tbody tr[data-job]")?.dataset.job === x, id, { timeout: 15000 });
    expect(await page.textContent(".count")).toBe("251 jobs");
    // Bad paging input answers 400 naming the field.
    const bad = await page.evaluate(async () => {
      const r = await fetch("/portal/jobs/sleep?PHASE=SLEEPY");
      return [r.status, (await r.text()).trim()];
    });
    expect(bad).toEqual([400, "PHASE: unknown phase 'SLEEPY'; expected one of PENDING, QUEUED, EXECUTING, COMPLETED, ERROR, ABORTED, UNKNOWN, HELD, SUSPENDED, ARCHIVED"]);
    await page.close();
  });
});
