/**
 * Against a real OpenStack API: Keystone, Nova (fake virt driver: servers reach ACTIVE, nothing
 * boots), Neutron (ML2, no agents: no data plane), Glance, started on loopback by the project's
 * harness (test/harness/openstack). The cloud has no Cinder. One init per run: every OpenStack
 * suite lives in this file.
 *
 * Stand-ins, named: the fault-injection proxy (test/openstack/fault-proxy.ts) sits in front of the
 * real APIs; Keystone's OIDC federation endpoint is a stand-in inside that proxy (no identity
 * provider can be configured here) that hands out a real Keystone token.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenStackClient, OpenStackError, type ClientOptions } from "../../../../scripts/targets/openstack/cloud/client.js";
import { loadCredentials, type CloudCredentials } from "../../../../scripts/targets/openstack/cloud/credentials.js";
import { getServer } from "../../../../scripts/targets/openstack/cloud/compute.js";
import { listKeypairs, listServerGroups, listServers } from "../../../../scripts/targets/openstack/cloud/compute.js";
import { scanProject } from "../../../../scripts/targets/openstack/cloud/inventory.js";
import { list, NEUTRON, type NeutronKind } from "../../../../scripts/targets/openstack/cloud/network.js";
import { assertPreflight, preflight } from "../../../../scripts/targets/openstack/cloud/preflight.js";
import { PreflightError } from "../../../../scripts/errors.js";
import { cloudStatus, formatStatus } from "../../../../scripts/targets/openstack/cloud/status.js";
import { listClusters, reap, sweepCluster } from "../../../../scripts/targets/openstack/cloud/sweep.js";
import { startTestCloud, type TestCloud, type UserLogin } from "../../../harness/openstack/cloud.js";
import { buildCluster, buildDecoys, type Built, type Decoys } from "./build.js";
import { cloudCluster, cloudSpec, specYaml, type CloudSpecOptions } from "../../../harness/specs.js";
import { cli as runCliCaptured } from "../../../harness/cli.js";
import { parseSpec, resolveCluster } from "../../../../stacks/model/index.js";
import { ClusterState } from "../../../../scripts/state/store.js";
import { sandbox, type Sandbox } from "../engines/standins.js";
import { startFaultProxy } from "./fault-proxy.js";
import { Writable } from "node:stream";
import { createdByUp, qualifiedName, validateSpec, type Cluster } from "../../../../stacks/model/index.js";
import { openstackTarget, powerAgentHeadFiles, provisionCloud, type Provisioned } from "../../../../scripts/targets/openstack/index.js";
import { CREDENTIAL_RECORD_FILE, HEAD_AGENT_BUNDLE } from "../../../../scripts/targets/openstack/elastic.js";
import type { Engine } from "../../../../scripts/targets/openstack/engines/index.js";
import { credentialLogin, deleteClusterCredential, type HeadCredential } from "../../../../scripts/elastic/openstack/credential.js";
import { listApplicationCredentials } from "../../../../scripts/targets/openstack/cloud/identity.js";
import { ensureSecrets, type SecretValues } from "../../../../scripts/secrets/index.js";
import { filesFor } from "../../../../scripts/deploy/pipeline.js";
import { renderCluster } from "../../../../scripts/render/index.js";
import { POWER_FILES } from "../../../../scripts/render/views.js";
import { Progress } from "../../../../scripts/progress/index.js";
import type { PushFile } from "../../../../scripts/ssh/index.js";
import type { TargetContext } from "../../../../scripts/targets/target.js";
import { filesUnder } from "../engines/standins.js";
import { freePort } from "../../../harness/ports.js";
import { waitFor } from "../../../harness/wait.js";

let cloud: TestCloud;
let demo: OpenStackClient;
let admin: OpenStackClient;

function envOf(u: UserLogin, authUrl = "http://127.0.0.1:5000/v3"): NodeJS.ProcessEnv {
  return {
    OS_AUTH_URL: authUrl, OS_USERNAME: u.username, OS_PASSWORD: u.password, OS_PROJECT_NAME: u.projectName,
    OS_USER_DOMAIN_NAME: u.userDomainName, OS_PROJECT_DOMAIN_NAME: u.projectDomainName, OS_REGION_NAME: "RegionOne",
  };
}
const credsOf = (u: UserLogin, authUrl?: string): CloudCredentials => loadCredentials({ env: envOf(u, authUrl), searchDirs: [] });
const connect = (c: CloudCredentials, o: ClientOptions = {}) => OpenStackClient.connect(c, { timeoutMs: 20_000, ...o });

/** Is this resource still there? (Used to prove decoys survive and swept things are gone.) */
async function exists(kind: string, id: string): Promise<boolean> {
  if (kind === "server") return (await getServer(demo, id)) !== undefined;
  if (kind === "keypair") return (await listKeypairs(demo)).some((k) => k.name === id);
  if (kind === "server_group") return (await listServerGroups(demo)).some((g) => g.id === id);
  const r = await demo.request("network", "GET", `${NEUTRON[kind as NeutronKind].path}/${id}`, { ok: [404] });
  return r.status !== 404;
}

