/**
 * Elastic compute nodes on OpenStack, against the loopback test cloud (test/harness/openstack: real
 * Keystone, Nova with the fake virt driver, Neutron, Glance; no data plane) and the real slurmctld
 * on loopback (test/harness/slurm):
 * - the per-cluster application credential as Keystone records it (role, expiry, access rules) and
 *   what it cannot do (the services enforce access rules: oscloud.sh names each service_type);
 * - the shipped resume and suspend programs (their text; only the agent URL, token, record and log
 *   paths and SLURM_CONF point into the test's folder) talking to the OpenStack power agent
 *   process (scripts/elastic/openstack/agent-main.ts) that logs in with that credential;
 * - down's credential delete and the sweep of what a failed resume left.
 *
 * Stand-in, named: the agent runs with `--after-machine active` — a resume is done when the server
 * is ACTIVE. Configuring the new node over SSH cannot be shown without a data plane (and is not
 * wired on OpenStack yet). Keypairs, the head and the network are created through the API the way
 * `up`'s engine declares them (test/targets/openstack/cloud/build.ts).
 *
 * This file starts its own test cloud (~1 min; the suites run one file at a time, so it never
 * overlaps test/targets/openstack/cloud's).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { qualifiedName, resolveCluster, TAG_ID, TAG_NAME, TAG_POWER, TAG_ROLE, tagToken, validateSpec, type Cluster } from "../../../stacks/model/index.js";
import { createClusterCredential, deleteClusterCredential, describeCredential, findClusterCredential, type CredentialRecord, type HeadCredential, credentialLogin } from "../../../scripts/elastic/openstack/credential.js";
import { OpenStackClient } from "../../../scripts/targets/openstack/cloud/client.js";
import { loadCredentials } from "../../../scripts/targets/openstack/cloud/credentials.js";
import { createServer, deleteServer, getServer, listServers, type Server } from "../../../scripts/targets/openstack/cloud/compute.js";
import { list, type Network, type Port } from "../../../scripts/targets/openstack/cloud/network.js";
import { listApplicationCredentials } from "../../../scripts/targets/openstack/cloud/identity.js";
import { sweepCluster } from "../../../scripts/targets/openstack/cloud/sweep.js";
import { openstackTarget } from "../../../scripts/targets/openstack/index.js";
import { ClusterState } from "../../../scripts/state/store.js";
import { Progress } from "../../../scripts/progress/index.js";
import { Writable } from "node:stream";
import { renderCluster } from "../../../scripts/render/index.js";
import { templates } from "../../../scripts/render/engine.js";
import { addressBook, powerView } from "../../../scripts/render/views.js";
import { startTestCloud, type TestCloud, type UserLogin } from "../../harness/openstack/cloud.js";
import { buildCluster, waitActive } from "../../targets/openstack/cloud/build.js";
import { cloudSpec } from "../../harness/specs.js";
import { renderLoopbackSlurm, startMunged, startSlurmctld, type LoopbackConf } from "../../harness/slurm.js";
import { stopDaemons, type Daemon } from "../../harness/daemons.js";
import { tempDir } from "../../harness/files.js";
import { freePort } from "../../harness/ports.js";
import { waitFor } from "../../harness/wait.js";
import { REPO_ROOT } from "../../../scripts/deploy/bundle.js";
import { lookupCloudRefs } from "../../../scripts/elastic/openstack/driver.js";

const root = tempDir("os-power");
let cloud: TestCloud;
let demo: OpenStackClient;
let admin: OpenStackClient;

const envOf = (u: UserLogin): NodeJS.ProcessEnv => ({
  OS_AUTH_URL: "http://127.0.0.1:5000/v3", OS_USERNAME: u.username, OS_PASSWORD: u.password, OS_PROJECT_NAME: u.projectName,
  OS_USER_DOMAIN_NAME: u.userDomainName, OS_PROJECT_DOMAIN_NAME: u.projectDomainName, OS_REGION_NAME: "RegionOne",
});
const connect = (u: UserLogin) => OpenStackClient.connect(loadCredentials({ env: envOf(u), searchDirs: [] }), { timeoutMs: 20_000 });

/** An elastic cloud cluster (min 0, max 2), its ttl 2h, as the spec is written. */
function elasticCluster(name: string, cidr: string): Cluster {
  const spec = cloudSpec(name, { ttl: "2h", cidr }) as Record<string, any>;
  spec.compute = { ...spec.compute, count: undefined, min: 0, max: 2, idle: "30s", resumeTimeout: "60s" };
  delete spec.compute.count;
  return resolveCluster(validateSpec(spec));
}

