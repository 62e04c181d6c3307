/**
 * What `up` makes of an elastic cluster on OpenStack, without a cloud: the engines declare the head
 * and the `min` compute servers only (on-demand nodes are Slurm State=CLOUD nodes the power agent
 * creates), the head gets the agent's unit, bundle, configuration and secret files (0400 slurm), and
 * the agent configures a new node with what `up` would push to it (one code path: filesFor and
 * deployNode). The loopback cloud half (credential, servers, down) is in
 * test/targets/openstack/cloud/cloud.test.ts.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createdByUp, resolveCluster, SERVICE_STAGES, servicesFor, validateSpec, type Cluster } from "../../../stacks/model/index.js";
import { synthTerraform } from "../../../stacks/terraform/synth.js";
import { agentConfigOf } from "../../../scripts/elastic/openstack/agent.js";
import { nodeAddress, packagesNow, setupPlan } from "../../../scripts/elastic/openstack/configure.js";
import { versionDir, type AppBundle } from "../../../scripts/apps/index.js";
import { packagesRecordPath, switchScript } from "../../../scripts/deploy/apps.js";
import { canaryFloorMs, filesFor } from "../../../scripts/deploy/pipeline.js";
import { systemdStart } from "../../../scripts/deploy/vm.js";
import { renderCluster } from "../../../scripts/render/index.js";
import { POWER_FILES } from "../../../scripts/render/views.js";
import { HEAD_AGENT_BUNDLE, powerAgentFiles } from "../../../scripts/targets/openstack/elastic.js";
import { planCluster } from "../../targets/openstack/cloud/build.js";
import { cloudSpec, localSpec, stackInputs } from "../../harness/specs.js";

function elastic(min: number, max: number, o: { existingNetwork?: boolean } = {}): Cluster {
  const spec = cloudSpec("el-up", { ttl: "2h", cidr: "192.168.52.0/24" }) as Record<string, any>;
  spec.compute = { ...spec.compute, min, max, idle: "30s", resumeTimeout: "60s" };
  delete spec.compute.count;
  if (o.existingNetwork) spec.network = { existing: { network: "private", subnet: "private-subnet" } };
  return resolveCluster(validateSpec(spec), { id: "0123456789ab" });
}

const secrets = new Map(Object.entries({
  "munge.key": "MUNGE-KEY-VALUE", "jobserver.admin-token": "ADMIN", "jobserver.job-secret": "JOB", "power.agent-token": "AGENT-TOKEN",
  "power.openstack-credential": '{"id":"c","secret":"APP-CRED-SECRET"}', "power.node-ssh-key": "SSH-PRIVATE-KEY", "power.node-munge-key": "MUNGE-KEY-VALUE",
}).map(([k, v]) => [k, Buffer.from(v)]));

describe("the engines create the head and compute.min servers, never the on-demand ones", () => {
  it("terraform: min 0 → the head alone; min 1 of 3 → the head and compute-1 (instances, ports, private_ips)", () => {
    for (const [min, want] of [[0, ["el-up-head"]], [1, ["el-up-head", "el-up-compute-1"]]] as const) {
      const c = elastic(min, 3);
      const tf = synthTerraform(c, stackInputs(c)) as { resource: Record<string, Record<string, { name: string }>>; output: Record<string, { value: Record<string, unknown> }> };
      expect(Object.values(tf.resource.openstack_compute_instance_v2!).map((r) => r.name).sort()).toEqual([...want].sort());
      expect(Object.values(tf.resource.openstack_networking_port_v2!).length).toBe(want.length);
      expect(Object.keys(tf.output.private_ips!.value).sort()).toEqual([...want].sort());
      // Slurm still knows all of them: the on-demand ones as State=CLOUD.
      const conf = String(renderCluster(c)[0]!.files.find((f) => f.path === "/etc/slurm/slurm.conf")!.content);
      expect(conf.match(/^NodeName=el-up-compute-\d .*State=CLOUD$/gm)?.length).toBe(3 - min);
    }
  });

  it("the API plan the loopback tests build (held to both stacks by test/pulumi/parity.test.ts) has no on-demand server either", () => {
    const c = elastic(0, 2);
    expect(createdByUp(c).map((n) => n.name)).toEqual(["el-up-head"]);
    expect(planCluster(c).filter((s) => s.kind === "server").map((s) => s.body.name)).toEqual(["el-up-head"]);
  });
});

describe("what up writes to the head of an elastic openstack cluster", () => {
  const c = elastic(0, 2);
  const head = filesFor({ cluster: c, bundles: renderCluster(c), secrets }, c.head);
  const at = (p: string) => head.find((f) => f.path === p);

  it("the agent's systemd unit, rendered from its template: runs the head bundle as slurm with its configuration", () => {
    const unit = at(POWER_FILES.agentUnit)!;
    expect(unit).toMatchObject({ mode: "0644", owner: "root:root" });
    const text = String(unit.content);
    expect(text).toMatch(/^User=slurm$/m);
    expect(text).toContain(`ExecStart=/usr/local/bin/node ${POWER_FILES.agentBundle} --config ${POWER_FILES.agentConfig}`);
    expect(text).not.toMatch(/after-machine/); // the real after-machine step (SSH), not the loopback stand-in
  });

  it("its secrets: credential, cluster key, munge key copy, agent token — 0400 slurm:slurm, the values up holds in memory", () => {
    for (const key of ["power.openstack-credential", "power.node-ssh-key", "power.node-munge-key", "power.agent-token"]) {
      const ref = c.secrets.find((s) => s.key === key)!;
      expect(at(ref.path), key).toMatchObject({ mode: "0400", owner: "slurm:slurm", content: secrets.get(key) });
    }
    // Made while up runs, never stored: the secret store has no generator for them.
    expect(c.secrets.filter((s) => "atUp" in s.source).map((s) => s.key).sort()).toEqual(["power.node-munge-key", "power.node-ssh-key", "power.openstack-credential"]);
  });

  it("a compute node gets none of them; the local target's model has none of them", () => {
    expect(filesFor({ cluster: c, bundles: renderCluster(c), secrets }, c.computes[0]!).map((f) => f.path).filter((p) => p.includes("uws-power"))).toEqual([]);
    const local = resolveCluster(validateSpec(localSpec("el-loc", { compute: { min: 0, max: 2, idle: "5s" } })));
    expect(local.elastic).not.toBeNull();
    expect(local.secrets.map((s) => s.key).filter((k) => k.startsWith("power."))).toEqual(["power.agent-token"]);
  });

  it("the service table starts the agent on the head after slurmctld, and only where its unit exists", () => {
    const script = systemdStart(SERVICE_STAGES.flatMap(({ stage }) => servicesFor(stage, "head")));
    expect(script).toMatch(/restart slurmctld[\s\S]*test ! -e \/etc\/systemd\/system\/uws-power-agent.service \|\| systemctl restart uws-power-agent/);
    expect(systemdStart(SERVICE_STAGES.flatMap(({ stage }) => servicesFor(stage, "compute")))).not.toContain("uws-power-agent");
  });

  it("the agent's bundle and configuration: the model, the on-demand nodes' user-data and rendered files, no secret value", () => {
    expect(existsSync(HEAD_AGENT_BUNDLE), "npm run build makes dist/cli/head/uws-power-agent.mjs").toBe(true);
    const refs = { image: "i", flavor: "f", network: "n", groups: ["g"] };
    const files = powerAgentFiles(c, {}, ["python3-numpy"], refs);
    expect(files.map((f) => [f.path, f.mode, f.owner])).toEqual([[POWER_FILES.agentBundle, "0644", "root:root"], [POWER_FILES.agentConfig, "0640", "root:slurm"]]);
    const text = String(files[1]!.content);
    for (const v of secrets.values()) expect(text).not.toContain(v.toString());
    const cfg = JSON.parse(text);
    expect(Object.keys(cfg.userData).sort()).toEqual(c.elastic!.nodes);
    expect(cfg.bundles.map((b: { node: { name: string } }) => b.node.name)).toEqual(c.elastic!.nodes);
    expect(cfg.packages).toEqual(["python3-numpy"]);
    // The ids up looked up (the credential reads no groups) and where new nodes post their host keys.
    expect(cfg.refs).toEqual(refs);
    expect(cfg.headAddress).toBe(c.head.privateIp);
    for (const n of c.elastic!.nodes) expect(cfg.userData[n]).toContain(`url: "http://${c.head.privateIp}:${c.elastic!.hostKeyPort}/host-keys/${"0".repeat(32)}"`);
  });

  it("the bundle runs alone, as on the head (a folder without node_modules): it gets as far as reading its configuration", () => {
    const dir = mkdtempSync(join(tmpdir(), "uwsc-head-agent-"));
    try {
      copyFileSync(HEAD_AGENT_BUNDLE, join(dir, "uws-power-agent.mjs"));
      const r = spawnSync(process.execPath, [join(dir, "uws-power-agent.mjs"), "--config", join(dir, "agent.json")], { cwd: dir, encoding: "utf8", timeout: 30_000 });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`ENOENT: no such file or directory, open '${join(dir, "agent.json")}'`);
      expect(r.stderr).not.toMatch(/Cannot find (module|package)|ReferenceError/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("readiness of a min 0 cluster", () => {
  it("the canary may wait for a node's power-up: resumeTimeout + 60 s (cloud default 10 m); a fixed or min 1 cluster keeps the usual limit", () => {
    expect(canaryFloorMs(elastic(0, 2))).toBe(120_000); // resumeTimeout 60s in this spec
    const spec = cloudSpec("el-up", { ttl: "2h" }) as Record<string, any>;
    spec.compute = { ...spec.compute, min: 0, max: 2 };
    delete spec.compute.count;
    expect(canaryFloorMs(resolveCluster(validateSpec(spec)))).toBe(660_000);
    expect(canaryFloorMs(elastic(1, 2))).toBe(0);
    expect(canaryFloorMs(resolveCluster(validateSpec(cloudSpec("fixed"))))).toBe(0);
  });
});

describe("the agent configures a new node with what up would push to it (one code path)", () => {
  it("the plan for an on-demand node: root over SSH to its address, the same files and secrets as up's deploy, the applications' packages", () => {
    const c = elastic(0, 2);
    const upBundles = renderCluster(c, { addresses: { [c.head.name]: "192.168.52.10" }, headPublicIp: "198.51.100.20" });
    const cfg = JSON.parse(JSON.stringify(agentConfigOf(c, upBundles, ["gnuplot-nox"], { refs: { image: "i", flavor: "f", network: "n", groups: [] }, headAddress: "192.168.52.10" })));
    const node = c.computes[1]!;
    const agentSecrets = new Map([["munge.key", secrets.get("munge.key")!]]);
    const plan = setupPlan({ cluster: c, bundles: cfg.bundles, secrets: agentSecrets, packages: cfg.packages }, node, nodeAddress(c, node, { id: "s" }));
    const up = filesFor({ cluster: c, bundles: upBundles, secrets }, node).map((f) => ({ path: f.path, mode: f.mode, owner: f.owner }));
    expect(plan).toEqual({ node: node.name, ssh: { user: "root", host: node.privateIp }, files: up, packages: ["gnuplot-nox"] });
    expect(plan.files.map((f) => f.path)).toEqual(expect.arrayContaining(["/etc/slurm/slurm.conf", "/etc/munge/munge.key", "/etc/hosts"]));
  });

  it("packages from an apps push after up reach nodes powered up later: the switch records them on the head, the agent reads that record at each resume", () => {
    const dir = mkdtempSync(join(tmpdir(), "el-apps-"));
    try {
      const c = { ...elastic(0, 2), jobserver: { ...elastic(0, 2).jobserver, appsDir: join(dir, "apps") } } as Cluster;
      const app = (name: string, packages: string[], requirements?: string): AppBundle => ({ name, description: name, packages, ...(requirements ? { requirements } : {}), definitions: [], files: [], version: "0123abcd", source: dir });
      const node = c.computes[0]!;
      const agent = { cluster: c, bundles: renderCluster(c, { addresses: { [c.head.name]: "192.168.52.10" } }), secrets: new Map([["munge.key", secrets.get("munge.key")!]]), packages: ["gnuplot-nox"], packagesFile: packagesRecordPath(c) };
      // Before any switch (a head older than the record): the packages up knew.
      expect(setupPlan(agent, node, "192.168.52.11").packages).toEqual(["gnuplot-nox"]);
      const push = (apps: AppBundle[]) => {
        for (const a of apps) mkdirSync(versionDir(c, a), { recursive: true });
        const r = spawnSync("bash", ["-c", switchScript(c, apps)], { encoding: "utf8" });
        expect(r.status, r.stderr).toBe(0);
      };
      push([app("spectra", ["jq", "python3-numpy"]), app("fit", [], "requirements.txt")]);
      expect(readFileSync(packagesRecordPath(c), "utf8")).toBe("jq\npython3-numpy\npython3-venv\n");
      expect(setupPlan(agent, node, "192.168.52.11").packages).toEqual(["jq", "python3-numpy", "python3-venv"]);
      push([app("plain", [])]);
      expect(packagesNow(agent)).toEqual([]);
      expect(existsSync(join(c.jobserver.appsDir, ".packages.tmp"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("on an existing network the address is the server's fixed address on the cluster's network", () => {
    const c = elastic(0, 2, { existingNetwork: true });
    const node = c.computes[0]!;
    expect(node.privateIp).toBeUndefined();
    const server = { id: "s", addresses: { public: [{ addr: "198.51.100.9", "OS-EXT-IPS:type": "floating" }], private: [{ addr: "fd00::5", "OS-EXT-IPS:type": "fixed" }, { addr: "10.20.0.57", "OS-EXT-IPS:type": "fixed" }] } };
    expect(nodeAddress(c, node, server)).toBe("10.20.0.57");
    expect(() => nodeAddress(c, node, { id: "s", addresses: {} })).toThrow(/server s of el-up-compute-1 has no private IPv4 address yet/);
  });
});