async function allExist(ids: Record<string, string[]>): Promise<string[]> {
  const missing: string[] = [];
  for (const [k, list] of Object.entries(ids)) for (const id of list) if (!(await exists(k, id))) missing.push(`${k}/${id}`);
  return missing;
}

async function noneExist(ids: Record<string, string[]>): Promise<string[]> {
  const left: string[] = [];
  for (const [k, list] of Object.entries(ids)) for (const id of list) if (await exists(k, id)) left.push(`${k}/${id}`);
  return left;
}

beforeAll(async () => {
  cloud = await startTestCloud();
  demo = await connect(credsOf(cloud.demo));
  admin = await connect(credsOf(cloud.admin));
}, 660_000);

afterAll(async () => {
  await cloud?.stop();
}, 120_000);

describe("client: Keystone auth and catalog", () => {
  it("authenticates with a password, an application credential and a token, to the same project", async () => {
    expect(demo.projectId).toBe(cloud.demoProjectId);
    const ac = await connect(loadCredentials({
      env: { OS_AUTH_URL: cloud.authUrl, OS_AUTH_TYPE: "v3applicationcredential", OS_APPLICATION_CREDENTIAL_ID: cloud.appCredential.id, OS_APPLICATION_CREDENTIAL_SECRET: cloud.appCredential.secret },
      searchDirs: [],
    }));
    expect(ac.session!.methods).toContain("application_credential");
    expect(ac.projectId).toBe(cloud.demoProjectId);
    const tok = await connect(loadCredentials({ env: { OS_AUTH_URL: cloud.authUrl, OS_AUTH_TYPE: "token", OS_TOKEN: demo.session!.token, OS_PROJECT_ID: cloud.demoProjectId }, searchDirs: [] }));
    expect(tok.projectId).toBe(cloud.demoProjectId);
    // The catalog gives real endpoints; listing through each works.
    expect((await list(ac, "network", { name: "private" })).length).toBe(1);
    expect(ac.endpoint("compute")).toMatch(/^http:\/\/127\.0\.0\.1:8774\/v2\.1/);
  });

  it("has no Cinder here: block-storage is absent and calls say so", async () => {
    expect(demo.hasService("block-storage")).toBe(false);
    await expect(demo.request("block-storage", "GET", "/volumes")).rejects.toThrow(/no block-storage service/);
    const scan = await scanProject(demo);
    expect(scan.notes.join(" ")).toMatch(/no block-storage \(Cinder\) service: volumes were not checked/);
  });

  it("selects the region: an unknown region finds no endpoint and names the regions there are", async () => {
    const c = await connect({ ...credsOf(cloud.demo), regionName: "Nowhere" });
    expect(c.hasService("compute")).toBe(false);
    await expect(c.request("compute", "GET", "/flavors")).rejects.toThrow(/regions: RegionOne/);
  });

  it("a wrong password fails with 401 and the error does not contain it", async () => {
    const creds = { ...credsOf(cloud.demo), password: "not-the-password-xyz" };
    const err = await connect(creds).catch((e) => e);
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err.status).toBe(401);
    expect(JSON.stringify({ m: err.message, b: err.body })).not.toContain("not-the-password-xyz");
  });

  it("OIDC access token: federation endpoint (stand-in) → unscoped token → project-scoped token from the real Keystone", async () => {
    const accessToken = "eyJhbGciOiJSUzI1NiJ9.stand-in-access-token.signature";
    const proxy = await startFaultProxy({ oidc: { idp: "egi.eu", protocol: "openid", accessToken, user: { name: "demo", password: "demopass", domain: "Default" } } });
    try {
      const env = { OS_AUTH_URL: proxy.authUrl, OS_AUTH_TYPE: "v3oidcaccesstoken", OS_IDENTITY_PROVIDER: "egi.eu", OS_PROTOCOL: "openid", OS_ACCESS_TOKEN: accessToken, OS_PROJECT_NAME: "demo", OS_PROJECT_DOMAIN_NAME: "Default" };
      const c = await connect(loadCredentials({ env, searchDirs: [] }));
      expect(c.projectId).toBe(cloud.demoProjectId);
      expect(proxy.counts.oidc).toBe(1);
      // Without a project: the only project of the identity is chosen.
      const { OS_PROJECT_NAME: _n, OS_PROJECT_DOMAIN_NAME: _d, ...noProject } = env;
      expect((await connect(loadCredentials({ env: noProject, searchDirs: [] }))).projectId).toBe(cloud.demoProjectId);
      const bad = await connect(loadCredentials({ env: { ...env, OS_ACCESS_TOKEN: "wrong-token-value-123" }, searchDirs: [] })).catch((e) => e);
      expect(bad.status).toBe(401);
      expect(bad.message).not.toContain("wrong-token-value-123");
    } finally {
      await proxy.close();
    }
  });
});

