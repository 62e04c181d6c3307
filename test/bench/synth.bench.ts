/**
 * Synth benchmark: spec → resolved model → Terraform JSON, for 1, 10, 100 and 1000 compute nodes.
 * Prints the median of several runs per size (after a warm-up) and the per-node cost, to show growth
 * is linear. Goal: ≤ 1 s at 1000 nodes. Run: npm run bench:synth
 */
import { resolveCluster, validateSpec } from "../../stacks/model/index.js";
import { synthTerraform } from "../../stacks/terraform/synth.js";
import { openstackSpec } from "../harness/specs.js";

const sizes = [1, 10, 100, 1000];
const runs = Number(process.env.BENCH_RUNS ?? 5);
const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJlbmNo bench";

function once(n: number): { ms: number; resources: number; bytes: number } {
  const t0 = performance.now();
  // Specs allow at most 500 compute nodes; the 1000-node point measures synth beyond that policy
  // limit, so the count is set on the validated spec rather than in the input.
  const spec = validateSpec(openstackSpec({ compute: { count: 1, flavor: "m1.medium" }, network: { create: { cidr: "10.20.0.0/16" } } }));
  const cluster = resolveCluster({ ...spec, compute: { ...spec.compute, count: n } });
  const tf = synthTerraform(cluster, { publicKey: key });
  const text = JSON.stringify(tf, null, 2);
  const ms = performance.now() - t0;
  const resources = Object.values(tf.resource as Record<string, object>).reduce((s, r) => s + Object.keys(r).length, 0);
  return { ms, resources, bytes: text.length };
}

once(10); // warm-up: module loading and JIT are not part of a synth
const rows: string[] = [];
let prev: number | undefined;
for (const n of sizes) {
  const samples = Array.from({ length: runs }, () => once(n));
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b)[Math.floor(runs / 2)]!;
  const growth = prev ? `${(ms / prev).toFixed(1)}x` : "-";
  rows.push(`${String(n).padStart(5)} nodes  ${ms.toFixed(1).padStart(8)} ms  ${String(samples[0]!.resources).padStart(5)} resources  ${(samples[0]!.bytes / 1024).toFixed(0).padStart(6)} KiB  ${(ms / (n + 1)).toFixed(3)} ms/node  growth ${growth}`);
  prev = ms;
}
console.log(`synth (median of ${runs}, spec → model → cdk.tf.json text)`);
for (const r of rows) console.log(r);
