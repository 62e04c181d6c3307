// Benchmark of the machines target, our stand-in for "cloud up → ready": nothing → ready (canary
// COMPLETED) for 1 head + 2 compute booted Debian nodes (image cached, packages through the apt
// proxy), split by step, then down. Goal ≤ 3 min. Needs root.   npm run bench:machines [-- RUNS [RELEASE]]
// (RELEASE: bookworm, the default, or trixie)
//
// up's own steps give the split on this side; cloud-init's (`cloud-init analyze show` on the head)
// splits the console wait into boot, cloud-init's other modules and the package installs.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/package-root.js";

const runs = Number(process.argv[2] ?? 1);
const release = process.argv[3] ?? "bookworm";
if (!["bookworm", "trixie"].includes(release)) throw new Error(`release ${release}: bookworm or trixie`);
const home = mkdtempSync(join(tmpdir(), "uwsc-bench-machines-"));
const env = { ...process.env, UWS_CLUSTER_HOME: home };
const bin = join(REPO_ROOT, "scripts/uws-cluster.mjs");
const spec = join(home, "bench.json");
writeFileSync(spec, JSON.stringify({ name: "bench-machines", target: "machines", head: { cpus: 1, memoryMb: 1024 }, compute: { count: 2, cpus: 1, memoryMb: 1024 }, jobserver: { auth: "tokens" }, machines: { release } }));
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const img = spawnSync(process.execPath, [bin, "image", "build", "--target", "machines", "--release", release, "--json"], { env, encoding: "utf8" });
if (img.status !== 0) throw new Error(`image build failed: ${img.stderr}`);
console.log(`bench:machines — 1 head + 2 compute booted Debian ${release} nodes, ${runs} run(s) through the CLI; image: ${JSON.parse(img.stdout.trim().split("\n").pop()!).built ? "built now" : "cached"}`);

try {
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const up = spawnSync(process.execPath, [bin, "up", "--spec", spec, "--json"], { env, encoding: "utf8", maxBuffer: 64 << 20 });
    const upMs = performance.now() - t0;
    const last = JSON.parse(up.stdout.trim().split("\n").pop() ?? "{}") as { ok?: boolean; timings?: { step: string; ms: number }[]; error?: unknown };
    if (up.status !== 0 || !last.ok) throw new Error(`up failed (${up.status}): ${JSON.stringify(last.error ?? last).slice(0, 2000)}`);
    const step = (re: RegExp) => (last.timings ?? []).filter((t) => re.test(t.step)).reduce((a, t) => a + t.ms, 0);
    // cloud-init's own account of first boot on the head.
    const analyze = execFileSync(process.execPath, [bin, "ssh", "bench-machines-head", "--name", "bench-machines", "--", "sudo", "-n", "cloud-init", "analyze", "show"], { env, encoding: "utf8" });
    const total = Number(/Total Time: ([\d.]+) seconds/.exec(analyze)?.[1] ?? NaN) * 1000;
    const pkgs = Number(/package_update_upgrade_install.*?took ([\d.]+) seconds/s.exec(analyze)?.[1] ?? /config-package[-_]update[-_]upgrade[-_]install.*?([\d.]+)\s*s/.exec(analyze)?.[1] ?? NaN) * 1000;
    const consoleWait = step(/Booting|Reading SSH host keys/);
    const rows: [string, number][] = [
      ["boot (nspawn start → cloud-init's first stage)", consoleWait - total],
      ["cloud-init without packages (head)", total - pkgs],
      ["packages (apt through the proxy, head)", pkgs],
      ["cloud-init verdict on every node", step(/cloud-init to finish/)],
      ["job server install (npm on the head)", step(/Installing the job server/)],
      ["configuration push + services", step(/Connecting|Preparing nodes|Writing configuration|Starting/)],
      ["Slurm ready (nodes idle)", step(/Slurm nodes = idle/)],
      ["job server healthy", step(/for the job server/)],
      ["canary", step(/canary/)],
    ];
    console.log(`\nrun ${i + 1}: nothing → ready in ${s(upMs)} (goal ≤ 180 s); load average ${loadavg().map((l) => l.toFixed(2)).join(", ")}`);
    for (const [k, v] of rows) console.log(`  ${Number.isFinite(v) ? s(v).padStart(8) : "       ?"}  ${k}`);
    const d0 = performance.now();
    const down = spawnSync(process.execPath, [bin, "down", "--name", "bench-machines", "--json"], { env, encoding: "utf8" });
    if (down.status !== 0) throw new Error(`down failed: ${down.stdout}${down.stderr}`);
    console.log(`  down: ${s(performance.now() - d0)}`);
  }
} finally {
  spawnSync(process.execPath, [bin, "down", "--name", "bench-machines"], { env, encoding: "utf8" });
  rmSync(home, { recursive: true, force: true });
}
