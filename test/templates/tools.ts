/**
 * Real tools the template tests check rendered files with: cloud-init's schema validator, nginx -t,
 * and munged + slurmctld started in a temporary folder on loopback (stopped by PID).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

export interface ToolResult { ok: boolean; output: string }

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `uwsc-${prefix}-`));
}

/** `cloud-init schema -c FILE` (cloud-init 22.4 spells it -c/--config-file). */
export async function cloudInitSchema(file: string): Promise<ToolResult> {
  return run("cloud-init", ["schema", "-c", file]);
}

/** `nginx -t` on a site file (server blocks) wrapped in a minimal main config under a temporary prefix. */
export async function nginxTest(siteFile: string, dir: string): Promise<ToolResult> {
  const main = join(dir, "nginx.conf");
  writeFileSync(main, [
    `pid ${join(dir, "nginx.pid")};`,
    `error_log ${join(dir, "error.log")};`,
    "events { worker_connections 64; }",
    "http {",
    `  access_log ${join(dir, "access.log")};`,
    `  client_body_temp_path ${join(dir, "body")};`,
    `  proxy_temp_path ${join(dir, "proxy")};`,
    `  include ${siteFile};`,
    "}",
    "",
  ].join("\n"));
  return run("nginx", ["-t", "-p", dir, "-e", join(dir, "error.log"), "-c", main]);
}

/** A throw-away self-signed certificate for nginx -t. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const r = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test", "-keyout", key, "-out", cert], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

function run(cmd: string, args: string[]): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    p.stdout.on("data", (d) => (output += d));
    p.stderr.on("data", (d) => (output += d));
    p.on("error", reject);
    p.on("close", (code) => resolve({ ok: code === 0, output }));
  });
}

/** A free loopback TCP port (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Daemon { pid: number; stop(): Promise<void> }

function stopper(p: ChildProcess): () => Promise<void> {
  return () => new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    const t = setTimeout(() => p.kill("SIGKILL"), 5000);
    p.once("exit", () => { clearTimeout(t); resolve(); });
    process.kill(p.pid!, "SIGTERM");
  });
}

/** munged in the foreground with its key, socket, log and seed in `dir`. */
export async function startMunged(dir: string): Promise<Daemon & { socket: string }> {
  const d = join(dir, "munge");
  mkdirSync(d, { recursive: true });
  chmodSync(d, 0o711); // munged wants its socket directory searchable by all
  writeFileSync(join(d, "munge.key"), randomBytes(1024), { mode: 0o600 });
  const socket = join(d, "munge.socket");
  const p = spawn("munged", ["-F", "-f", `--socket=${socket}`, `--key-file=${join(d, "munge.key")}`, `--log-file=${join(d, "munged.log")}`,
    `--pid-file=${join(d, "munged.pid")}`, `--seed-file=${join(d, "munged.seed")}`], { stdio: "ignore" });
  await waitFor(() => existsSync(socket), 5000, () => `munged did not create ${socket}`);
  return { pid: p.pid!, socket, stop: stopper(p) };
}

/** slurmctld in the foreground on `conf`; resolves once `scontrol ping` answers, rejects with its log if it dies. */
export async function startSlurmctld(conf: string, logFile: string): Promise<Daemon> {
  const env = { ...process.env, SLURM_CONF: conf };
  const p = spawn("slurmctld", ["-D", "-i"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  p.stdout!.on("data", (d) => (output += d));
  p.stderr!.on("data", (d) => (output += d));
  const stop = stopper(p);
  try {
    await waitFor(() => {
      if (p.exitCode !== null) throw new Error(`slurmctld exited (${p.exitCode}) on this slurm.conf:\n${output}${existsSync(logFile) ? readFileSync(logFile, "utf8") : ""}`);
      return spawnSync("scontrol", ["ping"], { env, encoding: "utf8" }).stdout.includes("is UP");
    }, 20_000, () => `slurmctld did not answer scontrol ping:\n${output}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { pid: p.pid!, stop };
}

export function scontrol(conf: string, args: string[]): string {
  const r = spawnSync("scontrol", args, { env: { ...process.env, SLURM_CONF: conf }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`scontrol ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

async function waitFor(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(what());
    await new Promise((r) => setTimeout(r, 50));
  }
}
