// The README's quick start, verbatim, as a new user runs it: its two commands exactly as written
// (from the README itself, so the test follows the README), with the defaults — no UWS_CLUSTER_HOME,
// no XDG_STATE_HOME, root's own HOME, so the state dir is ~/.local/state/uws-cluster under /root
// (the path every other test avoids with a temp dir, and the one that once broke `up` for root) —
// then the README's curl lines and `down`, and nothing of the cluster left. Needs root.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseSpec, resolveCluster } from "../../stacks/model/index.js";
import { REPO_ROOT } from "../../scripts/deploy/bundle.js";
import { leftovers, NOTHING } from "../harness/leftovers.js";

const README = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
const blocks = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
const upBlock = blocks.find((b) => b.includes("up --spec examples/local.yaml"))!;
const curlBlock = blocks.find((b) => b.includes("TOKEN=$(cat"))!;

// The user's environment: this process's, less what would move the state dir away from its default.
const env: NodeJS.ProcessEnv = { ...process.env };
delete env.UWS_CLUSTER_HOME;
delete env.XDG_STATE_HOME;
const cluster = resolveCluster(parseSpec(readFileSync(join(REPO_ROOT, "examples/local.yaml"), "utf8"), "examples/local.yaml"));
const stateDir = join(homedir(), ".local/state/uws-cluster", cluster.name);

function sh(script: string, timeoutMs: number) {
  return spawnSync("bash", ["-euo", "pipefail", "-c", script], { cwd: REPO_ROOT, env, encoding: "utf8", timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"] });
}

describe("the README quick start, verbatim, with the default state dir", () => {
  afterAll(() => {
    // Whatever happened above, leave nothing (down is idempotent).
    spawnSync(process.execPath, [join(REPO_ROOT, "scripts/uws-cluster.mjs"), "down", "--spec", "examples/local.yaml"], { cwd: REPO_ROOT, env, stdio: "ignore" });
  }, 60_000);

  it("finds the commands in the README", () => {
    expect(upBlock.trim()).toBe("bash scripts/setup.sh && ./scripts/uws-cluster.mjs up --spec examples/local.yaml");
    expect(curlBlock).toContain("./scripts/uws-cluster.mjs down --spec examples/local.yaml");
    expect(homedir()).toBe(execFileSync("sh", ["-c", "echo ~"], { env, encoding: "utf8" }).trim());
  });

  it("brings the cluster up, runs the README's job and curl lines, and down leaves nothing", () => {
    expect(existsSync(join(stateDir, "local.json")), `a ${cluster.name} cluster already exists in ${stateDir}: run \`uws-cluster down --spec examples/local.yaml\` first`).toBe(false);
    const up = sh(upBlock, 300_000);
    expect(up.status, `up failed:\n${up.stdout}\n${up.stderr}`).toBe(0);
    expect(up.stdout).toMatch(/is ready in/);
    // The README's URL line is "as printed by up": the local subnet derives from the name, so it is that one.
    const printed = /Job server: (\S+)/.exec(up.stdout)?.[1];
    expect(curlBlock).toContain(`URL=${printed} `);
    expect(existsSync(join(stateDir, "secrets/jobserver.admin-token"))).toBe(true);

    const run = sh(curlBlock, 180_000);
    expect(run.status, `the README's lines failed:\n${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain("<uws:phase>COMPLETED</uws:phase>");
    expect(run.stdout).toContain("hello astronomer");
    expect(run.stdout).toMatch(new RegExp(`cluster ${cluster.name} \\(local\\): running`));
    expect(run.stdout).toMatch(new RegExp(`cluster ${cluster.name} removed`));
    expect(leftovers(cluster, stateDir)).toEqual(NOTHING);
  }, 480_000);
});
