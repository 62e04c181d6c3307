/**
 * Real tools the template tests check rendered files with: cloud-init's schema validator and
 * nginx -t (slurmctld and munged, which tests also start, are in test/harness/slurm.ts).
 */
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ToolResult { ok: boolean; output: string }

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