describe("pre-flight", () => {
  it("passes for a cluster the project can hold", async () => {
    const r = await preflight(demo, cloudCluster("pf-ok", { computes: 2 }));
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.needs).toMatchObject({ instances: 3, floatingip: 1, security_group: 2, network: 1, router: 1 });
  });

  it("lists every missing thing at once: image, flavor too small, external network", async () => {
    const r = await preflight(demo, cloudCluster("pf-bad", { image: "no-such-image", cpus: 4, memoryMb: 4096, externalNetwork: "no-such-net" }));
    expect(r.ok).toBe(false);
    const checks = r.problems.map((p) => p.check);
    expect(checks).toEqual(expect.arrayContaining(["image", "flavor", "external-network"]));
    const text = r.problems.map((p) => p.message).join("\n");
    expect(text).toMatch(/head\.image: image "no-such-image" not found/);
    expect(text).toMatch(/head\.cpus is 4 but flavor "m1\.tiny" has 1 vCPUs/);
    expect(text).toMatch(/head\.memoryMb is 4096 but flavor "m1\.tiny" has 512 MB/);
    expect(text).toMatch(/"no-such-net" is not an external network here; external networks: public/);
    expect(() => assertPreflight(r)).toThrow(PreflightError);
    try { assertPreflight(r); } catch (e) { expect((e as PreflightError).exitCode).toBe(3); }
  });

  it("quota shortage: fails listing instances and floating IPs, and nothing is created", async () => {
    const nova = `/os-quota-sets/${cloud.demoProjectId}`;
    const neutron = `/quotas/${cloud.demoProjectId}`;
    const before = await scanProject(demo);
    const nets = (await list(demo, "network")).length;
    await admin.request("compute", "PUT", nova, { body: { quota_set: { instances: 2 } } });
    await admin.request("network", "PUT", neutron, { body: { quota: { floatingip: 0 } } });
    try {
      const cluster = cloudCluster("pf-quota", { computes: 3 });
      const r = await preflight(demo, cluster);
      expect(r.ok).toBe(false);
      const q = r.problems.filter((p) => p.check === "quota").map((p) => p.message).join("\n");
      expect(q).toMatch(/instances: the cluster needs 4, the project has 2 free \(quota 2, used 0\)/);
      expect(q).toMatch(/floating IPs: the cluster needs 1, the project has 0 free/);
      const after = await scanProject(demo);
      expect(after.resources.length).toBe(before.resources.length);
      expect(after.resources.some((x) => x.clusterId === cluster.id)).toBe(false);
      expect((await list(demo, "network")).length).toBe(nets);
    } finally {
      await admin.request("compute", "PUT", nova, { body: { quota_set: { instances: 50 } } });
      await admin.request("network", "PUT", neutron, { body: { quota: { floatingip: 50 } } });
    }
  });
});

