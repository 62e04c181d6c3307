/**
 * bench:cli — start-up of the CLI as a user runs it (`scripts/uws-cluster.mjs`, the package's bin):
 * wall time of `--help`, `validate` and `status` of a cluster that does not exist, each the median of
 * RUNS runs (default 7, at least 5), and beside them, in the same rounds, `terraform version` (when a
 * terraform is on the PATH) and a bare `node -e 0`. The commands run in turns, round by round, so a
 * busy machine slows them alike. Beside the wall time, the CPU time the process used (user + system,
 * from /proc: 10 ms steps), which a loaded machine inflates much less. Prints figures; asserts nothing.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
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

/** CPU time of this process's waited-for children so far, ms (cutime + cstime of /proc/self/stat). */
function childrenCpuMs(): number {
  const fields = readFileSync("/proc/self/stat", "utf8").replace(/^.*\) /, "").split(" ");
  return (Number(fields[13]) + Number(fields[14])) * 10; // fields 16 and 17 of proc(5), in 1/100 s
}

function once(c: Case): { wall: number; cpu: number } {
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(c.argv[0]!, c.argv.slice(1), { cwd: REPO_ROOT, env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const wall = performance.now() - t0;
  if (r.status !== c.expectCode) throw new Error(`${c.label}: exit ${r.status} (expected ${c.expectCode}): ${r.stderr}`);
  return { wall, cpu: childrenCpuMs() - cpu0 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

try {
  for (const c of cases) once(c); // warm-up: builds dist/cli if a source changed, fills the page cache
  const times = new Map<Case, { wall: number; cpu: number }[]>(cases.map((c) => [c, []]));
  for (let i = 0; i < runs; i++) for (const c of cases) times.get(c)!.push(once(c));

  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(`bench:cli — a whole process each, median of ${runs} runs (commands in turns); load average ${load}`);
  const width = Math.max(...cases.map((c) => c.label.length));
  for (const c of cases) {
    const wall = times.get(c)!.map((t) => t.wall);
    const m = median(wall);
    const cpu = median(times.get(c)!.map((t) => t.cpu));
    const goal = c.goalMs ? `  goal ≤ ${c.goalMs} ms ${m <= c.goalMs ? "✓" : "✗"}` : "";
    console.log(`  ${c.label.padEnd(width)}  wall ${m.toFixed(0).padStart(5)} ms (min ${Math.min(...wall).toFixed(0)}, max ${Math.max(...wall).toFixed(0)})  cpu ${cpu.toFixed(0).padStart(4)} ms${goal}`);
  }
  if (!terraform) console.log(`  ${"terraform version".padEnd(width)}  absent (no terraform on the PATH)`);
} finally {
  rmSync(home, { recursive: true, force: true });
}
