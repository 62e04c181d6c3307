/**
 * What the small verbs load (the reason they start fast, measured by `npm run bench:cli`): through
 * the user's entry point, `--help`, `validate` and `status` resolve nothing but Node built-ins and
 * the compiled CLI in dist/cli/ — no TypeScript, no npm package (yaml is inlined), no other verb's
 * code and no target's. A resolve hook records every module the process loads.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { COMMANDS } from "../../scripts/cli/registry.js";
import { REPO_ROOT } from "../../scripts/package-root.js";

const tmp = mkdtempSync(join(tmpdir(), "uwsc-startup-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI as a user does and returns its exit code and every module URL it resolved. */
function loaded(args: string[]): { code: number | null; urls: string[]; stderr: string } {
  const log = join(tmp, `resolved-${args[0]}.log`);
  const hook = `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, r.url + "\\n");
  return r;
}`;
  const register = `import { register } from "node:module"; register(${JSON.stringify("data:text/javascript," + encodeURIComponent(hook))});`;
  const r = spawnSync(process.execPath, ["--import", "data:text/javascript," + encodeURIComponent(register), join(REPO_ROOT, "scripts/uws-cluster.mjs"), ...args], {
    cwd: REPO_ROOT, encoding: "utf8", env: { ...process.env, UWS_CLUSTER_HOME: join(tmp, "state") },
  });
  return { code: r.status, urls: [...new Set(readFileSync(log, "utf8").trim().split("\n"))], stderr: r.stderr };
}

const dist = pathToFileURL(join(REPO_ROOT, "dist/cli/")).href;
const entry = pathToFileURL(join(REPO_ROOT, "scripts/uws-cluster.mjs")).href;
const verbChunk = (url: string) => COMMANDS.find((c) => new RegExp(`/chunks/${c.name}-[A-Z0-9]+\\.js$`).test(url))?.name;
const TARGET_CHUNK = /\/chunks\/(local|openstack|machines)-[A-Z0-9]+\.js$/;

// In a checkout the entry first rebuilds dist/cli when a source changed (others may be editing): that is the build, not the verb.
const build = [pathToFileURL(join(REPO_ROOT, "scripts/build.mjs")).href, pathToFileURL(join(REPO_ROOT, "node_modules/esbuild/")).href];

function foreign(urls: string[]): string[] {
  return urls.filter((u) => !u.startsWith("node:") && u !== entry && !u.startsWith(dist) && !build.some((b) => u.startsWith(b)));
}

describe("start-up: what the small verbs load", () => {
  it("--help: the compiled manifest only, no verb", () => {
    const r = loaded(["--help"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.urls).toContain(`${dist}main.js`);
    expect(foreign(r.urls)).toEqual([]);
    expect(r.urls.map(verbChunk).filter(Boolean)).toEqual([]);
  });

  it("validate: its own chunk, yaml inlined, no npm package and no target", () => {
    const r = loaded(["validate", "--spec", "examples/openstack.yaml"]);
    expect(r.code, r.stderr).toBe(0);
    expect(foreign(r.urls)).toEqual([]);
    expect(r.urls.map(verbChunk).filter(Boolean)).toEqual(["validate"]);
    expect(r.urls.filter((u) => TARGET_CHUNK.test(u))).toEqual([]);
  });

  it("status of a cluster that does not exist: no target is loaded", () => {
    const r = loaded(["status", "--name", "startup-none"]);
    expect(r.code, r.stderr).toBe(1);
    expect(foreign(r.urls)).toEqual([]);
    expect(r.urls.map(verbChunk).filter(Boolean)).toEqual(["status"]);
    expect(r.urls.filter((u) => TARGET_CHUNK.test(u))).toEqual([]);
  });

  it("synth loads cdktf (so the checks above can fail: a heavy verb does show up)", () => {
    const r = loaded(["synth", "--help"]);
    expect(r.code, r.stderr).toBe(0);
    expect(foreign(r.urls).some((u) => u.includes("/node_modules/cdktf/"))).toBe(true);
  });
});
