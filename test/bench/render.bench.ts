/** Renderer benchmark: time to render every node's files and user-data (npm run bench:render). */
import { renderCluster } from "../../scripts/render/index.js";
import { example, openstackCluster } from "../harness/specs.js";

const cases = [
  ["examples/openstack.yaml (1+2)", () => example("openstack")],
  ["examples/local.yaml (1+2)", () => example("local")],
  ["cloud, 1+50", () => openstackCluster({ name: "b-fifty", compute: { count: 50, flavor: "m1.small", cpus: 1, memoryMb: 2048 } })],
  ["cloud, 1+400", () => openstackCluster({ name: "b-400", network: { create: { cidr: "10.20.0.0/21", dnsServers: ["9.9.9.9"] } }, compute: { count: 400, flavor: "m1.small", cpus: 1, memoryMb: 2048 } })],
] as const;

renderCluster(example("openstack")); // loads and compiles the templates
for (const [label, make] of cases) {
  const c = make();
  const runs = c.nodes.length > 100 ? 3 : 20;
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    const b = renderCluster(c);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    bytes = b.reduce((n, x) => n + x.userData.length + x.files.reduce((m, f) => m + f.content.length, 0), 0);
  }
  times.sort((a, b) => a - b);
  console.log(`${label.padEnd(32)} median ${times[Math.floor(times.length / 2)]!.toFixed(1)} ms  (${c.nodes.length} nodes, ${(bytes / 1024).toFixed(0)} KiB rendered, ${runs} runs)`);
}
