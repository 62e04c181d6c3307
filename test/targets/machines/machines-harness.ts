/**
 * What the machines target's end-to-end tests share: the CLI as a separate process, the host's
 * leftovers of a cluster looked up from the system itself, and HTTPS to the head's nginx with its
 * self-signed certificate pinned.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import type { Cluster } from "../../../stacks/model/index.js";
import { hasRule, isolationRule, proxyDir } from "../../../stacks/machines/index.js";
import { REPO_ROOT } from "../../../scripts/package-root.js";

/** The CLI as a user runs it (a separate process: `ssh` hands its terminal to the system ssh client). */
export function shell(env: NodeJS.ProcessEnv, args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(REPO_ROOT, "scripts/uws-cluster.mjs"), args, { env, timeout: timeoutMs, encoding: "utf8" }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** What a machines cluster may leave on this host (home: its UWS_CLUSTER_HOME), looked up from the system itself. */
export async function leftovers(c: Cluster, home: string): Promise<string[]> {
  const m = c.machines;
  const out: string[] = [];
  if (existsSync(`/sys/class/net/${m.bridge}`)) out.push(`bridge ${m.bridge}`);
  if (await hasRule(isolationRule(m.bridge))) out.push("iptables rule");
  for (const l of readFileSync("/proc/self/mounts", "utf8").split("\n")) if (l.includes(m.root)) out.push(`mount ${l.split(" ")[1]}`);
  for (const cg of ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"].map((r) => join(r, "uws-cluster-machines"))) {
    if (existsSync(cg)) for (const e of readdirSync(cg)) if (e.startsWith(m.machinePrefix)) out.push(`cgroup ${cg}/${e}`);
  }
  for (const p of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    let cmd = "";
    try { cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " "); } catch { continue; }
    if (cmd.includes(m.root) || cmd.includes(`--machine=${m.machinePrefix}`) || cmd.includes(proxyDir(c))) out.push(`process ${p} ${cmd.slice(0, 100)}`);
  }
  if (existsSync(m.root)) out.push(`folder ${m.root}`);
  if (existsSync(join(home, c.name))) out.push(`state ${join(home, c.name)}`);
  return out;
}

/** One HTTPS exchange with the head's nginx, trusting exactly the certificate read from the head (pinned by its SHA-256). */
export function https(url: string, pin: string, token: string, method = "GET", body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method, rejectUnauthorized: false, timeout: 60_000,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}) },
    }, (res) => {
      const cert = (res.socket as import("node:tls").TLSSocket).getPeerCertificate();
      if (cert.fingerprint256 !== pin) { reject(new Error(`certificate ${cert.fingerprint256} is not the pinned ${pin}`)); res.destroy(); return; }
      let text = "";
      res.setEncoding("utf8").on("data", (d) => (text += d)).on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const FINAL = ["COMPLETED", "ERROR", "ABORTED"];

/** Runs the hello application's job through the HTTPS endpoint; its final phase and greeting. */
export async function helloJob(url: string, pin: string, token: string, name: string): Promise<{ phase: string; greeting: string; location: string }> {
  const created = await https(`${url}/uws/hello`, pin, token, "POST", `name=${encodeURIComponent(name)}&PHASE=RUN`);
  if (created.status !== 303) throw new Error(`POST ${url}/uws/hello answered ${created.status}: ${created.body.slice(0, 500)}`);
  const job = String(created.headers.location);
  let phase = "";
  for (let i = 0; i < 60 && !FINAL.includes(phase); i++) {
    phase = (await https(`${job}/phase`, pin, token)).body.trim();
    if (!FINAL.includes(phase)) await https(`${job}?WAIT=10&PHASE=${phase}`, pin, token);
  }
  const greeting = phase === "COMPLETED" ? (await https(`${job}/results/greeting`, pin, token)).body : "";
  return { phase, greeting, location: job };
}
