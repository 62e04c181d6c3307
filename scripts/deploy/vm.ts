/**
 * Steps every target whose nodes are booted machines (cloud VMs) shares: wait for cloud-init's
 * verdict, install the job server bundle on the head, and start service-table rows with systemd.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { ServiceRow } from "../../stacks/model/index.js";
import { JOBSERVER_FILES } from "../render/paths.js";
import { shq, type PushFile, type SshHost, type SshPool } from "../ssh/index.js";
import { JOB_SERVER_BUNDLE } from "./bundle.js";

/** Where the job server bundle lands on the head (the rendered systemd unit runs it from there). */
export const REMOTE_BUNDLE_DIR = JOBSERVER_FILES.installDir;

/**
 * What `cloud-init status --wait` exit code means. Since cloud-init 23.4 (Debian 13, upstream
 * builds) 2 is "done, with recoverable errors" (a warning or deprecated key is enough); only 1
 * (and anything that is not an exit code) means first boot failed. 22.4 (Debian 12) knows 0 and 1.
 */
export function cloudInitVerdict(code: number | null): "done" | "degraded" | "failed" {
  return code === 0 ? "done" : code === 2 ? "degraded" : "failed";
}

/** cloud-init's own verdict; its detail is reported when first boot failed. */
export async function waitCloudInit(pool: SshPool, h: SshHost, timeoutMs: number, info?: (s: string) => void): Promise<void> {
  const r = await pool.exec(h, "cloud-init status --wait --long", { timeoutMs });
  const verdict = cloudInitVerdict(r.code);
  if (verdict === "degraded") info?.(`${h.name}: cloud-init finished with recoverable errors (uws-cluster ssh ${h.name} -- cloud-init status --long)`);
  if (verdict !== "failed") return;
  // `status --long` names only the failed module (scripts-user for uws-node-setup); the script's own
  // message is in the output log.
  const log = await pool.exec(h, "tail -n 12 /var/log/cloud-init-output.log", { timeoutMs: 20_000 }).catch(() => undefined);
  const lines = (s: string, n: number) => s.trim().split("\n").slice(-n).join(" | ");
  throw new Error(`cloud-init failed on ${h.name} (exit ${r.code ?? r.signal}): ${lines(r.stdout + r.stderr, 8)}`
    + (log?.code === 0 && log.stdout.trim() ? `; end of /var/log/cloud-init-output.log: ${lines(log.stdout, 12)}` : "")
    + `; full log: uws-cluster ssh ${h.name} -- cat /var/log/cloud-init-output.log`);
}

/**
 * The job server bundle (npm run build:runtime) copied to the head, with its native dependency
 * installed there; `npmEnv` is the model's (Cluster.downloads: a proxy where the head has no route out).
 */
export async function installJobServer(pool: SshPool, head: SshHost, npmEnv: Record<string, string> = {}): Promise<void> {
  const files = bundleFiles(dirname(JOB_SERVER_BUNDLE));
  // A bundle being rebuilt meanwhile (npm run build:runtime empties its folder first) would push nothing.
  for (const want of ["package.json", "uws-server.mjs"]) {
    if (!files.some((f) => f.path === `${REMOTE_BUNDLE_DIR}/${want}`)) throw new Error(`the job server bundle ${dirname(JOB_SERVER_BUNDLE)} has no ${want} (is it being rebuilt?); run up again`);
  }
  await pool.push(head, files);
  await pool.run(head, jobServerInstallCommand(REMOTE_BUNDLE_DIR, JOBSERVER_FILES.nodeHome, npmEnv), { timeoutMs: 600_000 });
}

/** The bundle's files as pushed to the head. */
export function bundleFiles(dir: string): PushFile[] {
  return listFiles(dir).map((f) => ({
    path: `${REMOTE_BUNDLE_DIR}/${f.rel}`, content: readFileSync(f.abs), owner: "root:root",
    // Job helpers (definitions/hello.sh, node-info.sh) are copied into each job's work dir with their
    // mode and run on a compute node: without the executable bit the canary job fails (exit 126).
    mode: statSync(f.abs).mode & 0o111 ? "0755" : "0644",
  }));
}

/**
 * `npm install` of the bundle's native dependency (better-sqlite3) on the head. A root SSH exec
 * gets sshd's fixed PATH and no login profile, and install-node.sh links only `node` into
 * /usr/local/bin: npm is run by its absolute path in the unpacked tarball, with that bin folder
 * first on PATH for npm's `#!/usr/bin/env node` and the package's install script.
 */
export function jobServerInstallCommand(dir: string = REMOTE_BUNDLE_DIR, nodeHome: string = JOBSERVER_FILES.nodeHome, env: Record<string, string> = {}): string {
  const bin = `${nodeHome}/bin`;
  const vars = Object.entries(env).map(([k, v]) => `${k}=${shq(v)} `).join("");
  return `cd ${shq(dir)} && ${vars}PATH=${shq(bin)}:"$PATH" ${shq(`${bin}/npm`)} install --omit=dev --no-audit --no-fund --no-update-notifier --loglevel=error`;
}

function listFiles(dir: string): { abs: string; rel: string }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && !d.parentPath.includes("node_modules"))
    .map((d) => ({ abs: join(d.parentPath, d.name), rel: relative(dir, join(d.parentPath, d.name)) }));
}

/** The shell script that starts service-table rows under systemd (run as root on the node). */
export function systemdStart(rows: readonly ServiceRow[]): string {
  return ["set -e", "systemctl daemon-reload", ...rows.flatMap((r) => r.systemd)].join("\n");
}
