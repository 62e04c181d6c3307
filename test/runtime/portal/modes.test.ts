// The portal's other auth modes in Chromium: `tokens` (a page to paste a token: a wrong one refused
// with the server's message, the right one becomes a session, not kept as such), and `none` (a
// development banner on every page, no login).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { get as httpGet, type ClientRequest } from "node:http";
import type { Browser } from "playwright-core";
import { waitFor } from "../../harness/wait.js";
import { context, launch, serve, shot, type Served } from "./harness.js";

describe("portal auth modes in Chromium", { timeout: 120_000 }, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("tokens: the token page refuses an unknown token and logs in with a good one", async () => {
    const s: Served = await serve({ auth: "tokens", tokens: ["good-token=carol"] });
    try {
      const ctx = await context(browser);
      const page = await ctx.newPage();
      await page.goto(`${s.url}/`);
      await page.waitForSelector("#token");
      expect(await page.evaluate(() => (globalThis as any).document.activeElement.id)).toBe("token");
      await page.fill("#token", "wrong-token");
      await page.keyboard.press("Enter");
      await page.waitForFunction(() => (globalThis as any).document.querySelector("#token-err").textContent !== "");
      expect(await page.textContent("#token-err")).toBe("unknown token");
      await shot(page, "token-login");
      await page.fill("#token", "good-token");
      await page.keyboard.press("Enter");
      await page.waitForSelector(".cards .card");
      expect(await page.textContent("#user")).toContain("carol");
      // The session stores who, not the token.
      const cookie = (await ctx.cookies()).find((c) => c.name === "uws-session")!;
      expect(cookie.value).not.toContain("good-token");
      expect(cookie.httpOnly).toBe(true);
      await ctx.close();
    } finally {
      await s.stop();
    }
  });

  it("behind TLS (an https public URL): the session cookie is Secure and __Host-; the session works with it", async () => {
    const s = await serve({ auth: "tokens", tokens: ["good-token=carol"], publicUrl: "https://uws.example.org" });
    try {
      const r = await fetch(`${s.url}/portal/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: "good-token" }) });
      const cookie = r.headers.get("set-cookie")!;
      expect(cookie).toMatch(/^__Host-uws-session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=28800; Secure$/);
      const session = (await (await fetch(`${s.url}/portal/session`, { headers: { cookie: cookie.split(";")[0]! } })).json()) as any;
      expect(session.user).toMatchObject({ owner: "carol", admin: false });
      // A form post from another site cannot log anyone in: the token endpoint takes JSON only.
      const form = await fetch(`${s.url}/portal/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "token=good-token" });
      expect(form.status).toBe(400);
      expect(form.headers.get("set-cookie")).toBeNull();
    } finally {
      await s.stop();
    }
  });

  it("the event stream reports every change of the caller's jobs as it happens: a job that ends before any look at the live jobs, a deletion; never another owner's job", async () => {
    const s = await serve({ auth: "tokens", tokens: ["carol-token=carol", "dave-token=dave"] });
    const events: Array<{ id: string; phase: string | null }> = [];
    let stream: ClientRequest | undefined;
    try {
      const login = await fetch(`${s.url}/portal/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: "carol-token" }) });
      const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
      let buf = "";
      await new Promise<void>((resolve, reject) => {
        stream = httpGet(`${s.url}/portal/events/sleep`, { headers: { cookie } }, (res) => {
          expect(res.statusCode).toBe(200);
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            buf += c;
            for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
              const m = /^data: (.*)$/m.exec(buf.slice(0, i));
              if (m) events.push(JSON.parse(m[1]!));
              buf = buf.slice(i + 2);
            }
          });
          resolve();
        });
        stream.on("error", reject);
      });
      const api = async (token: string, method: string, path: string, body?: string) => {
        const r = await fetch(`${s.url}${path}`, { method, redirect: "manual", headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}) }, body });
        return r.headers.get("location")?.split("/").pop() ?? String(r.status);
      };
      // Created PENDING and aborted in the same moment: no look at the live jobs can have seen it.
      const other = await api("dave-token", "POST", "/uws/sleep", "seconds=60");
      await api("dave-token", "POST", `/uws/sleep/${other}/phase`, "PHASE=ABORT");
      const mine = await api("carol-token", "POST", "/uws/sleep", "seconds=60");
      await api("carol-token", "POST", `/uws/sleep/${mine}/phase`, "PHASE=ABORT");
      await waitFor(() => events.some((e) => e.id === mine && e.phase === "ABORTED"), { timeoutMs: 10_000, what: `the stream reporting ${mine} ABORTED` });
      expect(await api("carol-token", "DELETE", `/uws/sleep/${mine}`)).toBe("sleep");
      await waitFor(() => events.some((e) => e.id === mine && e.phase === null), { timeoutMs: 10_000, what: `the stream reporting ${mine} deleted` });
      expect(events.filter((e) => e.id === other)).toEqual([]);
    } finally {
      stream?.destroy();
      await s.stop();
    }
  });

  it("none: a development banner, no login", async () => {
    const s = await serve({ auth: "none" });
    try {
      const ctx = await context(browser);
      const page = await ctx.newPage();
      await page.goto(`${s.url}/`);
      await page.waitForSelector(".cards .card");
      expect(await page.textContent(".banner")).toContain("Development server: authentication is off");
      expect(await page.locator("#logout").count()).toBe(0);
      await shot(page, "auth-none");
      await ctx.close();
    } finally {
      await s.stop();
    }
  });
});