describe("sweep: every tagged resource goes, every decoy stays", () => {
  let built: Built;
  let decoys: Decoys;

  beforeAll(async () => {
    built = await buildCluster(demo, cloudCluster("sweep-a", { computes: 1, ttl: "2h" }));
    decoys = await buildDecoys(demo, built.cluster);
  }, 180_000);

  it("the scan attributes exactly the built resources to the cluster id", async () => {
    const scan = await scanProject(demo, { onlyId: built.cluster.id });
    const found: Record<string, string[]> = {};
    for (const r of scan.resources) (found[r.kind] ??= []).push(r.kind === "keypair" ? r.name : r.id);
    for (const k of Object.keys(found)) found[k]!.sort();
    const want = Object.fromEntries(Object.entries(built.ids).map(([k, v]) => [k, [...v].sort()]));
    expect(found).toEqual(want);
    expect(Object.keys(want).sort()).toEqual(["floatingip", "keypair", "network", "port", "router", "security_group", "server", "server_group", "subnet"]);
  });

  it("a same-name cluster with another id is a pre-flight name collision", async () => {
    const r = await preflight(demo, cloudCluster("sweep-a"));
    // the built cluster, and the decoys tagged uws-cluster=sweep-a with another id: both are clusters of that name
    expect(r.problems.map((p) => p.check)).toEqual(["name-collision", "name-collision"]);
    expect(r.problems.map((p) => p.message).join("\n")).toContain(`id ${built.cluster.id}`);
    expect(r.problems.map((p) => p.message).join("\n")).toContain("id 0123456789ab");
    // the cluster itself (same id) is no collision with itself
    expect((await preflight(demo, built.cluster)).problems.filter((p) => p.message.includes(built.cluster.id))).toEqual([]);
  });

  it("dry run lists what would go and deletes nothing", async () => {
    const r = await sweepCluster(demo, built.cluster.id, { dryRun: true });
    expect(r.dryRun).toBe(true);
    expect(r.deleted.filter((d) => d.kind !== "router_interface").length).toBe(Object.values(built.ids).flat().length);
    expect(r.deleted.some((d) => d.kind === "router_interface")).toBe(true);
    expect(await allExist(built.ids)).toEqual([]);
  });

  it("sweeps the cluster: nothing tagged left, every decoy intact", async () => {
    const events: string[] = [];
    const r = await sweepCluster(demo, built.cluster.id, { onEvent: (e) => events.push(`${e.type} ${e.kind ?? ""}`) });
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.remaining).toEqual([]);
    expect(await noneExist(built.ids)).toEqual([]);
    expect((await scanProject(demo, { onlyId: built.cluster.id })).resources).toEqual([]);
    expect(await allExist(decoys.ids)).toEqual([]);
    // dependency order: servers before ports, interfaces before routers, subnets before networks
    const first = (s: string) => events.indexOf(`delete ${s}`);
    expect(first("server")).toBeLessThan(first("port"));
    expect(first("router_interface")).toBeLessThan(first("router"));
    expect(first("subnet")).toBeLessThan(first("network"));
    expect(first("network")).toBeLessThan(first("security_group"));
    // a second sweep finds nothing and touches nothing
    const again = await sweepCluster(demo, built.cluster.id);
    expect(again).toMatchObject({ ok: true, deleted: [], rounds: 1 });
  });

  it("fault injection on a loaded machine: with 5xx, resets and hangs on a third of the calls the sweep keeps going until zero tagged resources are left", async () => {
    const f = await buildCluster(demo, cloudCluster("faulty", { computes: 2, cidr: "192.168.45.0/24" }));
    const proxy = await startFaultProxy({ rate: 0.33, seed: 7 });
    // A CI machine busy with other jobs: one bounded busy loop per core beside the sweep, stopped by PID.
    const hogs = cpuHogs(2, 400_000);
    try {
      const retries: string[] = [];
      const c = await connect(credsOf(cloud.demo, proxy.authUrl), { timeoutMs: 1500, retries: 6, backoffMs: 50, maxBackoffMs: 400, onRetry: (i) => retries.push(i.reason) });
      expect(c.endpoint("network")).toContain(`${proxy.url}/p/9696`);
      const rounds: string[] = [];
      const r = await sweepCluster(c, f.cluster.id, { roundPauseMs: 200, serverWaitMs: 60_000, deadlineMs: 360_000, onEvent: (e) => { if (e.type === "round" && e.message?.includes("left")) rounds.push(e.message); } });
      proxy.setRate(0);
      expect(hogs.every((h) => h.exitCode === null), "the CPU hogs ran through the whole sweep").toBe(true);
      expect(r.remaining).toEqual([]);
      expect(r.ok).toBe(true);
      // progress is reported round by round, naming what is left
      // (the first rounds' scans may themselves fail under the faults)
      expect(rounds[0]).toMatch(/^round \d+: \d+ tagged resource\(s\) left \(.*server/);
      expect((await scanProject(demo, { onlyId: f.cluster.id })).resources).toEqual([]);
      expect(await noneExist(f.ids)).toEqual([]);
      expect(await allExist(decoys.ids)).toEqual([]);
      // the faults really happened, of every kind, and the client retried through them
      expect(proxy.counts["503"]).toBeGreaterThan(0);
      expect(proxy.counts["502-after"]).toBeGreaterThan(0);
      expect(proxy.counts.reset).toBeGreaterThan(0);
      expect(proxy.counts.hang).toBeGreaterThan(0);
      expect(retries.some((x) => /timeout/.test(x))).toBe(true);
    } finally {
      for (const h of hogs) if (h.pid && h.exitCode === null) process.kill(h.pid, "SIGKILL");
      await proxy.close();
    }
  }, 480_000);
});

