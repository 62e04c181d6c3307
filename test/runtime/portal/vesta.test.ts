// The whole journey in Chromium: log in with the IdP (oidc-provider), run the Vesta EPN-TAP
// workflow (examples/apps, as `uws-cluster serve --apps examples/apps` runs it, local executor) from
// its generated form against the EPN-TAP fixture (test/apps/epntap-fixture.ts, the real M4AST being
// out of reach), see its thumbnails and a spectrum VOTable previewed, and send that VOTable to a VO
// tool over a real SAMP hub: the receiving client fetches the signed URL and gets the VOTable bytes.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { EpnTapFixture, vestaGranules } from "../../apps/epntap-fixture.js";
import { freePort } from "../../harness/ports.js";
import { context, launch, oidcLogin, oidcSettings, REPO, serve, shot, startHub, type Served } from "./harness.js";
import { startLoginIssuer, type LoginIssuer } from "./login-issuer.js";

// Page-side code in evaluate() callbacks runs in Chromium; the project compiles without the DOM lib.
declare const document: any;


const MEMBERS = "urn:geant:example.org:group:vesta#members";

describe("the Vesta journey in the portal", { timeout: 240_000 }, () => {
  let idp: LoginIssuer;
  let s: Served;
  let browser: Browser;
  const fixture = new EpnTapFixture(vestaGranules(3));

  beforeAll(async () => {
    await fixture.start("127.0.0.1");
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    idp = await startLoginIssuer({ astronomer: [MEMBERS] }, base);
    const secretFile = join(tmpdir(), `portal-vesta-secret-${process.pid}`);
    writeFileSync(secretFile, `${idp.clientSecret}\n`, { mode: 0o600 });
    s = await serve(
      {
        definitions: null,
        apps: join(REPO, "examples/apps"),
        auth: "oidc",
        publicUrl: base,
        oidc: oidcSettings(idp, secretFile, MEMBERS),
      },
      port,
    );
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await idp?.stop();
    await fixture.stop();
  });

  it("log in, run epn-spectra from its form, see the thumbnails, send a spectrum VOTable over SAMP", async () => {
    const hub = await startHub();
    try {
      const ctx = await context(browser);
      const page = await ctx.newPage();
      await oidcLogin(page, s.url, "astronomer");
      await page.click('a[href="#/apps/epn-spectra"]');
      await page.waitForSelector("#p-services");
      expect(await page.inputValue("#p-target")).toBe("Vesta");
      expect(await page.locator("#p-dataproduct option").allTextContents()).toEqual(["sp", "any"]);
      await page.fill("#p-services", fixture.service);
      await page.fill("#p-limit", "3");
      await page.click("#run");
      await page.waitForSelector("#form-status a");
      const id = (await page.textContent("#form-status a"))!;
      await page.waitForSelector(`tr[data-job="${id}"] .phase-completed`, { timeout: 120_000 });
      await page.click(`tr[data-job="${id}"] th a`);
      await page.waitForSelector(".jobhead .phase-completed");
      await page.waitForFunction(() => ([...document.querySelectorAll(".thumbs img")] as any[]).filter((i: any) => i.naturalWidth > 0).length >= 3, undefined, { timeout: 20_000 });
      expect(await page.locator(".thumbs img").count()).toBeGreaterThanOrEqual(3);
      // The index VOTable is open first; the first spectrum shows its rows and its EPN-TAP PARAMs.
      await page.click('details[data-result="votable-1"] summary');
      await page.waitForSelector('details[data-result="votable-1"] table.vot tbody tr');
      expect(await page.textContent('details[data-result="votable-1"] table.params')).toContain("granule_uid");
      await page.waitForSelector("#hub.up", { timeout: 15_000 });
      await page.click('details[data-result="votable-1"] button.send[data-mtype="table.load.votable"]');
      const msg = await hub.next(20_000);
      expect(msg).toMatchObject({ mtype: "table.load.votable", status: 200 });
      const bytes = await page.evaluate(async (u) => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer())), `/uws/epn-spectra/${id}/results/votable-1`);
      expect(msg.sha256).toBe(createHash("sha256").update(Buffer.from(bytes)).digest("hex"));
      expect(msg.head).toContain("VOTABLE");
      await page.waitForFunction(() => /sent to 1 tool/.test(document.querySelector('details[data-result="votable-1"] .samp-status')?.textContent ?? ""));
      await shot(page, "vesta-job");
      await ctx.close();
    } finally {
      await hub.stop();
    }
  });
});
