// The web portal in real Chromium (Debian's, driven by playwright-core) against a job server with
// auth oidc and a real OpenID provider (oidc-provider) on loopback: login with an allowed and a
// refused entitlement, a job submitted from the generated form (a refused value showing the same
// message as the server's 400, the server's own message on 400, an upload), its phase changing live
// in the list, its results previewed (PNG inline, VOTable as a table with its PARAMs, text), abort
// and delete, another user's job out of sight, CSRF refused, logout with the IdP's end-session; a
// file parameter given as a URL (served by this test on loopback) that the job server fetches.
// Then SAMP: a real astropy hub with the Web Profile and a receiving client that fetches the signed
// URL it is sent; the same URL unsigned, tampered with or expired is refused.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { ResultSigner } from "../../../runtime/portal/signed-url.js";
import { freePort } from "../../harness/ports.js";
import { context, launch, oidcLogin, oidcSettings, serve, shot, startHub, type Served } from "./harness.js";
import { startLoginIssuer, type LoginIssuer } from "./login-issuer.js";

// Page-side code in evaluate() callbacks runs in Chromium; the project compiles without the DOM lib.
declare const document: any;
type HTMLFormElement = any;
type HTMLImageElement = any;


const MEMBERS = "urn:geant:example.org:group:uws#members";