beforeAll(async () => {
  cloud = await startTestCloud();
  demo = await connect(cloud.demo);
  admin = await connect(cloud.admin);
}, 660_000);

const running: Daemon[] = [];
afterAll(async () => {
  await stopDaemons(running.splice(0));
  await cloud?.stop();
  if (!process.env.UWSC_KEEP_LOGS) rmSync(root, { recursive: true, force: true });
}, 180_000);

describe("the power agent's application credential", () => {
  let cluster: Cluster;
  let record: CredentialRecord;
  let head: HeadCredential;
  let cred: OpenStackClient;
  beforeAll(async () => {
    cluster = elasticCluster("t-cred", "192.168.61.0/24");
    ({ record, head } = await createClusterCredential(demo, cluster));
    cred = await OpenStackClient.connect(credentialLogin(head), { retries: 0, timeoutMs: 20_000 });
  }, 120_000);
  afterAll(async () => { await deleteClusterCredential(demo, cluster).catch(() => undefined); });

  it("Keystone records it with the member role only, the cluster's expiry and access rules; named and described for the sweep", async () => {
    const k = (await demo.request("identity", "GET", `/users/${demo.userId}/application_credentials/${record.id}`)).body.application_credential;
    expect(k.name).toBe(qualifiedName(cluster.name, cluster.id));
    expect(k.description).toContain(tagToken(TAG_ID, cluster.id));
    expect(k.roles.map((r: { name: string }) => r.name)).toEqual(["member"]);
    expect(k.unrestricted).toBe(false);
    // Keystone answers without the zone letter and with microseconds.
    expect(Date.parse(`${k.expires_at.replace(/Z?$/, "Z")}`)).toBe(Date.parse(cluster.expiresAt!));
    expect(Date.parse(cluster.expiresAt!) - Date.parse(cluster.createdAt)).toBe(2 * 3600_000);
    expect(k.access_rules.length).toBe(record.rules.length);
    expect(new Set(k.access_rules.map((r: { service: string }) => r.service))).toEqual(new Set(["compute", "network", "image"]));
    expect(k.access_rules.some((r: { method: string; path: string }) => r.method === "DELETE" && r.path === "/v2.1/servers/*")).toBe(true);
    expect(record.accessRules).toBe("enforced");
    expect(describeCredential(record)).toMatch(/roles member; expires .*; \d+ access rules .*enforced/);
    // The secret is shown by Keystone once, at creation: never in its record.
    expect(JSON.stringify(k)).not.toContain(head.secret);
    expect(JSON.stringify(record)).not.toContain(head.secret);
  });

  it("it can do what the agent does: list servers, flavors, images, networks, ports", async () => {
    for (const [svc, path] of [["compute", "/servers/detail"], ["compute", "/flavors/detail"], ["image", "/images"], ["network", "/networks"], ["network", "/ports"]] as const) {
      expect((await cred.request(svc, "GET", path)).status, `${svc} GET ${path}`).toBe(200);
    }
  });

  it("and nothing else: list keypairs, delete a network, create an image, create a network, make another credential are all refused", async () => {
    const net = (await list<Network>(demo, "network", { name: "private" }))[0]!;
    const refused = async (svc: "compute" | "network" | "image" | "identity", method: string, path: string, body?: unknown) => {
      const r = await cred.request(svc, method, path, { ok: [401, 403], ...(body ? { body } : {}) });
      return r.status;
    };
    expect(await refused("compute", "GET", "/os-keypairs")).toBe(401);
    expect(await refused("network", "DELETE", `/networks/${net.id}`)).toBe(401);
    expect(await refused("network", "POST", "/networks", { network: { name: "not-allowed" } })).toBe(401);
    expect(await refused("image", "POST", "/images", { name: "not-allowed", disk_format: "raw", container_format: "bare" })).toBe(401);
    expect(await refused("identity", "POST", `/users/${demo.userId}/application_credentials`, { application_credential: { name: "nope" } })).toBe(403);
    // No server action (stop, reboot, rebuild, console…) on any server, no port update, no group read.
    // On ids that do not exist: a call the rules allowed would be answered 404 by the service, a refused one never reaches it.
    const none = randomUUID();
    expect(await refused("compute", "POST", `/servers/${none}/action`, { "os-stop": null })).toBe(401);
    expect(await refused("compute", "POST", `/servers/${none}/action`, { "os-getConsoleOutput": { length: 10 } })).toBe(401);
    expect(await refused("network", "PUT", `/ports/${none}/tags`, { tags: ["not-allowed"] })).toBe(401);
    expect(await refused("network", "PUT", `/ports/${none}`, { port: { name: "not-allowed" } })).toBe(401);
    expect(await refused("network", "GET", "/security-groups")).toBe(401);
    expect(await refused("compute", "GET", "/os-server-groups")).toBe(401);
    expect((await cred.request("compute", "GET", `/servers/${none}`, { ok: [404] })).status).toBe(404);
    // The network is still there (the refusals are not mere answer codes).
    expect((await list<Network>(demo, "network", { id: net.id })).length).toBe(1);
  });

  it("status reads it back from Keystone (expiry, rules) without the secret", async () => {
    const found = await findClusterCredential(demo, cluster);
    expect(found).toMatchObject({ id: record.id, expiresAt: expect.any(String), roles: ["member"], accessRules: "set" });
    expect(describeCredential(found!)).toContain(`${record.rules.length} access rules`);
  });

  it("without access rules (a Keystone older than 3.13) it says so, and such a credential can list keypairs", async () => {
    const other = elasticCluster("t-norules", "192.168.62.0/24");
    const r = await createClusterCredential(demo, other, { withoutAccessRules: true });
    try {
      expect(r.record.accessRules).toBe("unsupported");
      expect(describeCredential(r.record)).toMatch(/no access rules/);
      const c = await OpenStackClient.connect(credentialLogin(r.head), { retries: 0 });
      expect((await c.request("compute", "GET", "/os-keypairs")).status).toBe(200);
    } finally {
      expect(await deleteClusterCredential(demo, other)).toEqual([r.record.id]);
    }
  });

  it("down deletes it: it can no longer log in, and Keystone lists no credential of the cluster", async () => {
    expect(await deleteClusterCredential(demo, cluster)).toEqual([record.id]);
    expect(await findClusterCredential(demo, cluster)).toBeUndefined();
    // Keystone: 404 "Could not find Application Credential" (an expired one gets 401).
    await expect(OpenStackClient.connect(credentialLogin(head), { retries: 0 })).rejects.toThrow(/auth\/tokens → 404: Could not find Application Credential/);
  });
});

