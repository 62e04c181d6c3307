/**
 * bench:cli — start-up of the CLI as a user runs it (`scripts/uws-cluster.mjs`, the package's bin):
 * wall time of `--help`, `validate` and `status` of a cluster that does not exist, each the median of
 * RUNS runs (default 7, at least 5), and beside them, in the same rounds, `terraform version` (when a
 * terraform is on the PATH) and a bare `node -e 0`. The commands run in turns, round by round, so a
 * busy machine slows them alike. Prints figures; asserts nothing.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { REPO_ROOT } from "../../scripts/package-root.js";

const runs = Math.max(5, Number(process.env.RUNS ?? 7));
const home = mkdtempSync(join(tmpdir(), "uwsc-bench-cli-"));
const env = { ...process.env, UWS_CLUSTER_HOME: home, TF_CLI_CONFIG_FILE: "/dev/null" };
const bin = join(REPO_ROOT, "scripts/uws-cluster.mjs");

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const p = join(dir, name);
    if (spawnSync("test", ["-x", p]).status === 0) return p;
  }
  return undefined;
}

interface Case { label: string; argv: string[]; goalMs?: number; expectCode: number }
const terraform = onPath("terraform");
const cases: Case[] = [
  { label: "uws-cluster --help", argv: [process.execPath, bin, "--help"], goalMs: 300, expectCode: 0 },
  { label: "uws-cluster validate --spec examples/openstack.yaml", argv: [process.execPath, bin, "validate", "--spec", "examples/openstack.yaml"], goalMs: 300, expectCode: 0 },
  { label: "uws-cluster status --name bench-none", argv: [process.execPath, bin, "status", "--name", "bench-none"], goalMs: 300, expectCode: 1 },
  ...(terraform ? [{ label: "terraform version", argv: [terraform, "version"], expectCode: 0 }] : []),
  { label: "node -e 0 (Node's own start-up)", argv: [process.execPath, "-e", "0"], expectCode: 0 },
];

function once(c: Case): number {
  const t0 = performance.now();
  const r = spawnSync(c.argv[0]!, c.argv.slice(1), { cwd: REPO_ROOT, env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const ms = performance.now() - t0;
  if (r.status !== c.expectCode) throw new Error(`${c.label}: exit ${r.status} (expected ${c.expectCode}): ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

try {
  for (const c of cases) once(c); // warm-up: builds dist/cli if a source changed, fills the page cache
  const times = new Map<Case, number[]>(cases.map((c) => [c, []]));
  for (let i = 0; i < runs; i++) for (const c of cases) times.get(c)!.push(once(c));

  console.log(`bench:cli — wall time of a whole process, median of ${runs} runs (commands in turns)`);
  const width = Math.max(...cases.map((c) => c.label.length));
  for (const c of cases) {
    const t = times.get(c)!;
    const m = median(t);
    const goal = c.goalMs ? `  goal ≤ ${c.goalMs} ms ${m <= c.goalMs ? "✓" : "✗"}` : "";
    console.log(`  ${c.label.padEnd(width)}  ${m.toFixed(0).padStart(5)} ms  (min ${Math.min(...t).toFixed(0)}, max ${Math.max(...t).toFixed(0)})${goal}`);
  }
  if (!terraform) console.log(`  ${"terraform version".padEnd(width)}  absent (no terraform on the PATH)`);
} finally {
  rmSync(home, { recursive: true, force: true });
}