/** `n` busy-loop processes, each ending by itself after `ms` at the latest (the caller stops them by PID before). */
function cpuHogs(n: number, ms: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ["-e", `const end = Date.now() + ${ms}; while (Date.now() < end) {}`], { stdio: "ignore" }));
}

describe("reap and status", () => {
  let expired: Built;
  let live: Built;
  let home: string;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "uwsc-reap-"));
    const threeHoursAgo = new Date(Date.now() - 3 * 3600_000);
    expired = await buildCluster(demo, cloudCluster("old-one", { ttl: "1h", now: threeHoursAgo, cidr: "192.168.46.0/24" }));
    live = await buildCluster(demo, cloudCluster("new-one", { ttl: "8h", cidr: "192.168.47.0/24" }));
  }, 180_000);
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  const cli = (argv: string[]) => runCliCaptured(argv, { ...envOf(cloud.demo), UWS_CLUSTER_HOME: home }, home);

  it("status lists clusters by tag with age, expiry and resources by kind", async () => {
    const st = await cloudStatus(demo);
    const byId = Object.fromEntries(st.clusters.map((c) => [c.id, c]));
    expect(byId[expired.cluster.id]).toMatchObject({ name: "old-one", expires: expired.cluster.expiresAt, expired: true });
    expect(byId[live.cluster.id]).toMatchObject({ name: "new-one", expires: live.cluster.expiresAt, expired: false });
    expect(byId[live.cluster.id]!.resources.server!.map((s) => s.name).sort()).toEqual(["new-one-compute-1", "new-one-head"]);
    expect(byId[live.cluster.id]!.resources.keypair).toEqual([{ id: live.cluster.keypair.name, name: live.cluster.keypair.name }]);
    expect(byId[live.cluster.id]!.ageSeconds).toBeLessThan(600);
    expect(formatStatus(st)).toMatch(/new-one id=\w+ age=\d+[smh] expires=\S+ resources=\d+/);
    expect((await cloudStatus(demo, { name: "old-one" })).clusters.map((c) => c.id)).toEqual([expired.cluster.id]);
  });

  it("reap --dry-run deletes nothing and names the expired cluster only; no credential in the output", async () => {
    const r = await cli(["reap", "--dry-run", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.dryRun).toBe(true);
    expect(j.reaped.map((x: { id: string }) => x.id)).toEqual([expired.cluster.id]);
    expect(j.reaped[0].deleted.length).toBeGreaterThan(5);
    expect(r.stdout + r.stderr).not.toContain("demopass");
    expect(r.stdout + r.stderr).not.toContain(demo.session!.token);
    expect(await allExist(expired.ids)).toEqual([]);
    expect(await allExist(live.ids)).toEqual([]);
  });

  it("reap deletes the expired cluster and keeps the other", async () => {
    const r = await cli(["reap", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.reaped).toEqual([expect.objectContaining({ id: expired.cluster.id, ok: true, remaining: [] })]);
    expect(await noneExist(expired.ids)).toEqual([]);
    expect(await allExist(live.ids)).toEqual([]);
    const after = await listClusters(demo);
    expect(after.clusters.map((c) => c.id)).toContain(live.cluster.id);
    expect(after.clusters.map((c) => c.id)).not.toContain(expired.cluster.id);
    // the API function agrees: nothing else is expired now
    expect((await reap(demo, { dryRun: true })).expired).toEqual([]);
    // and a reap "in 9 hours" would take the live one
    expect((await reap(demo, { dryRun: true, now: new Date(Date.now() + 9 * 3600_000) })).expired).toContain(live.cluster.id);
  });

  it("reap without credentials is a clear error", async () => {
    expect((await runCliCaptured(["reap", "--json"], { UWS_CLUSTER_HOME: home, HOME: home }, home)).code).toBe(2);
  });
});

/**
 * The CLI verbs on the openstack target against the real API. `tofu` is a STAND-IN executable
 * (test/engines/standins.ts) because the OpenStack provider cannot be downloaded here: the cluster's
 * resources are created through the API as apply would (build.ts), and what `down` must achieve —
 * engine destroy, then nothing tagged left, every decoy intact — is checked on the real cloud.
 */
