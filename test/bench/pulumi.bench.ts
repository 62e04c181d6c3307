/**
 * Pulumi program benchmark: the resolved model declared through @pulumi/openstack under setMocks
 * (no CLI, no cloud), for 1, 10, 100 and 500 compute nodes — the cost the program adds to a pulumi
 * up before the engine talks to OpenStack, and the parity test's cost. Median of BENCH_RUNS (3).
 * Run: npm run bench:pulumi
 */
import { resolveCluster, validateSpec } from "../../stacks/model/index.js";
import { openstackSpec } from "../harness/specs.js";
import { runProgramWithMocks } from "../pulumi/mock-run.js";

const sizes = [1, 10, 100, 500];
const runs = Number(process.env.BENCH_RUNS ?? 3);
const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJlbmNo bench";

async function once(n: number): Promise<{ ms: number; resources: number }> {
  const t0 = performance.now();
  const cluster = resolveCluster(validateSpec(openstackSpec({ compute: { count: n, flavor: "m1.medium" }, network: { create: { cidr: "10.20.0.0/16", dnsServers: [] } } })));
  const run = await runProgramWithMocks(cluster, { publicKey: key });
  return { ms: performance.now() - t0, resources: run.resources.filter((r) => r.type.startsWith("openstack:")).length };
}

await once(5); // warm-up
console.log("compute nodes | openstack resources | median ms | ms per node");
for (const n of sizes) {
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await once(n));
  const ms = results.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(runs / 2)]!;
  console.log(`${String(n).padStart(13)} | ${String(results[0]!.resources).padStart(19)} | ${ms.toFixed(0).padStart(9)} | ${(ms / (n + 1)).toFixed(2).padStart(11)}`);
}