describe("the shipped power programs with the OpenStack power agent (min 0, max 2)", () => {
  let cluster: Cluster;
  let head: HeadCredential;
  let agent: ChildProcess | undefined;
  let agentUrl = "";
  let conf: LoopbackConf;
  const dir = join(root, "programs");
  const programs: Record<"resume" | "suspend", string> = { resume: "", suspend: "" };
  const agentLog: string[] = [];
  const extra: string[] = []; // servers made by the test, deleted at the end

  const log = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8") : "");
  const record = (n: string) => (existsSync(join(dir, "records", n)) ? readFileSync(join(dir, "records", n), "utf8").trim() : undefined);
  const run = (p: "resume" | "suspend", hostlist: string) => execFileSync(programs[p], [hostlist], { env: conf.env, timeout: 120_000 });
  const mine = async (): Promise<Server[]> => (await listServers(demo)).filter((s) => s.metadata?.[TAG_ID] === cluster.id && s.metadata?.[TAG_ROLE] === "compute");
  const reasons = () => execFileSync("sinfo", ["-h", "-R", "-o", "%n|%E"], { env: conf.env, encoding: "utf8" });
  const n1 = () => cluster.elastic!.nodes[0]!, n2 = () => cluster.elastic!.nodes[1]!;

  // The head's files: credential and token 0400, the model and on-demand user-data (no secret).
  const files = { credential: join(dir, "credential.json"), token: join(dir, "token"), config: join(dir, "agent.json") };
  /** (Re)starts the agent process with credential `h`, as the head's service would. */
  async function startAgent(h: HeadCredential): Promise<void> {
    if (agent) { const old = agent; await new Promise((r) => { old.once("exit", r); old.kill("SIGTERM"); }); }
    rmSync(files.credential, { force: true });
    writeFileSync(files.credential, JSON.stringify(h), { mode: 0o400 });
    const a = spawn(process.execPath, [join(REPO_ROOT, "scripts/run-ts.mjs"), join(REPO_ROOT, "scripts/elastic/openstack/agent-main.ts"),
      "--config", files.config, "--credential", files.credential, "--token", files.token, "--listen", agentUrl.replace("http://", ""), "--after-machine", "active"],
    { stdio: ["ignore", "pipe", "pipe"] });
    agent = a;
    for (const s of [a.stdout!, a.stderr!]) s.on("data", (b: Buffer) => agentLog.push(b.toString()));
    await waitFor(async () => (await fetch(`${agentUrl}/health`, { headers: { authorization: "Bearer agent-token-for-the-test" } }).catch(() => undefined))?.ok,
      { timeoutMs: 60_000, intervalMs: 200, what: () => `the agent to answer: ${agentLog.join("")}` });
  }

  beforeAll(async () => {
    cluster = elasticCluster("t-el", "192.168.63.0/24");
    mkdirSync(dir, { recursive: true });
    // What `up` creates: the network, groups, keypair, server group and the head (no compute node: min 0).
    await buildCluster(demo, { ...cluster, nodes: [cluster.head] });
    head = (await createClusterCredential(demo, cluster)).head;
    const userData = Object.fromEntries(renderCluster(cluster).filter((b) => cluster.elastic!.nodes.includes(b.node.name)).map((b) => [b.node.name, b.userData]));
    writeFileSync(files.config, JSON.stringify({ cluster, userData, refs: await lookupCloudRefs(demo, cluster), headAddress: cluster.head.privateIp }));
    writeFileSync(files.token, "agent-token-for-the-test\n", { mode: 0o400 });
    expect(readFileSync(files.config, "utf8")).not.toContain(head.secret);
    agentUrl = `http://127.0.0.1:${await freePort()}`;
    await startAgent(head);

    const munge = await startMunged(dir);
    running.push(munge);
    // Slurm itself never runs the programs here (no job asks for a node): the test runs them.
    conf = await renderLoopbackSlurm(cluster, dir, { mungeSocket: munge.socket, extra: "ResumeProgram=/bin/true\nSuspendProgram=/bin/true\n" });
    running.push(await startSlurmctld(conf));
    const view = { clusterName: cluster.name, power: { ...powerView(cluster, addressBook(cluster))!, agentUrl, tokenFile: files.token, records: join(dir, "records"),
      logs: { resume: join(dir, "resume.log"), suspend: join(dir, "suspend.log"), resumeFail: join(dir, "resume-fail.log") } } };
    for (const p of ["resume", "suspend"] as const) {
      programs[p] = join(dir, `${p}.sh`);
      writeFileSync(programs[p], templates().render(`slurm/power/${p}.sh`, view).replace("\n", `\nexport SLURM_CONF=${conf.conf}\n`), { mode: 0o755 });
    }
  }, 300_000);

  afterAll(async () => {
    if (agent) await new Promise((r) => { agent!.once("exit", r); agent!.kill("SIGTERM"); });
    for (const id of extra) await deleteServer(demo, id).catch(() => undefined);
    if (cluster) await sweepCluster(demo, cluster.id, { deadlineMs: 120_000 }).catch(() => undefined);
  }, 180_000);

  it("resume creates both nodes' servers from the model: name, image, flavor, tags, metadata, server group, the node's fixed address and group; the ids are recorded", async () => {
    run("resume", `${cluster.name}-compute-[1-2]`);
    const servers = await mine();
    expect(servers.map((s) => s.name).sort()).toEqual([n1(), n2()]);
    for (const s of servers) {
      const node = cluster.computes.find((n) => n.name === s.name)!;
      expect(s.status).toBe("ACTIVE");
      expect(s.metadata).toEqual(node.metadata);
      expect(s.tags).toEqual(expect.arrayContaining(cluster.tagList));
      expect(record(s.name)).toMatch(new RegExp(`^id=${s.id} port=[0-9a-f-]{36}$`));
      const portId = /port=(\S+)/.exec(record(s.name)!)![1]!;
      const port = (await list<Port>(demo, "port", { id: portId }))[0]!;
      // The cluster's tag tokens and the agent's mark are in the description, set at creation (no tag update).
      expect(port).toMatchObject({ name: node.portName, device_id: s.id, description: `${node.portDescription} ${tagToken(TAG_POWER, "agent")}` });
      expect(port.fixed_ips.map((f) => f.ip_address)).toEqual([node.privateIp]);
      const full = (await demo.request("compute", "GET", `/servers/${s.id}`)).body.server;
      expect(full.flavor.original_name).toBe(node.flavor);
      expect(full.key_name).toBe(cluster.keypair.name);
    }
    const group = (await demo.request("compute", "GET", "/os-server-groups")).body.server_groups.find((g: { name: string }) => g.name === cluster.serverGroup!.name);
    expect(group.members).toEqual(expect.arrayContaining(servers.map((s) => s.id)));
    expect(log("resume.log")).toMatch(new RegExp(`${n1()} created: id=`));
    await waitFor(() => agentLog.join("").includes(`${n2()}: server`), { timeoutMs: 5_000, what: () => `the agent's log lines: ${agentLog.join("")}` });
    // The secret is in no log, record or program.
    for (const text of [log("resume.log"), agentLog.join(""), readFileSync(programs.resume, "utf8")]) expect(text).not.toContain(head.secret);
  }, 180_000);

  it("a second resume of the same nodes creates nothing (found by name and cluster tag)", async () => {
    const before = (await mine()).map((s) => s.id).sort();
    const rec = record(n1());
    run("resume", `${cluster.name}-compute-[1-2]`);
    expect((await mine()).map((s) => s.id).sort()).toEqual(before);
    expect(log("resume.log")).toMatch(/already there/);
    expect(record(n1())).toBe(`${rec} (already there)`);
  }, 120_000);

  it("suspend of a decoy (untagged, the node's name) or of another cluster's server is refused by the agent; both survive", async () => {
    const image = (await demo.request("image", "GET", "/images", { query: { name: "tiny" } })).body.images[0].id;
    const flavor = (await demo.request("compute", "GET", "/flavors")).body.flavors.find((f: { name: string }) => f.name === "m1.tiny").id;
    const net = (await list<Network>(demo, "network", { name: "private" }))[0]!;
    const portFor = async (name: string) => (await demo.request("network", "POST", "/ports", { body: { port: { name, network_id: net.id } } })).body.port.id as string;
    const decoy = await createServer(demo, { name: n1(), imageRef: image, flavorRef: flavor, ports: [await portFor("decoy")] });
    const foreign = await createServer(demo, { name: n1(), imageRef: image, flavorRef: flavor, ports: [await portFor("foreign")],
      metadata: { [TAG_NAME]: cluster.name, [TAG_ID]: "0123456789ab", [TAG_ROLE]: "compute" } });
    extra.push(decoy.id, foreign.id);
    await waitActive(demo, [decoy.id, foreign.id]);
    const real = record(n1())!;
    for (const victim of [decoy.id, foreign.id]) {
      writeFileSync(join(dir, "records", n1()), `id=${victim}\n`);
      run("suspend", n1());
      expect(log("suspend.log")).toContain(`${n1()} NOT removed: refused: server ${victim} is not ${n1()} of cluster ${cluster.name}`);
      expect((await getServer(demo, victim))?.status).toBe("ACTIVE");
    }
    writeFileSync(join(dir, "records", n1()), `${real}\n`);
  }, 180_000);

  it("suspend deletes both servers and the ports the agent made, by the recorded ids; a second suspend finds them gone", async () => {
    const ports = [n1(), n2()].map((n) => /port=(\S+)/.exec(record(n)!)![1]!);
    run("suspend", `${cluster.name}-compute-[1-2]`);
    expect(await mine()).toEqual([]);
    for (const p of ports) expect(await list<Port>(demo, "port", { id: p })).toEqual([]);
    expect(record(n1())).toBeUndefined();
    expect(record(n2())).toBeUndefined();
    const r = await fetch(`${agentUrl}/suspend`, {
      method: "POST", headers: { authorization: "Bearer agent-token-for-the-test" }, body: `${n1()} \n`,
    });
    expect(await r.text()).toBe(`${n1()} ok already gone\n`);
  }, 180_000);

  it("never more than compute.max: with one tagged compute server already there, a resume of two nodes creates one and refuses the other (DOWN with the reason)", async () => {
    const image = (await demo.request("image", "GET", "/images", { query: { name: "tiny" } })).body.images[0].id;
    const flavor = (await demo.request("compute", "GET", "/flavors")).body.flavors.find((f: { name: string }) => f.name === "m1.tiny").id;
    const net = (await list<Network>(demo, "network", { name: "private" }))[0]!;
    const port = (await demo.request("network", "POST", "/ports", { body: { port: { name: "leftover", network_id: net.id } } })).body.port.id;
    // A tagged compute server the agent did not make (a failed resume's leftover, say): it counts.
    const leftover = await createServer(demo, { name: `${cluster.name}-compute-9`, imageRef: image, flavorRef: flavor, ports: [port], metadata: { ...cluster.computes[0]!.metadata } });
    await waitActive(demo, [leftover.id]);
    run("resume", `${cluster.name}-compute-[1-2]`);
    const servers = await mine();
    expect(servers.length).toBe(2);
    const refused = [n1(), n2()].find((n) => !servers.some((s) => s.name === n))!;
    expect(reasons()).toContain(`${refused}|resume failed: refused: 2 compute servers (compute.max)`);
    // It is left for the sweep (down, or a failed cluster's clean-up) — see the last test.
  }, 180_000);

  it("quota exhausted: one failed line with Nova's reason on the node, no retry", async () => {
    run("suspend", `${cluster.name}-compute-[1-2]`);
    expect((await mine()).map((s) => s.name)).toEqual([`${cluster.name}-compute-9`]);
    const used = (await listServers(demo)).length;
    const quota = (n: number) => admin.request("compute", "PUT", `/os-quota-sets/${cloud.demoProjectId}`, { body: { quota_set: { instances: n } } });
    await quota(used);
    try {
      run("resume", n1());
      expect(reasons()).toMatch(new RegExp(`${n1()}\\|resume failed: quota exceeded: .*[Qq]uota exceeded for instances`));
      // One try, one failure line (the agent's output reaches this process once its event loop runs).
      await waitFor(() => agentLog.join("").includes(`${n1()}: resume FAILED: quota exceeded`), { timeoutMs: 5_000, what: () => `the agent's failure line: ${agentLog.join("")}` });
      expect(agentLog.join("").match(new RegExp(`${n1()}: resume FAILED: quota exceeded`, "g"))?.length).toBe(1);
      // What the failed try made (its port) is gone with it.
      expect((await list<Port>(demo, "port", { name: cluster.computes[0]!.portName })).length).toBe(0);
    } finally {
      await quota(50);
    }
  }, 120_000);

  it("a server that never posts its host keys (never reachable: the fake driver boots nothing) is deleted after resumeTimeout, with the reason; its user-data carried a fresh nonce", async () => {
    // The agent as the head runs it (--after-machine ssh, the default), resumeTimeout 15 s; its host-key
    // listener on loopback (stand-in for the head's private address, which the URL still names).
    const cfg = JSON.parse(readFileSync(files.config, "utf8"));
    cfg.cluster.elastic.resumeTimeoutSeconds = 15;
    const sshFiles = { config: join(dir, "agent-ssh.json"), ssh: join(dir, "node-ssh-key"), munge: join(dir, "node-munge-key"), credential: join(dir, "credential-ssh.json") };
    writeFileSync(sshFiles.config, JSON.stringify(cfg));
    for (const f of [sshFiles.ssh, sshFiles.munge]) writeFileSync(f, "not used: the node never posts its key\n", { mode: 0o400 });
    writeFileSync(sshFiles.credential, JSON.stringify(head), { mode: 0o400 });
    const url = `http://127.0.0.1:${await freePort()}`;
    const out: string[] = [];
    const a = spawn(process.execPath, [join(REPO_ROOT, "scripts/run-ts.mjs"), join(REPO_ROOT, "scripts/elastic/openstack/agent-main.ts"),
      "--config", sshFiles.config, "--credential", sshFiles.credential, "--token", files.token, "--ssh-key", sshFiles.ssh, "--munge-key", sshFiles.munge,
      "--listen", url.replace("http://", ""), "--host-keys-listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
    for (const st of [a.stdout!, a.stderr!]) st.on("data", (b: Buffer) => out.push(b.toString()));
    try {
      const auth = { authorization: "Bearer agent-token-for-the-test" };
      await waitFor(async () => (await fetch(`${url}/health`, { headers: auth }).catch(() => undefined))?.ok, { timeoutMs: 60_000, intervalMs: 200, what: () => `the agent to answer: ${out.join("")}` });
      expect(out.join("")).toMatch(new RegExp(`host keys on ${cluster.head.privateIp}:\\d+`));
      const answer = fetch(`${url}/resume`, { method: "POST", headers: auth, body: `${n1()}\n`, signal: AbortSignal.timeout(120_000) }).then((r) => r.text());
      answer.catch(() => undefined); // awaited below; an early failure must not also be unhandled
      // While it waits: the server Nova holds has the on-demand user-data with this resume's nonce (the admin may read user-data).
      let userData = "";
      await waitFor(async () => {
        const s = (await mine()).find((x) => x.name === n1());
        if (!s) return false;
        userData = Buffer.from((await admin.request("compute", "GET", `/servers/${s.id}`, { microversion: "2.3" })).body.server["OS-EXT-SRV-ATTR:user_data"] ?? "", "base64").toString();
        return userData.length > 0;
      }, { timeoutMs: 60_000, what: () => `${n1()}'s server and its user-data: ${out.join("")}` });
      const phone = /url: "(http:\/\/[^"]+)"/.exec(userData.slice(userData.indexOf("phone_home:")))?.[1];
      // The head's address (as up recorded it) and the port the listener took (the model's 6821 on a head; any free one here).
      const keyPort = new RegExp(`host keys on ${cluster.head.privateIp}:(\\d+)`).exec(out.join(""))![1];
      expect(phone).toMatch(new RegExp(`^http://${cluster.head.privateIp}:${keyPort}/host-keys/[0-9a-f]{32}$`));
      expect(phone).not.toContain("0".repeat(32));
      expect(await answer).toMatch(new RegExp(`^${n1()} failed ${n1()}: its host keys were not posted to the power agent within \\d+ s `));
      // The server it made is deleted (a failed resume leaves nothing but what existed before).
      await waitFor(async () => !(await mine()).some((x) => x.name === n1()), { timeoutMs: 60_000, what: "the unreachable server to be deleted" });
      expect(out.join("")).toContain(`${n1()}: resume FAILED: ${n1()}: its host keys were not posted`);
    } finally {
      await new Promise((r) => { a.once("exit", r); a.kill("SIGTERM"); });
      // After a failure here, what the resume made must not skew the next cases.
      for (const x of (await mine()).filter((y) => y.name === n1())) await deleteServer(demo, x.id);
    }
  }, 240_000);

  it("an expired credential, then a revoked one: the resume fails with a clear reason on the node, and nothing is created", async () => {
    // A credential that expires 8 s from now (a cluster whose ttl is over), as the agent would hold it.
    const short = await createClusterCredential(demo, { ...cluster, expiresAt: new Date(Date.now() + 8_000).toISOString().replace(/\.\d+Z$/, "Z") });
    await startAgent(short.head);
    await waitFor(() => Date.now() > Date.parse(short.head.expiresAt!) + 1000, { timeoutMs: 20_000, what: "the credential to expire" });
    const before = (await mine()).length;
    run("resume", n1());
    expect(reasons()).toContain(`${n1()}|resume failed: the power agent's OpenStack credential expired at ${short.head.expiresAt}`);

    const fresh = await createClusterCredential(demo, cluster);
    // Revoked under a running agent: the services may accept its cached token for a while, so the head's agent restarts (as after a reboot).
    expect(await deleteClusterCredential(demo, cluster)).toEqual([fresh.record.id]);
    await startAgent(fresh.head);
    run("resume", n1());
    expect(reasons()).toMatch(new RegExp(`${n1()}\\|resume failed: the power agent's OpenStack credential was refused by Keystone \\(revoked or deleted\\?\\)`));
    expect((await mine()).length).toBe(before);
  }, 180_000);

  it("status shows the credential; down deletes it, then its sweep removes the tagged servers a failed resume left", async () => {
    await createClusterCredential(demo, cluster); // as a re-run of up would make
    expect((await mine()).map((s) => s.name)).toEqual([`${cluster.name}-compute-9`]);
    // The openstack target as the verbs call it: this cluster's state dir, the demo user's OS_* variables, no engine on PATH.
    const state = new ClusterState(cluster.name, join(root, "state"));
    state.identity(cluster.id, new Date(cluster.createdAt));
    let out = "";
    const sink = new Writable({ write(chunk, _e, cb) { out += chunk.toString(); cb(); } });
    const ctx = { cluster, state, env: { ...envOf(cloud.demo), PATH: "/usr/bin:/bin" }, cwd: root, progress: new Progress(sink, "plain"), args: { flags: {}, positional: [] } };
    const st = await openstackTarget.status(ctx);
    expect(st.text).toMatch(new RegExp(`power credential ${qualifiedName(cluster.name, cluster.id)}: roles member; expires ${cluster.expiresAt!.replace(/Z$/, "")}.*; \\d+ access rules`));
    expect(st.json.powerCredential).toContain("access rules");

    const r = await openstackTarget.delete(ctx);
    expect(out).toContain("Deleting the power agent's application credential");
    expect(r?.json?.deleted).toEqual(expect.arrayContaining([expect.objectContaining({ kind: "server", name: `${cluster.name}-compute-9` })]));
    expect(await mine()).toEqual([]);
    expect((await listApplicationCredentials(demo)).filter((a) => a.name === qualifiedName(cluster.name, cluster.id))).toEqual([]);
    expect(existsSync(state.dir)).toBe(false);
  }, 300_000);
});
