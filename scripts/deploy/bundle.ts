/**
 * The job server bundle (runtime/ built by `npm run build:runtime` into dist/runtime): what the head
 * runs on every target. Built on demand when missing or older than the runtime sources, so `up`
 * works straight from a checkout.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { PreflightError } from "../errors.js";
import { REPO_ROOT } from "../package-root.js";

export { REPO_ROOT };
export const JOB_SERVER_BUNDLE = resolve(REPO_ROOT, "dist/runtime/uws-server.mjs");

/** The bundle's path relative to the package root (the local target binds the root into its nodes). */
export function bundleInPackage(): string {
  return relative(REPO_ROOT, JOB_SERVER_BUNDLE);
}

export function ensureJobServerBundle(log?: (s: string) => void): void {
  const sources = resolve(REPO_ROOT, "runtime");
  // An installed package ships the bundle and no runtime sources to rebuild it from.
  if (!existsSync(sources)) {
    if (existsSync(JOB_SERVER_BUNDLE)) return;
    throw new PreflightError(`the job server bundle ${JOB_SERVER_BUNDLE} is missing from this installation; reinstall uws-cluster`);
  }
  const newest = Math.max(...readdirSync(sources, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile()).map((d) => statSync(join(d.parentPath, d.name)).mtimeMs));
  if (existsSync(JOB_SERVER_BUNDLE) && statSync(JOB_SERVER_BUNDLE).mtimeMs >= newest) return;
  log?.("building the job server bundle (dist/runtime)");
  const r = spawnSync(process.execPath, [resolve(REPO_ROOT, "runtime/build/bundle.mjs")], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.status !== 0 || !existsSync(JOB_SERVER_BUNDLE)) {
    throw new PreflightError(`building the job server bundle failed (npm run build:runtime): ${(r.stderr || "").trim().slice(-500)}`);
  }
}