describe("CLI on the openstack target: up pre-flight, status, down", () => {
  let sb: Sandbox;
  let home: string;
  beforeAll(() => {
    sb = sandbox(["tofu"], { ...envOf(cloud.demo), OS_CLOUD: undefined, OS_AUTH_TYPE: "password" });
    home = mkdtempSync(join(tmpdir(), "uwsc-cli-os-"));
  });
  afterAll(() => { sb.cleanup(); rmSync(home, { recursive: true, force: true }); });

  const cli = (argv: string[]) => runCliCaptured(argv, { ...sb.env, UWS_CLUSTER_HOME: home }, home);
  const specFile = (name: string, o: CloudSpecOptions) => {
    const f = join(home, `${name}.yaml`);
    writeFileSync(f, specYaml(cloudSpec(name, o)));
    return f;
  };

  it("up exits 3 listing what the project lacks, and creates nothing", async () => {
    const before = (await scanProject(demo)).resources.length;
    const nets = (await list(demo, "network")).length;
    const r = await cli(["up", "--spec", specFile("cli-bad", { image: "no-such-image", cidr: "192.168.48.0/24" }), "--engine", "tofu", "--json"]);
    expect(r.code).toBe(3);
    const last = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(last).toMatchObject({ ok: false, error: { kind: "preflight" } });
    expect(JSON.stringify(last.error.details)).toContain("no-such-image");
    expect((await scanProject(demo)).resources.length).toBe(before);
    expect((await list(demo, "network")).length).toBe(nets);
    expect(sb.calls("tofu")).toEqual([]); // the engine never ran
    expect(r.stdout + r.stderr).not.toContain(cloud.demo.password);
  });

  it("status and down --spec: engine destroy, then the sweep removes every tagged resource and no decoy", async () => {
    const file = specFile("cli-one", { cidr: "192.168.49.0/24" });
    const state = new ClusterState("cli-one", home);
    const ident = state.identity();
    const cluster = resolveCluster(parseSpec(readFileSync(file, "utf8")), ident);
    const built = await buildCluster(demo, cluster);
    const decoys = await buildDecoys(demo, cluster);
    // What a real apply leaves: an engine state that lists resources, so down runs the engine's destroy.
    mkdirSync(state.path("engine"), { recursive: true });
    writeFileSync(state.path("engine", "terraform.tfstate"), JSON.stringify({ version: 4, resources: [{ type: "openstack_compute_instance_v2", name: "x", instances: [{}] }] }));

    const st = await cli(["status", "--spec", file, "--json"]);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ ok: true, id: ident.id, clusters: [{ id: ident.id, name: "cli-one" }] });

    const r = await cli(["down", "--spec", file, "--engine", "tofu", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").pop()!)).toMatchObject({ ok: true, id: ident.id, removed: true });
    expect(sb.calls("tofu").map((c) => c.argv[0])).toContain("destroy");
    expect(await noneExist(built.ids)).toEqual([]);
    expect(await allExist(decoys.ids)).toEqual([]);
    expect(existsSync(state.dir)).toBe(false);
    expect((await cli(["status", "--spec", file, "--json"])).code).toBe(1);
    // idempotent
    expect((await cli(["down", "--spec", file, "--engine", "tofu", "--json"])).code).toBe(0);
    // Five CLI runs and a build/sweep of a whole cluster: minutes on a loaded machine, not vitest's default minute.
  }, 300_000);

  it("down --name works with the local state lost: the cluster is found by its name tag", async () => {
    const built = await buildCluster(demo, cloudCluster("cli-two", { cidr: "192.168.50.0/24" }));
    const r = await cli(["down", "--name", "cli-two", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").pop()!)).toMatchObject({ ok: true, id: built.cluster.id, removed: true });
    expect(await noneExist(built.ids)).toEqual([]);
  }, 240_000);
});

/**
 * An elastic cluster (compute min 0, max 2) through the openstack target as `up` and `down` run it.
 * Stand-ins, named: the ENGINE — its apply makes the API calls the stacks declare (build.ts's plan,
 * held to both stacks by test/pulumi/parity.test.ts), since the provider cannot be downloaded; the
 * HEAD'S SSH — the loopback cloud has no data plane, so "what up writes to the head" is what the
 * pipeline pushes, from the same functions (filesFor + powerAgentHeadFiles), and the agent runs
 * here from those files (the head bundle; `--after-machine active`: done when ACTIVE).
 */
describe("elastic cluster (min 0, max 2): up's cloud half, what it writes to the head, the agent it installs, down", () => {
  let sb: Sandbox;
  let home: string;
  let cluster: Cluster;
  let state: ClusterState;
  let ctx: TargetContext;
  let out = "";
  const secrets: SecretValues = new Map();
  let prov: Provisioned;
  let headFiles: PushFile[] = [];
  let agent: ChildProcess | undefined;
  const agentLog: string[] = [];
  const mine = async () => (await scanProject(demo, { onlyId: cluster.id })).resources;

  beforeAll(() => {
    sb = sandbox(["tofu"], { ...envOf(cloud.demo), OS_CLOUD: undefined, OS_AUTH_TYPE: "password" });
    home = mkdtempSync(join(tmpdir(), "uwsc-elastic-up-"));
    const spec = cloudSpec("el-up", { ttl: "2h", cidr: "192.168.52.0/24" }) as Record<string, any>;
    spec.compute = { ...spec.compute, min: 0, max: 2, idle: "30s", resumeTimeout: "60s" };
    delete spec.compute.count;
    state = new ClusterState("el-up", home);
    cluster = resolveCluster(validateSpec(spec), state.identity());
    const sink = new Writable({ write(chunk, _e, cb) { out += chunk.toString(); cb(); } });
    ctx = { cluster, state, env: sb.env, cwd: home, progress: new Progress(sink, "plain"), args: { flags: { engine: "tofu" }, positional: [] } };
  });
  afterAll(async () => {
    if (agent && agent.exitCode === null) await new Promise((r) => { agent!.once("exit", r); agent!.kill("SIGTERM"); });
    if (cluster) {
      await deleteClusterCredential(demo, cluster).catch(() => undefined);
      await sweepCluster(demo, cluster.id, { deadlineMs: 120_000 }).catch(() => undefined);
    }
    sb?.cleanup();
    rmSync(home, { recursive: true, force: true });
  }, 180_000);

  it("pre-flight accepts compute.min < compute.max on openstack (quotas counted for max)", async () => {
    await openstackTarget.preflight(ctx);
    expect(out).toContain("1 head + 0 compute (up to 2 powered up by Slurm for waiting jobs)");
    expect((await preflight(demo, cluster)).needs).toMatchObject({ instances: 3 });
  }, 120_000);

  it("up's cloud half: the head and no compute server; the power credential, its secret in memory only", async () => {
    for (const [k, v] of ensureSecrets(cluster, state, sb.env, home)) secrets.set(k, v);
    expect(secrets.has("power.openstack-credential")).toBe(false);
    const engine: Engine = {
      name: "tofu", binary: "stand-in",
      check: async () => {},
      apply: async (c) => {
        const built = await buildCluster(demo, c.cluster);
        const fip = (await demo.request("network", "GET", `/floatingips/${built.ids.floatingip![0]}`)).body.floatingip.floating_ip_address as string;
        return { headPublicIp: fip, privateIps: Object.fromEntries(createdByUp(c.cluster).map((n) => [n.name, n.privateIp!])), clusterId: c.cluster.id };
      },
      outputs: async () => { throw new Error("not used"); },
      destroy: async () => {},
    };
    prov = await provisionCloud(ctx, secrets, { engine, progress: ctx.progress, env: sb.env, cwd: home });
    const servers = (await mine()).filter((r) => r.kind === "server");
    expect(servers.map((s) => s.name)).toEqual([cluster.head.name]);
    expect(prov.credential).toMatchObject({ name: qualifiedName(cluster.name, cluster.id), roles: ["member"], accessRules: "enforced" });
    expect(out).toMatch(/Creating the power agent's application credential[\s\S]*power credential el-up-\w+: roles member; expires .*enforced/);
    const head = JSON.parse(secrets.get("power.openstack-credential")!.toString()) as HeadCredential;
    expect(head.id).toBe(prov.credential!.id);
    expect(secrets.get("power.node-munge-key")).toEqual(secrets.get("munge.key"));
    // The secret is in no state file (engine inputs included), no output line and no user-data.
    for (const f of filesUnder(state.dir)) expect(f.text, f.path).not.toContain(head.secret);
    expect(out).not.toContain(head.secret);
    for (const b of renderCluster(cluster)) expect(b.userData).not.toContain(head.secret);
    expect(state.readJson(CREDENTIAL_RECORD_FILE)).toMatchObject({ id: head.id });
  }, 300_000);

  it("what up writes to the head: the agent's unit, bundle and configuration, and the credential 0400 slurm:slurm that logs in", async () => {
    const bundles = renderCluster(cluster, { addresses: prov.outputs.privateIps, headPublicIp: prov.outputs.headPublicIp });
    headFiles = [...filesFor({ cluster, bundles, secrets }, cluster.head), ...(await powerAgentHeadFiles(prov.client, cluster, prov.outputs))];
    const at = (p: string) => headFiles.find((f) => f.path === p);
    expect(String(at(POWER_FILES.agentUnit)!.content)).toMatch(/^User=slurm$[\s\S]*^ExecStart=\S+ \/opt\/uws-power-agent\/uws-power-agent.mjs --config \/etc\/slurm\/uws-power\/agent.json$/m);
    expect(at(POWER_FILES.agentBundle)!.content).toEqual(readFileSync(HEAD_AGENT_BUNDLE));
    const credPath = cluster.secrets.find((s) => s.key === "power.openstack-credential")!.path;
    const cred = at(credPath)!;
    expect(cred).toMatchObject({ mode: "0400", owner: "slurm:slurm" });
    const head = JSON.parse(cred.content.toString()) as HeadCredential;
    expect((await OpenStackClient.connect(credentialLogin(head), { retries: 0 })).session!.methods).toContain("application_credential");
    const config = String(at(POWER_FILES.agentConfig)!.content);
    expect(config).not.toContain(head.secret);
    expect(JSON.parse(config).cluster.elastic.nodes).toEqual([`${cluster.name}-compute-1`, `${cluster.name}-compute-2`]);
    // The ids up looked up for new servers (the head's own image and flavor) and the head's private address (host keys are posted there).
    const headServer = (await demo.request("compute", "GET", `/servers/${(await listServers(demo, { name: `^${cluster.head.name}$` }))[0]!.id}`)).body.server;
    expect(JSON.parse(config).refs).toMatchObject({ image: headServer.image.id, groups: expect.any(Array) });
    expect(JSON.parse(config).refs.groups).toHaveLength(1);
    expect(JSON.parse(config).headAddress).toBe(prov.outputs.privateIps[cluster.head.name] ?? cluster.head.privateIp);
    // slurm.conf: both compute nodes are powered by Slurm.
    expect(String(at("/etc/slurm/slurm.conf")!.content).match(/^NodeName=\S+ .*State=CLOUD$/gm)?.length).toBe(2);
  });

  it("the agent run from those files (the head bundle) creates an on-demand server with the credential; down removes it, its port, the credential and every tagged resource", async () => {
    const dir = join(home, "head");
    mkdirSync(dir, { recursive: true });
    const put = (p: string, name: string) => { const f = headFiles.find((x) => x.path === p)!; writeFileSync(join(dir, name), f.content, { mode: 0o400 }); return join(dir, name); };
    const port = await freePort();
    agent = spawn(process.execPath, [put(POWER_FILES.agentBundle, "uws-power-agent.mjs"), "--config", put(POWER_FILES.agentConfig, "agent.json"),
      "--credential", put(cluster.secrets.find((s) => s.key === "power.openstack-credential")!.path, "credential.json"),
      "--token", put(cluster.secrets.find((s) => s.key === "power.agent-token")!.path, "token"), "--listen", `127.0.0.1:${port}`, "--after-machine", "active"],
    { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
    for (const s of [agent.stdout!, agent.stderr!]) s.on("data", (b: Buffer) => agentLog.push(b.toString()));
    const token = secrets.get("power.agent-token")!.toString().trim();
    const ask = (path: string, body: string) => fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body }).then((r) => r.text());
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined))?.ok,
      { timeoutMs: 60_000, intervalMs: 200, what: () => `the agent to answer: ${agentLog.join("")}` });
    const node = `${cluster.name}-compute-2`;
    expect(await ask("/resume", `${node}\n`)).toMatch(new RegExp(`^${node} ok id=[0-9a-f-]{36} port=[0-9a-f-]{36}\\n$`));
    const servers = (await mine()).filter((r) => r.kind === "server").map((r) => r.name).sort();
    expect(servers).toEqual([node, cluster.head.name].sort());
    await new Promise((r) => { agent!.once("exit", r); agent!.kill("SIGTERM"); });

    const r = await openstackTarget.delete(ctx);
    expect(out).toContain("Deleting the power agent's application credential");
    expect(r?.json?.deleted).toEqual(expect.arrayContaining([expect.objectContaining({ kind: "server", name: node }), expect.objectContaining({ kind: "port" })]));
    expect(await mine()).toEqual([]);
    expect((await listApplicationCredentials(demo)).filter((a) => a.name === qualifiedName(cluster.name, cluster.id))).toEqual([]);
    expect(existsSync(state.dir)).toBe(false);
  }, 300_000);
});