// Generous per-test time: logins and job runs share 2 cores with other suites.
describe("portal in Chromium, OIDC login against oidc-provider", { timeout: 150_000 }, () => {
  let idp: LoginIssuer;
  let s: Served;
  let browser: Browser;
  let alice: BrowserContext;
  let page: Page;
  let doneJob = "";
  let files: Server;
  let filesUrl = "";

  beforeAll(async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    idp = await startLoginIssuer({ alice: [MEMBERS], bob: [MEMBERS], mallory: ["urn:geant:example.org:group:other"] }, base);
    const secretFile = join(await import("node:os").then((o) => o.tmpdir()), `portal-client-secret-${process.pid}`);
    writeFileSync(secretFile, `${idp.clientSecret}\n`, { mode: 0o600 });
    // The files a file parameter names by URL: on loopback, which the job server fetches only
    // because the test lists 127.0.0.1 in fileUrlHosts.
    files = createServer((req, res) => (req.url === "/notes.txt" ? res.writeHead(200, { "content-type": "text/plain" }).end("notes from a URL: Vesta, night 2\n") : res.writeHead(404).end()));
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    s = await serve(
      { auth: "oidc", publicUrl: base, oidc: oidcSettings(idp, secretFile, MEMBERS), fileUrlHosts: ["127.0.0.1"] },
      port,
    );
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await idp?.stop();
    await new Promise((r) => files?.close(r));
  });

  it("refuses a login whose entitlements the rules do not allow, and keeps no session", async () => {
    const ctx = await context(browser);
    const p = await ctx.newPage();
    await oidcLogin(p, s.url, "mallory");
    expect(p.url()).toContain("/portal/callback");
    await expect(p.textContent("h1")).resolves.toBe("Access refused");
    expect(await p.textContent("[role=alert]")).toContain("login of 'mallory' lacks a required entitlement in claim 'eduperson_entitlement'");
    await shot(p, "refused");
    const session = await p.evaluate(async () => (await fetch("/portal/session")).json()) as any;
    expect(session.user).toBeNull();
    await ctx.close();
  });

  it("binds a login to the browser that started it: a callback URL carried to another browser is refused", async () => {
    const start = await fetch(`${s.url}/portal/login?return=/`, { redirect: "manual" });
    expect(start.status).toBe(303);
    const to = new URL(start.headers.get("location")!);
    expect(to.origin).toBe(idp.issuer);
    expect(to.searchParams.get("code_challenge_method")).toBe("S256");
    expect(to.searchParams.get("redirect_uri")).toBe(`${s.url}/portal/callback`);
    const state = to.searchParams.get("state")!;
    expect(start.headers.get("set-cookie")).toContain(`uws-login=${state}; Path=/portal/callback; HttpOnly; SameSite=Lax`);
    const elsewhere = await fetch(`${s.url}/portal/callback?code=stolen&state=${state}`, { redirect: "manual" });
    expect(elsewhere.status).toBe(400);
    expect(await elsewhere.text()).toContain("not started in this browser");
    // Nor may the return address leave the site.
    const open = await fetch(`${s.url}/portal/login?return=//evil.example/`, { redirect: "manual" });
    const attempt = new URL(open.headers.get("location")!).searchParams.get("state")!;
    expect(attempt).toBeTruthy();
  });

  it("logs alice in through the IdP (code + PKCE) and lists the applications", async () => {
    alice = await context(browser);
    page = await alice.newPage();
    await oidcLogin(page, s.url, "alice");
    await page.waitForSelector(".cards .card");
    expect(await page.textContent("#user")).toContain("Alice Example");
    expect(await page.locator(".card h2").allTextContents()).toEqual(["demo", "sleep"]);
    const cookie = (await alice.cookies()).find((c) => c.name === "uws-session")!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax" });
    await shot(page, "apps");
  });

  it("the form: generated from the definition, the browser's message is the server's, the server's 400 lands on its field", async () => {
    await page.click("text=demo");
    await page.waitForSelector("form.jobform");
    // Types → inputs, enum → select, defaults, descriptions, file upload, control parameters under "more".
    expect(await page.inputValue("#p-count")).toBe("2");
    expect(await page.locator("#p-mode option").allTextContents()).toEqual(["fast", "careful"]);
    expect(await page.getAttribute("#p-notes", "type")).toBe("file");
    expect(await page.getAttribute("#p-verbose", "type")).toBe("checkbox");
    expect(await page.textContent("#p-count-help")).toContain("1 to 5");
    expect(await page.isVisible("#c-runid")).toBe(false);
    await page.click("details.more summary");
    expect(await page.isVisible("#c-runid")).toBe(true);

    const server = async (body: string) =>
      page.evaluate(async (b) => {
        const sess: any = await (await fetch("/portal/session")).json();
        const r = await fetch("/uws/demo", { method: "POST", headers: { "x-csrf-token": sess.csrf, "content-type": "application/x-www-form-urlencoded" }, body: b, redirect: "manual" });
        return { status: r.status, text: (await r.text()).trim() };
      }, body);
    for (const [field, value, body] of [
      ["label", "Not Lower", "label=Not%20Lower"],
      ["count", "9", "count=9"],
      ["scale", "0.1000000000000000000001", "scale=0.1000000000000000000001"],
    ] as const) {
      await page.fill(`#p-${field}`, value);
      await page.click("#run");
      const shown = (await page.textContent(`#p-${field}-err`))!.trim();
      const answer = await server(body);
      expect(answer.status).toBe(400);
      expect(shown).toBe(answer.text);
      expect(await page.getAttribute(`#p-${field}`, "aria-invalid")).toBe("true");
      await page.fill(`#p-${field}`, field === "label" ? "alpha" : field === "count" ? "3" : "1.5");
    }
    await shot(page, "form-refused");
    // With the browser's checks off, the server's own 400 message lands on the field it names.
    await page.$eval("form.jobform", (f: HTMLFormElement) => (f.dataset.servercheck = "1"));
    await page.fill("#p-count", "7");
    await page.click("#run");
    await page.waitForFunction(() => document.querySelector("#p-count-err")?.textContent !== "");
    expect(await page.textContent("#p-count-err")).toBe("parameter 'count' of 'demo': must be ≤ 5, got 7");
    await page.$eval("form.jobform", (f: HTMLFormElement) => delete f.dataset.servercheck);
    await page.fill("#p-count", "3");
  });

  it("submits with an upload, and the list shows the phase change live (server-sent events)", async () => {
    await page.fill("#p-seconds", "3");
    await page.setInputFiles("#p-notes", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("observing notes: Vesta, night 1\n") });
    await page.fill("#c-runid", "first-run");
    await page.click("#run");
    await page.waitForSelector("#form-status a");
    doneJob = (await page.textContent("#form-status a"))!;
    const row = `tr[data-job="${doneJob}"]`;
    await page.waitForSelector(`${row} .phase-executing`, { timeout: 20000 });
    await shot(page, "list-executing");
    await page.waitForSelector(`${row} .phase-completed`, { timeout: 30000 });
    expect(await page.textContent(`${row} .runid`)).toContain("first-run");
  });

  it("a file parameter from a URL: a bad scheme shows the server's message, a failed fetch lands on the field, a good URL is fetched and used by the job", async () => {
    await page.goto(`${s.url}/#/apps/demo`);
    await page.waitForSelector("#p-notes");
    await page.check("#p-notes-source-url");
    expect(await page.isVisible("#p-notes")).toBe(false);
    expect(await page.getAttribute("#p-notes-url", "type")).toBe("url");
    const server = async (notes: string) =>
      page.evaluate(async (n) => {
        const sess: any = await (await fetch("/portal/session")).json();
        const r = await fetch("/uws/demo", { method: "POST", headers: { "x-csrf-token": sess.csrf, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ notes: n }), redirect: "manual" });
        return { status: r.status, text: (await r.text()).trim() };
      }, notes);
    // Refused in the browser with the server's own rule and words.
    for (const bad of ["ftp://127.0.0.1/notes.txt", "notes.txt"]) {
      await page.fill("#p-notes-url", bad);
      await page.click("#run");
      const shown = (await page.textContent("#p-notes-err"))!.trim();
      const answer = await server(bad);
      expect(answer.status).toBe(400);
      expect(shown).toBe(answer.text);
      expect(await page.getAttribute("#p-notes-url", "aria-invalid")).toBe("true");
    }
    expect(await page.textContent("#p-notes-err")).toContain("parameter 'notes' of 'demo'");
    // Only the server knows a URL fails when fetched: its 400 lands on the field.
    await page.fill("#p-notes-url", `${filesUrl}/missing.txt`);
    await page.click("#run");
    await page.waitForFunction(() => /could not fetch/.test(document.querySelector("#p-notes-err")?.textContent ?? ""));
    expect(await page.textContent("#p-notes-err")).toMatch(/^parameter 'notes' of 'demo': could not fetch http:\/\/127\.0\.0\.1:\d+\/missing\.txt: 127\.0\.0\.1:\d+ answered HTTP 404$/);
    await shot(page, "form-file-url-refused");
    await page.fill("#p-notes-url", `${filesUrl}/notes.txt`);
    await page.click("#run");
    await page.waitForSelector("#form-status a");
    const id = (await page.textContent("#form-status a"))!;
    await page.waitForSelector(`tr[data-job="${id}"] .phase-completed`, { timeout: 30000 });
    await page.click(`tr[data-job="${id}"] th a`);
    await page.click('details[data-result="notes"] summary');
    await page.waitForFunction(() => document.querySelector('details[data-result="notes"] pre')?.textContent?.includes("notes from a URL: Vesta, night 2"));
    const param = await page.evaluate(async (u) => (await fetch(u)).text(), `/uws/demo/${id}/parameters/notes`);
    expect(param).toBe("notes from a URL: Vesta, night 2\n");
    await page.goto(`${s.url}/#/apps/demo`);
    await page.waitForSelector(`tr[data-job="${doneJob}"]`);
  });

  it("the job page: phase, times, parameters, results previewed by type, outputs, provenance", async () => {
    await page.click(`tr[data-job="${doneJob}"] th a`);
    await page.waitForSelector(".jobhead .phase-completed");
    // PNG inline.
    const img = page.locator(".thumbs img").first();
    await img.waitFor();
    await page.waitForFunction(() => (document.querySelector(".thumbs img") as HTMLImageElement)?.naturalWidth > 0);
    // VOTable: its PARAMs and its first rows as a table.
    await page.waitForSelector("table.vot tbody tr");
    expect(await page.locator("table.vot tbody tr").count()).toBe(9);
    expect(await page.textContent("table.vot caption")).toBe("first 9 of 9 rows");
    expect(await page.locator("table.vot thead th").allTextContents()).toEqual(["wavelength [um]", "reflectance"]);
    expect(await page.textContent("table.params")).toContain("target_name");
    expect(await page.textContent("table.params")).toContain("alpha");
    expect(await page.textContent("table.params")).toContain("12.5 deg");
    // Text and JSON in the viewer; the uploaded file came through.
    await page.click('details[data-result="notes"] summary');
    await page.waitForFunction(() => document.querySelector('details[data-result="notes"] pre')?.textContent?.includes("observing notes"));
    await page.click('details[data-result="summary"] summary');
    await page.waitForFunction(() => document.querySelector('details[data-result="summary"] pre')?.textContent?.includes('"label": "alpha"'));
    await page.click("#out-stdout summary");
    await page.waitForFunction(() => document.querySelector("#out-stdout pre")?.textContent?.includes("demo stdout: label=alpha count=3"));
    expect(await page.textContent(".kv")).toContain("uploaded file");
    // Users' files never run as pages of the portal's origin.
    for (const u of [`/uws/demo/${doneJob}/parameters/notes`, `/uws/demo/${doneJob}/results/notes`]) {
      const [csp, text] = await page.evaluate(async (x) => {
        const r = await fetch(x);
        return [r.headers.get("content-security-policy"), await r.text()];
      }, u);
      expect(csp, u).toMatch(/^sandbox;/);
      expect(text).toContain("observing notes");
    }
    expect(await page.getAttribute('details[data-result="table"] a[download]', "href")).toBe(`/uws/demo/${doneJob}/results/table`);
    await page.waitForFunction(() => (document.querySelector("img.provgraph") as HTMLImageElement)?.naturalWidth > 0);
    await shot(page, "job");
  });

  /** Runs `sleep 60` from the form on the sleep app's page; its id and its row's selector once the row shows `phase`. */
  async function runSleepFromForm(phase: "executing" | "queued", prepare?: () => Promise<void>): Promise<{ id: string; row: string }> {
    await page.goto(`${s.url}/#/apps/sleep`);
    await page.waitForSelector("#p-seconds");
    await prepare?.();
    await page.fill("#p-seconds", "60");
    await page.click("#run");
    await page.waitForSelector("#form-status a");
    const id = (await page.textContent("#form-status a"))!;
    const row = `tr[data-job="${id}"]`;
    await page.waitForSelector(`${row} .phase-${phase}`, { timeout: 20000 });
    return { id, row };
  }

  it("aborts a running job and deletes it, live in the list", async () => {
    const { id, row } = await runSleepFromForm("executing");
    await page.click(`${row} button:text("Abort")`);
    await page.waitForSelector(`${row} .phase-aborted`, { timeout: 20000 });
    await page.click(`${row} button:text("Delete")`);
    await page.waitForSelector(row, { state: "detached", timeout: 20000 });
    const status = await page.evaluate(async (u) => (await fetch(u)).status, `/uws/sleep/${id}`);
    expect(status).toBe(404);
  });

  it("a click on Abort that lands while its row changes phase is not lost (QUEUED → EXECUTING under the pointer)", async () => {
    const service = s.app.uws.service;
    let started: string[] = [];
    // Two running jobs fill the local executor's two slots, so the third waits QUEUED.
    const { row } = await runSleepFromForm("queued", async () => {
      started = await page.evaluate(async () => {
        const sess: any = await (await fetch("/portal/session")).json();
        const ids: string[] = [];
        for (let i = 0; i < 2; i++) {
          const r = await fetch("/uws/sleep", { method: "POST", headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded", "x-csrf-token": sess.csrf }, body: "seconds=60&PHASE=RUN" });
          ids.push(((await r.json()) as { jobId: string }).jobId);
        }
        return ids;
      });
      for (const id of started) await page.waitForSelector(`tr[data-job="${id}"] .phase-executing`, { timeout: 20000 });
    });
    // The press begins on QUEUED; a slot frees, the job starts and its row changes; then the release.
    const box = (await page.locator(`${row} button:text("Abort")`).boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await service.abort(service.db.get(started[0]!)!);
    await page.waitForSelector(`${row} .phase-executing`, { timeout: 20000 });
    await page.mouse.up();
    await page.waitForSelector(`${row} .phase-aborted`, { timeout: 20000 });
    await service.abort(service.db.get(started[1]!)!);
  });

  it("a job that ends while the event stream reconnects shows its final phase once the stream is back", async () => {
    const service = s.app.uws.service;
    const { id, row } = await runSleepFromForm("executing");
    // Every connection dropped (a proxy restart, a network blip); the job ends before the page's
    // EventSource reconnects (the stream asks for 3 s), so no event of the stream carries its end.
    s.app.server.closeAllConnections();
    await service.abort(service.db.get(id)!);
    await page.waitForSelector(`${row} .phase-aborted`, { timeout: 20000 });
  });

  it("another user's job is not visible: not in the list, its page refused", async () => {
    const bob = await context(browser);
    const bp = await bob.newPage();
    await oidcLogin(bp, s.url, "bob");
    await bp.goto(`${s.url}/#/apps/sleep`);
    await bp.waitForSelector("#p-seconds");
    await bp.fill("#p-seconds", "1");
    await bp.click("#create");
    await bp.waitForSelector("#form-status a");
    const bobJob = (await bp.textContent("#form-status a"))!;
    await bob.close();

    await page.goto(`${s.url}/#/apps/sleep`);
    await page.waitForSelector(".joblist tbody tr");
    expect(await page.locator(`tr[data-job="${bobJob}"]`).count()).toBe(0);
    await page.goto(`${s.url}/#/jobs/sleep/${bobJob}`);
    await page.waitForSelector(".notice.error");
    expect(await page.textContent(".notice.error")).toContain(`job '${bobJob}' belongs to another owner`);
    const result = await page.evaluate(async (u) => (await fetch(u)).status, `/uws/sleep/${bobJob}`);
    expect(result).toBe(403);
  });

  it("refuses a state-changing request with the session cookie but without its CSRF token", async () => {
    const r = await page.evaluate(async () => {
      const post = (headers: Record<string, string>) => fetch("/uws/sleep", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: "seconds=1", redirect: "manual" });
      const none = await post({});
      const wrong = await post({ "x-csrf-token": "not-the-token" });
      const sess: any = await (await fetch("/portal/session")).json();
      const right = await post({ "x-csrf-token": sess.csrf });
      return { none: [none.status, await none.text()], wrong: wrong.status, right: right.type === "opaqueredirect" ? 303 : right.status, logout: (await fetch("/portal/logout", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status };
    });
    expect(r.none[0]).toBe(403);
    expect(r.none[1]).toContain("CSRF token missing or wrong");
    expect(r.wrong).toBe(403);
    expect(r.right).toBe(303);
    expect(r.logout).toBe(403);
  });

  it("SAMP: the button sends a signed URL over a real hub; the receiver fetches the VOTable; unsigned, tampered or expired is refused", async () => {
    const hub = await startHub();
    try {
      await page.goto(`${s.url}/#/jobs/demo/${doneJob}`);
      await page.waitForSelector("#hub.up", { timeout: 15000 });
      await page.waitForSelector('details[data-result="table"] button.send[data-mtype="table.load.votable"]');
      // Only the message types that fit: none for the PNG's or the text's MIME type.
      expect(await page.locator('details[data-result="notes"] button.send').count()).toBe(0);
      await page.click('details[data-result="table"] button.send[data-mtype="table.load.votable"]');
      const msg = await hub.next();
      await page.waitForFunction(() => /sent to 1 tool/.test(document.querySelector('details[data-result="table"] .samp-status')?.textContent ?? ""));
      await shot(page, "samp-sent");
      expect(msg.mtype).toBe("table.load.votable");
      expect(msg.status).toBe(200);
      const bytes = await page.evaluate(async (u) => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer())), `/uws/demo/${doneJob}/results/table`);
      expect(msg.sha256).toBe(createHash("sha256").update(Buffer.from(bytes)).digest("hex"));
      expect(msg.head).toContain("<VOTABLE");
      const url = new URL(msg.url);
      expect(url.pathname).toBe(`/uws/demo/${doneJob}/results/table`);
      // The same URL without its signature, with another expiry, for another result, or expired.
      expect((await fetch(`${url.origin}${url.pathname}`)).status).toBe(401);
      const tampered = new URL(url);
      tampered.searchParams.set("uws-exp", String(Number(url.searchParams.get("uws-exp")) + 3600));
      expect((await fetch(tampered)).status).toBe(403);
      const other = new URL(url);
      other.pathname = `/uws/demo/${doneJob}/results/plot`;
      expect((await fetch(other)).status).toBe(403);
      const job = new URL(url);
      job.pathname = `/uws/demo/${doneJob}`;
      expect((await fetch(job)).status).toBe(403);
      const key = Buffer.from(readFileSync(join(s.dir, "data", "job-secret.key"), "utf8").trim());
      const expired = new ResultSigner(key).sign({ def: "demo", id: doneJob, rid: "table" }, Date.now() - 3600_000);
      const res = await fetch(`${s.url}${expired.path}`);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("expired");
      const fresh = new ResultSigner(key).sign({ def: "demo", id: doneJob, rid: "table" });
      expect((await fetch(`${s.url}${fresh.path}`)).status).toBe(200);
    } finally {
      await hub.stop();
    }
  });

  it("works at phone width with the keyboard", async () => {
    const phone = await context(browser, { phone: true });
    await phone.addCookies((await alice.cookies()).map((c) => ({ ...c })));
    const p = await phone.newPage();
    await p.goto(`${s.url}/#/apps/demo`);
    await p.waitForSelector(`tr[data-job="${doneJob}"]`);
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    // Keyboard: the skip link, then into the form; Enter in a field submits it.
    await p.keyboard.press("Tab");
    expect(await p.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await p.focus("#p-label");
    await p.keyboard.type("-bad");
    await p.keyboard.press("Enter");
    await p.waitForFunction(() => document.activeElement?.id === "p-label" && document.querySelector("#p-label-err")?.textContent !== "");
    await shot(p, "phone-form");
    await p.goto(`${s.url}/#/jobs/demo/${doneJob}`);
    await p.waitForSelector(".thumbs img");
    await shot(p, "phone-job");
    await phone.close();
  });

  it("logs out: session gone on the server, cookie cleared, then the IdP's end-session", async () => {
    const before = (await alice.cookies()).find((c) => c.name === "uws-session")!.value;
    await page.goto(`${s.url}/`);
    await page.click("#logout");
    await page.waitForURL((u) => u.href.startsWith(idp.issuer));
    expect(idp.requests).toContain("/session/end");
    expect((await alice.cookies()).find((c) => c.name === "uws-session")).toBeUndefined();
    const r = await fetch(`${s.url}/uws/demo`, { headers: { cookie: `uws-session=${before}` } });
    expect(r.status).toBe(401);
    await page.goto(`${s.url}/`);
    await page.waitForSelector("#login");
  });
});
