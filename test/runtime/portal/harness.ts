// What the portal tests start: Debian's Chromium driven by playwright-core (nothing downloaded; every
// request off loopback is refused, so a page needing the network would show it), a job server
// in-process on a port known before it starts (the IdP must know its redirect URI), the SAMP hub
// process (samp_hub.py), and screenshots into test-output/portal/ (git-ignored, CI artifacts).
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import type { FastifyInstance } from "fastify";
import { createServer, type ServerOptions } from "../../../runtime/server.js";
import { freePort } from "../../harness/ports.js";

export const REPO = join(import.meta.dirname, "../../..");
export const DEFS = join(import.meta.dirname, "defs");
export const SHOTS = join(REPO, "test-output/portal");

export function chromiumPath(): string {
  for (const p of ["/usr/lib/chromium/chromium", "/usr/bin/chromium"]) if (existsSync(p)) return p;
  throw new Error("Chromium is not installed: apt-get install -y chromium (bash scripts/setup.sh --test)");
}

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
}

const LOOPBACK = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//;
/**
 * A context that reaches loopback only; a phone-sized one with `phone`. `intercept: false` (the
 * benchmark) leaves requests alone: Playwright's routing pauses every request for a round trip to
 * this process, which no user's browser does.
 */
export async function context(browser: Browser, opts: { phone?: boolean; intercept?: boolean } = {}): Promise<BrowserContext> {
  const ctx = await browser.newContext(opts.phone ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } : { viewport: { width: 1280, height: 900 } });
  if (opts.intercept !== false) await ctx.route("**/*", (route) => (LOOPBACK.test(route.request().url()) ? route.continue() : route.abort()));
  return ctx;
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

export interface Served {
  app: FastifyInstance;
  url: string;
  dir: string;
  stop(): Promise<void>;
}

/** A job server on 127.0.0.1:`port` (free when 0). */
export async function serve(opts: ServerOptions, port = 0): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), "uws-portal-"));
  const p = port || (await freePort());
  const app = await createServer({ data: join(dir, "data"), logger: false, sweepMs: 500, definitions: DEFS, ...opts });
  const url = await app.listen({ host: "127.0.0.1", port: p });
  return {
    app,
    url,
    dir,
    async stop() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Hub {
  /** Messages the receiving client got (one object per notification), in order. */
  received: Array<Record<string, any>>;
  next(timeoutMs?: number): Promise<Record<string, any>>;
  stop(): Promise<void>;
}

/** The SAMP hub with the Web Profile on 127.0.0.1:21012 and a receiving client (samp_hub.py). */
export async function startHub(): Promise<Hub> {
  const proc: ChildProcessWithoutNullStreams = spawn("/usr/bin/python3", [join(import.meta.dirname, "samp_hub.py")], { stdio: "pipe" });
  const received: Array<Record<string, any>> = [];
  let buf = "";
  let stderr = "";
  let ready!: () => void;
  let failed!: (e: Error) => void;
  const up = new Promise<void>((res, rej) => ((ready = res), (failed = rej)));
  const waiters: Array<() => void> = [];
  proc.stderr.on("data", (d) => (stderr += d));
  proc.stdout.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line === "READY") ready();
      else if (line.startsWith("{")) {
        received.push(JSON.parse(line));
        waiters.splice(0).forEach((w) => w());
      }
    }
  });
  proc.once("exit", (code) => failed(new Error(`SAMP hub exited (${code}): ${stderr}`)));
  const t = setTimeout(() => failed(new Error(`SAMP hub not ready in 30 s: ${stderr}`)), 30000);
  try {
    await up.finally(() => clearTimeout(t));
  } catch (e) {
    proc.kill("SIGKILL");
    throw e;
  }
  const ping = await fetch("http://127.0.0.1:21012/", { method: "POST", headers: { "content-type": "text/xml" }, body: '<?xml version="1.0"?><methodCall><methodName>samp.webhub.ping</methodName><params></params></methodCall>' }).catch((e) => e as Error);
  if (ping instanceof Error || !ping.ok) proc.kill("SIGKILL");
  if (ping instanceof Error || !ping.ok) throw new Error(`SAMP hub: no Web Profile on 127.0.0.1:21012 (port taken?): ${stderr}`);
  let seen = 0;
  return {
    received,
    async next(timeoutMs = 15000) {
      const end = Date.now() + timeoutMs;
      while (received.length <= seen) {
        if (Date.now() > end) throw new Error(`no SAMP message in ${timeoutMs} ms; hub stderr: ${stderr}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
      return received[seen++]!;
    },
    async stop() {
      if (proc.exitCode !== null) return;
      const gone = new Promise((r) => proc.once("exit", r));
      proc.stdin.end();
      const k = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(k);
    },
  };
}

/** Logs in through the IdP's development form (any password) and its consent page. */
export async function oidcLogin(page: Page, base: string, login: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.click("#login");
  await page.waitForSelector('input[name="login"]');
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', "any-password");
  await page.click('button[type="submit"]');
  // Then the consent page (first login of this account for the client), then back to the portal.
  for (let i = 0; i < 3; i++) {
    const where = await Promise.race([
      page.waitForURL((u) => u.href.startsWith(base), { timeout: 20000 }).then(() => "portal"),
      page.waitForSelector('input[name="prompt"][value="consent"]', { state: "attached", timeout: 20000 }).then(() => "consent"),
    ]);
    if (where === "portal") return;
    await page.click('button[type="submit"]');
  }
  throw new Error(`login of ${login} did not come back to the portal: ${page.url()}`);
}

/** The job server's OIDC settings for a test issuer: browser login allowed to holders of `entitlement`. */
export function oidcSettings(idp: { issuer: string; clientId: string }, clientSecretFile: string, entitlement: string) {
  return {
    issuer: idp.issuer, audience: null, clientId: idp.clientId, clientSecretFile, scopes: ["openid", "profile", "eduperson_entitlement"],
    entitlementClaim: "eduperson_entitlement", allow: { entitlements: [entitlement], subs: [] }, admins: { entitlements: [], subs: [] },
  };
}
