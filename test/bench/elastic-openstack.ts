// The OpenStack section of bench:elastic (npm run bench:elastic -- openstack [RUNS]): on the loopback
// cloud (test/harness/openstack: real Keystone, Nova with the fake virt driver, Neutron; no data
// plane), the head's power agent as the head runs it (dist/cli/head/uws-power-agent.mjs, the
// cluster's application credential, `--after-machine active`: a stand-in, done when ACTIVE, since
// nothing boots) answering the power programs' requests: resume → servers ACTIVE (one node, then
// three at once) and suspend → servers deleted. Each figure is printed with the load average.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { resolveCluster, validateSpec } from "../../stacks/model/index.js";
import { agentConfigOf } from "../../scripts/elastic/openstack/agent.js";
import { lookupCloudRefs } from "../../scripts/elastic/openstack/driver.js";
import { createClusterCredential, deleteClusterCredential } from "../../scripts/elastic/openstack/credential.js";
import { OpenStackClient } from "../../scripts/targets/openstack/cloud/client.js";
import { loadCredentials } from "../../scripts/targets/openstack/cloud/credentials.js";
import { sweepCluster } from "../../scripts/targets/openstack/cloud/sweep.js";
import { HEAD_AGENT_BUNDLE } from "../../scripts/targets/openstack/elastic.js";
import { renderCluster } from "../../scripts/render/index.js";
import { startTestCloud } from "../harness/openstack/cloud.js";
import { buildCluster } from "../targets/openstack/cloud/build.js";
import { cloudSpec } from "../harness/specs.js";
import { freePort } from "../harness/ports.js";

const load = () => `load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchOpenStack(runs: number): Promise<void> {
  console.log(`bench:elastic openstack — loopback cloud, the head's power agent (active stand-in), ${runs} rounds; ${load()} before the cloud starts`);
  const dir = mkdtempSync(join(tmpdir(), "uwsc-bench-os-"));
  let t = performance.now();
  const cloud = await startTestCloud();
  console.log(`loopback cloud started in ${Math.round(performance.now() - t)} ms (${load()})`);
  const spec = cloudSpec("bench-el", { ttl: "2h", cidr: "192.168.70.0/24" }) as Record<string, any>;
  spec.compute = { ...spec.compute, min: 0, max: 3, idle: "30s", resumeTimeout: "120s" };
  delete spec.compute.count;
  const cluster = resolveCluster(validateSpec(spec));
  const u = cloud.demo;
  const demo = await OpenStackClient.connect(loadCredentials({ env: {
    OS_AUTH_URL: cloud.authUrl, OS_USERNAME: u.username, OS_PASSWORD: u.password, OS_PROJECT_NAME: u.projectName,
    OS_USER_DOMAIN_NAME: u.userDomainName, OS_PROJECT_DOMAIN_NAME: u.projectDomainName, OS_REGION_NAME: cloud.region,
  }, searchDirs: [] }), { timeoutMs: 30_000 });
  let agent: ReturnType<typeof spawn> | undefined;
  try {
    await buildCluster(demo, cluster); // the head, network, groups, keypair: what up's engine makes (min 0)
    t = performance.now();
    const { head } = await createClusterCredential(demo, cluster);
    console.log(`credential created and its access rules probed in ${Math.round(performance.now() - t)} ms (${load()})`);
    writeFileSync(join(dir, "agent.json"), JSON.stringify(agentConfigOf(cluster, renderCluster(cluster), [], { refs: await lookupCloudRefs(demo, cluster), headAddress: cluster.head.privateIp! })));
    writeFileSync(join(dir, "credential.json"), JSON.stringify(head), { mode: 0o400 });
    writeFileSync(join(dir, "token"), "bench-token\n", { mode: 0o400 });
    const port = await freePort();
    agent = spawn(process.execPath, [HEAD_AGENT_BUNDLE, "--config", join(dir, "agent.json"), "--credential", join(dir, "credential.json"), "--token", join(dir, "token"),
      "--listen", `127.0.0.1:${port}`, "--after-machine", "active"], { stdio: ["ignore", "ignore", "inherit"] });
    const ask = async (path: string, body: string) => {
      const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", headers: { authorization: "Bearer bench-token" }, body, signal: AbortSignal.timeout(300_000) });
      return (await r.text()).trim().split("\n");
    };
    for (const end = Date.now() + 30_000; ;) {
      if ((await fetch(`http://127.0.0.1:${port}/health`, { headers: { authorization: "Bearer bench-token" } }).catch(() => undefined))?.ok) break;
      if (Date.now() > end) throw new Error("the agent did not answer within 30 s");
      await new Promise((r) => setTimeout(r, 200));
    }
    const nodes = cluster.elastic!.nodes;
    const figures: Record<string, number[]> = { "resume 1 node → ACTIVE": [], "suspend 1 node → deleted": [], "resume 3 nodes → all ACTIVE": [], "suspend 3 nodes → all deleted": [] };
    const timed = async (what: string, path: string, body: string[]) => {
      const t0 = performance.now();
      const out = await ask(path, body.join("\n") + "\n");
      const ms = performance.now() - t0;
      const failed = out.filter((l) => !/ ok /.test(l));
      if (failed.length) throw new Error(`${what}: ${failed.join("; ")}`);
      figures[what]!.push(ms);
      console.log(`  ${what}: ${Math.round(ms)} ms (${load()})`);
      return out;
    };
    const records = (out: string[]) => out.map((l) => l.replace(/ ok /, " ").replace(/ \(already there\)$/, ""));
    for (let i = 0; i < runs; i++) {
      console.log(`round ${i + 1}`);
      const one = await timed("resume 1 node → ACTIVE", "/resume", [nodes[0]!]);
      await timed("suspend 1 node → deleted", "/suspend", records(one));
      const three = await timed("resume 3 nodes → all ACTIVE", "/resume", nodes);
      await timed("suspend 3 nodes → all deleted", "/suspend", records(three));
    }
    for (const [what, xs] of Object.entries(figures)) console.log(`${what}: median ${Math.round(median(xs))} ms (min ${Math.round(Math.min(...xs))}, max ${Math.round(Math.max(...xs))})`);
    console.log(`(${load()} at the end; Nova's fake driver boots nothing: a real cloud adds the VM's boot, minutes, and the node's configuration over SSH)`);
  } finally {
    if (agent && agent.exitCode === null) await new Promise((r) => { agent!.once("exit", r); agent!.kill("SIGTERM"); });
    await deleteClusterCredential(demo, cluster).catch(() => undefined);
    await sweepCluster(demo, cluster.id, { deadlineMs: 120_000 }).catch(() => undefined);
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
