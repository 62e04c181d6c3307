/**
 * Test-suite side of the loopback OpenStack (Keystone, Nova with the fake virt driver, Neutron,
 * Glance, Placement; no Cinder, no data plane). `startTestCloud()` initialises a fresh data dir in a
 * temp location (oscloud.sh init, ~35–55 s), raises the demo project's quotas, creates an
 * application credential for the demo user and returns everything a suite needs to log in.
 * `stop()` stops every process it started by the PIDs oscloud.sh recorded, then removes the dir.
 *
 * The fixed ports (3306, 5672, 25672, 4369, 5000, 8774, 8778, 9292, 9696 on 127.0.0.1) allow one
 * cloud per machine: start it once per test run, in one suite file.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
export const OSCLOUD = join(HERE, "oscloud.sh");
export const AUTH_URL = "http://127.0.0.1:5000/v3";
const PORTS = [3306, 5672, 4369, 5000, 8774, 8778, 9292, 9696];

export interface UserLogin {
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
}

export interface TestCloud {
  authUrl: string;
  region: string;
  admin: UserLogin;
  demo: UserLogin;
  demoProjectId: string;
  /** Application credential of the demo user (restricted: it cannot manage application credentials). */
  appCredential: { id: string; secret: string; name: string };
  externalNetwork: string;
  image: string;
  flavor: string;
  /** The data dir (logs under log/). */
  base: string;
  timings: { initMs: number };
  stop(): Promise<void>;
}

function run(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("bash", [OSCLOUD, ...args], { env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`oscloud.sh ${args.join(" ")} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port });
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}

async function json(method: string, url: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: any; token?: string }> {
  const r = await fetch(url, {
    method,
    headers: { "content-type": "application/json", ...(token ? { "x-auth-token": token } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${url} -> ${r.status} ${text.slice(0, 300)}`);
  return { status: r.status, body: text ? JSON.parse(text) : null, token: r.headers.get("x-subject-token") ?? undefined };
}

async function passwordToken(u: UserLogin): Promise<{ token: string; body: any }> {
  const r = await json("POST", `${AUTH_URL}/auth/tokens`, undefined, {
    auth: {
      identity: { methods: ["password"], password: { user: { name: u.username, domain: { name: u.userDomainName }, password: u.password } } },
      scope: { project: { name: u.projectName, domain: { name: u.projectDomainName } } },
    },
  });
  return { token: r.token!, body: r.body };
}

function endpoint(tokenBody: any, type: string): string {
  const svc = tokenBody.token.catalog.find((s: any) => s.type === type);
  return svc.endpoints.find((e: any) => e.interface === "public").url.replace(/\/$/, "");
}

export async function startTestCloud(): Promise<TestCloud> {
  const busy = [];
  for (const p of PORTS) if (await portOpen(p)) busy.push(p);
  if (busy.length) {
    throw new Error(`test cloud: ports ${busy.join(", ")} on 127.0.0.1 are in use (another OpenStack test cloud running?). ` +
      `Stop it with OSC_BASE=<its dir> bash ${OSCLOUD} stop`);
  }
  const base = mkdtempSync("/var/tmp/uwsc-oscloud-");
  chmodSync(base, 0o755); // MariaDB and RabbitMQ run as their own users and must traverse it
  const env = { ...process.env, OSC_BASE: base };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await run(["stop"], env, 120_000);
    } finally {
      if (!process.env.UWSC_KEEP_OSCLOUD) rmSync(base, { recursive: true, force: true });
    }
  };
  const t0 = Date.now();
  try {
    await run(["init"], env, 600_000); // ~35 s on a quiet machine; minutes when other suites load it
    const initMs = Date.now() - t0;
    const admin: UserLogin = { username: "admin", password: "adminpass", projectName: "admin", userDomainName: "Default", projectDomainName: "Default" };
    const demo: UserLogin = { username: "demo", password: "demopass", projectName: "demo", userDomainName: "Default", projectDomainName: "Default" };
    const a = await passwordToken(admin);
    const d = await passwordToken(demo);
    const demoProjectId: string = d.body.token.project.id;
    // Defaults (10 instances, 20 cores, 10 ports, ...) are too small for a suite that builds several clusters.
    await json("PUT", `${endpoint(a.body, "compute")}/os-quota-sets/${demoProjectId}`, a.token, {
      quota_set: { instances: 50, cores: 100, ram: 204800, key_pairs: 100, server_groups: 50, server_group_members: 50 },
    });
    await json("PUT", `${endpoint(a.body, "network")}/v2.0/quotas/${demoProjectId}`, a.token, {
      quota: { network: 50, subnet: 50, port: 200, router: 20, floatingip: 50, security_group: 100, security_group_rule: 500 },
    });
    const name = `suite-${Date.now()}`;
    const ac = await json("POST", `${AUTH_URL}/users/${d.body.token.user.id}/application_credentials`, d.token, { application_credential: { name } });
    return {
      authUrl: AUTH_URL, region: "RegionOne", admin, demo, demoProjectId,
      appCredential: { id: ac.body.application_credential.id, secret: ac.body.application_credential.secret, name },
      externalNetwork: "public", image: "tiny", flavor: "m1.tiny", base, timings: { initMs }, stop,
    };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}
