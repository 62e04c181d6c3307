/**
 * The OpenStack power agent's after-machine step (configure.ts → deployNode, the code the head
 * runs once a server is ACTIVE) against a real booted Debian node: the machines target's
 * systemd-nspawn node (systemd, sshd, cloud-init from a NoCloud seed) stands in for the VM's data
 * plane, which the loopback cloud (Nova fake driver) does not have. The head side is this process.
 *
 * Named stand-ins, for what only Nova has:
 *  - the server: `{ id, addresses }` as Nova would return it once ACTIVE (no Nova call is made);
 *  - the head's private address in the node's phone-home URL: the machines bridge's host address,
 *    where this process (the agent's side) serves the host-key inbox as the agent does on the head
 *    (host-keys.ts); the nonce, the post (cloud-init's own phone_home) and its checks are the agent's;
 *  - the network: the machines bridge subnet, given to the OpenStack model as its network's cidr, so
 *    the model's address of the node is the node's address; the node has no route out, so its
 *    user-data carries the machines apt proxy (the model's `downloads`, as for a machines cluster);
 *  - the shared folder: this kernel has no NFS client, so the model's shared folder is the machines
 *    target's host bind (no NFS mount unit in the node's files) instead of the head's NFS export;
 *  - the node's hardware: a container sees the host's CPUs and read-only cgroup controllers, so the
 *    flavor's CPU count is the host's and slurm.conf uses proctrack/linuxproc (as the machines target's).
 *  - the head: the host's slurmctld (same Debian release) with the head's rendered slurm.conf, in its
 *    own network, mount and UTS namespaces on the bridge at the head's address (startHead below).
 * Everything else is the OpenStack model's own: the on-demand node's user-data and files as `up`
 * renders them, carried through the agent's configuration (agentConfigOf, JSON as on the head).
 *
 * Needs root and the machines target's host packages; uses its cached image (built if missing, as test/targets/machines does).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveCluster, validateSpec, type Cluster, type ClusterNode } from "../../../stacks/model/index.js";
import { consoleLog, destroyMachines, imageReady, mirrorDir, provisionMachines, sweepMachines } from "../../../stacks/machines/index.js";
import type { Server as HttpServer } from "node:http";
import { agentConfigOf, type AgentConfig } from "../../../scripts/elastic/openstack/agent.js";
import { hostKeysFromConsole } from "../../../scripts/deploy/booted.js";
import { configureOverSsh } from "../../../scripts/elastic/openstack/configure.js";
import { HostKeyInbox, serveHostKeys, withPhoneHome, type HostKeyTicket } from "../../../scripts/elastic/openstack/host-keys.js";
import { renderCluster } from "../../../scripts/render/index.js";
import { missingHostPackages } from "../../../scripts/targets/machines/index.js";
import { SshPool, type SshHost } from "../../../scripts/ssh/index.js";
import { cli } from "../../harness/cli.js";
import { cloudSpec } from "../../harness/specs.js";
import { freePort } from "../../harness/ports.js";

const root = process.getuid?.() === 0;
const ready = root && missingHostPackages().length === 0;
const tag = randomBytes(2).toString("hex");
const name = `osm${tag}`;
const dir = mkdtempSync(join(tmpdir(), "uwsc-os-booted-"));

/** The machines cluster: only its bridge, apt proxy, image and node boot are used. */
const machines = resolveCluster(validateSpec({ name, target: "machines", head: { cpus: 1, memoryMb: 1024 }, compute: { count: 1, cpus: 1, memoryMb: 1024 }, jobserver: { auth: "tokens" } }));

/** The elastic OpenStack cluster whose on-demand node the agent configures; same name, so the same node names. */
function openstackCluster(o: { cgroups?: boolean } = {}): Cluster {
  // Stand-in: the node is a container on this host, so its hardware is the host's (slurmd refuses a
  // node whose configured CPUs differ from it); the flavor's size is the host's CPU count.
  const spec = cloudSpec(name, { ttl: "2h", cidr: machines.machines.subnet, cpus: cpus().length }) as Record<string, any>;
  spec.compute = { ...spec.compute, min: 0, max: 1, idle: "30s", resumeTimeout: "600s" };
  delete spec.compute.count;
  const c = resolveCluster(validateSpec(spec));
  // Stand-ins: this network has no route out, packages come through the machines proxy on the bridge;
  // this kernel has no NFS (../shared/notes/machines.md), the shared folder is the machines host bind.
  // The container's cgroup controllers are read-only: Slurm tracks processes by parentage, as on machines.
  return { ...c, downloads: machines.downloads, sharedFs: machines.sharedFs, slurm: { ...c.slurm, cgroups: o.cgroups ?? false } };
}
const cluster = openstackCluster();
const node = cluster.computes[0]!;
const apps = ["jq"]; // an application's Debian package, small and not in the image

const store = {
  readJson: <T>(f: string): T | undefined => (existsSync(join(dir, f)) ? JSON.parse(readFileSync(join(dir, f), "utf8")) as T : undefined),
  writeJson: (f: string, v: unknown) => writeFileSync(join(dir, f), JSON.stringify(v)),
};
/** The machines cluster as booted: one node, the OpenStack node's name and address. */
const booted: Cluster = { ...machines, nodes: [{ ...machines.computes[0]!, name: node.name, privateIp: node.privateIp } as ClusterNode] };

const mungeKey = randomBytes(1024);
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
let sshKey: Buffer;
let cfg: AgentConfig;
let bundles: ReturnType<typeof renderCluster>;
let inbox: HostKeyInbox;
let keyServer: HttpServer;
let ticket: HostKeyTicket;
/** The host key the node posted. */
let posted = "";
/** Stand-in ids of what the node boots from (no cloud here: the machines image is the image). */
const refs = { image: "stand-in-image", flavor: "stand-in-flavor", network: "stand-in-network", groups: [] };
const logs: string[] = [];
const headConf = () => String(bundles.find((b) => b.node.role === "head")!.files.find((f) => f.path === "/etc/slurm/slurm.conf")!.content);

/** What the agent runs for a server Nova reports ACTIVE: the head's after-machine step, with the host key `hostKey` gives it. */
function agentStep(hostKey: () => Promise<string>, config = cfg) {
  const step = configureOverSsh({
    cluster: config.cluster, bundles: config.bundles, packages: cfg.packages, secrets: new Map([["munge.key", mungeKey]]), sshKey,
    bootMs: 600_000, log: (s) => logs.push(s),
  });
  return (n: ClusterNode, s: never) => step(n, s, hostKey);
}
/** The node's instance id (its NoCloud seed's, as Nova's metadata gives a VM its server id). */
const instanceId = () => `${booted.id}-${node.name}`;
/** Stand-in for the ACTIVE server Nova returns: its id and its fixed address on the cluster's network. */
const server = () => ({ id: instanceId(), addresses: { [cluster.network.mode === "create" ? cluster.network.networkName : "net"]: [{ addr: node.privateIp!, "OS-EXT-IPS:type": "fixed" }] } }) as never;

/**
 * The head's slurmctld, real, with the head's rendered slurm.conf and the cluster's munge key: the
 * host's Slurm (same Debian release) in its own network namespace on the bridge at the head's model
 * address, with a private mount and UTS namespace (hostname = the head's name; /etc/slurm, /etc/munge,
 * /run and the Slurm folders its own). Stand-in: the power programs in /usr/local/sbin return at
 * once (the agent's part of a resume is what this test runs itself).
 */
const headNs = `uwsc-osh-${tag}`;
const headDir = join(dir, "head");
let headProc: ChildProcess | undefined;
const inHead = (argv: string[]) => execFileSync("nsenter", ["-t", String(headProc!.pid), "-m", "-n", "-u", ...argv], { encoding: "utf8", timeout: 30_000 });

function startHead(conf: string): void {
  const head = cluster.head;
  const slurm = { uid: Number(execFileSync("id", ["-u", "slurm"], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", "slurm"], { encoding: "utf8" })) };
  const munge = { uid: Number(execFileSync("id", ["-u", "munge"], { encoding: "utf8" })), gid: Number(execFileSync("id", ["-g", "munge"], { encoding: "utf8" })) };
  for (const d of ["etc-slurm", "etc-munge", "lib-slurm/slurmctld", "log-slurm", "sbin", "munge"]) mkdirSync(join(headDir, d), { recursive: true });
  chmodSync(dir, 0o711); // munged (as munge) reaches its seed file below it
  writeFileSync(join(headDir, "etc-slurm/slurm.conf"), conf);
  writeFileSync(join(headDir, "etc-munge/munge.key"), mungeKey, { mode: 0o400 });
  for (const f of ["etc-munge", "etc-munge/munge.key", "munge"]) chownSync(join(headDir, f), munge.uid, munge.gid);
  for (const f of ["lib-slurm", "lib-slurm/slurmctld", "log-slurm"]) chownSync(join(headDir, f), slurm.uid, slurm.gid);
  for (const p of ["resume", "suspend", "resume-fail", "prolog"]) writeFileSync(join(headDir, `sbin/uws-power-${p}`), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  const prefix = machines.machines.subnet.split("/")[1];
  const [hostEnd, nsEnd] = [`uoh${tag}`, `uon${tag}`];
  const ip = (...a: string[]) => execFileSync("ip", a, { encoding: "utf8" });
  ip("netns", "add", headNs);
  ip("link", "add", hostEnd, "type", "veth", "peer", "name", nsEnd);
  ip("link", "set", nsEnd, "netns", headNs);
  ip("link", "set", hostEnd, "master", machines.machines.bridge, "up");
  ip("-n", headNs, "addr", "add", `${head.privateIp}/${prefix}`, "dev", nsEnd);
  ip("-n", headNs, "link", "set", nsEnd, "up");
  ip("-n", headNs, "link", "set", "lo", "up");
  const d = headDir;
  const script = [
    "set -e", `hostname ${head.name}`, "mount -t tmpfs -o mode=0755 tmpfs /run", "mkdir -p /run/munge", `chown ${munge.uid}:${munge.gid} /run/munge`,
    `mount --bind ${d}/etc-slurm /etc/slurm`, `mount --bind ${d}/etc-munge /etc/munge`, `mount --bind ${d}/lib-slurm /var/lib/slurm`,
    `mount --bind ${d}/log-slurm /var/log/slurm`, `mount --bind ${d}/sbin /usr/local/sbin`,
    `setpriv --reuid=${munge.uid} --regid=${munge.gid} --clear-groups /usr/sbin/munged -F --seed-file=${d}/munge/seed --log-file=${d}/munge/munged.log &`,
    "for i in $(seq 100); do test -S /run/munge/munge.socket.2 && break; sleep 0.05; done",
    "exec /usr/sbin/slurmctld -D -i",
  ].join("\n");
  headProc = spawn("ip", ["netns", "exec", headNs, "unshare", "--mount", "--uts", "--propagation", "private", "sh", "-c", script], { detached: true, stdio: ["ignore", "ignore", "pipe"] });
  headProc.stderr!.on("data", (b) => logs.push(`head: ${b}`));
}

async function stopHead(): Promise<void> {
  if (headProc?.pid && headProc.exitCode === null) {
    const done = new Promise((r) => headProc!.once("exit", r));
    try { process.kill(-headProc.pid, "SIGTERM"); } catch { /* gone */ }
    await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
    try { process.kill(-headProc.pid, "SIGKILL"); } catch { /* gone */ }
  }
  try { execFileSync("ip", ["netns", "del", headNs], { stdio: "ignore" }); } catch { /* not made */ }
}

describe.skipIf(!ready && !process.env.CI)("the OpenStack agent configures a booted Debian node over SSH, as up does", () => {
  let pool: SshPool;
  let host: SshHost;

  beforeAll(async () => {
    if (!ready) throw new Error(`needs root and ${missingHostPackages().join(" ")}: bash scripts/setup.sh --test`);
    // The machines tests' cached image (built once into /var/cache/uws-cluster; a no-op when there).
    if (!imageReady(machines.machines.release)) {
      const r = await cli(["image", "build", "--target", "machines", "--json"], { ...process.env, UWS_CLUSTER_HOME: dir });
      expect(r.code, r.stderr).toBe(0);
    }
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", join(dir, "key")]);
    sshKey = readFileSync(join(dir, "key"));
    bundles = renderCluster(cluster);
    // As on the head: up writes the agent's configuration as JSON, the agent reads it back.
    cfg = JSON.parse(JSON.stringify(agentConfigOf(cluster, bundles, apps, { refs, headAddress: machines.machines.hostIp }))) as AgentConfig;
    expect(cfg.userData[node.name]).toContain("apt:\n  proxy:");
    // The agent's side of a resume: a nonce for this node, its URL in the server's copy of the user-data.
    // The bridge (and its address) exists once the node is provisioned; cloud-init posts at the end of the
    // node's first boot (and retries): the listener starts after provisioning, on a port chosen now.
    const keyPort = await freePort();
    inbox = new HostKeyInbox({ address: machines.machines.hostIp, port: () => keyPort, log: (s) => logs.push(s) });
    ticket = inbox.expect(node.name);
    ticket.bind(instanceId());
    const userData = withPhoneHome(cfg.userData[node.name]!, ticket.url, node.name);
    await provisionMachines(booted, { store, userData: { [node.name]: userData }, publicKey: readFileSync(join(dir, "key.pub"), "utf8"), mirror: mirrorDir(), step: (_t, fn) => fn() });
    keyServer = await serveHostKeys(inbox, { host: machines.machines.hostIp, port: keyPort, log: (s) => logs.push(s) });
    startHead(headConf());
  }, 1_800_000);

  afterAll(async () => {
    pool?.close();
    ticket?.close();
    keyServer?.close();
    await stopHead();
    await destroyMachines(store).catch(() => undefined);
    await sweepMachines(booted);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("at the end of its first boot the node posts its host keys (cloud-init phone_home, the nonce of its user-data) and the agent takes them", async () => {
    posted = await ticket.wait(900_000);
    // The key cloud-init also printed on the console: the node's own.
    expect(hostKeysFromConsole(consoleLog(booted, node.name))).toContain(posted);
    expect(logs.join("\n")).toContain(`host keys: ${node.name}: host key ssh-ed25519 received`);
    // The nonce is spent: a second post (a job on some node that learnt it later) is refused.
    const again = await fetch(ticket.url, { method: "POST", body: new URLSearchParams({ instance_id: instanceId(), pub_key_ed25519: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake" }) });
    expect(again.status).toBe(409);
  }, 900_000);

  it("a host key that is not the node's: the agent refuses to connect and pushes nothing", async () => {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "other")]);
    const forged = readFileSync(join(dir, "other.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
    await expect(agentStep(async () => forged)(node, server())).rejects.toThrow(/host key of .* does not match the recorded key: refusing to connect/);
    // Read with the node's real key (the one it posted): our munge key is not there.
    host = { name: node.name, host: node.privateIp!, hostKey: posted };
    pool = new SshPool({ user: "root", privateKey: sshKey, connectRetryMs: 120_000, readyTimeoutMs: 20_000 });
    const r = await pool.exec(host, "sha256sum /etc/munge/munge.key 2>/dev/null || true");
    expect(r.stdout).not.toContain(sha(mungeKey));
  }, 300_000);

  it("a node where slurmd cannot start (cgroup plugins on read-only controllers): the resume fails at once with slurmd's own error", async () => {
    const c = openstackCluster({ cgroups: true });
    const bad = JSON.parse(JSON.stringify(agentConfigOf(c, renderCluster(c), apps, { refs, headAddress: machines.machines.hostIp }))) as AgentConfig;
    await expect(agentStep(async () => posted, bad)(node, server()))
      .rejects.toThrow(new RegExp(`${node.name}: slurmd stopped right after its start: .*proctrack/cgroup`));
  }, 900_000);

  it("with the posted host key: cloud-init's verdict, then deployNode (files, munge key, packages, services); again on a configured node", async () => {
    const t0 = performance.now();
    await agentStep(async () => posted)(node, server());
    const ms = Math.round(performance.now() - t0);
    console.log(`configured ${node.name} in ${ms} ms (cloud-init had finished during the earlier cases), load ${readFileSync("/proc/loadavg", "utf8").trim()}`);
    expect(logs.join("\n")).toContain(`${node.name}: configured over SSH at ${node.privateIp}`);
  }, 900_000);

  it("the node is configured as up configures one: munge key 0400 munge, the head's slurm.conf, the package, munge and slurmd running", async () => {
    const stat = await pool.run(host, "stat -c '%a %U %G' /etc/munge/munge.key; sha256sum < /etc/munge/munge.key");
    expect(stat.split("\n")[0]).toBe("400 munge munge");
    expect(stat).toContain(sha(mungeKey));
    const headConf = bundles.find((b) => b.node.role === "head")!.files.find((f) => f.path === "/etc/slurm/slurm.conf")!;
    expect(await pool.run(host, "cat /etc/slurm/slurm.conf")).toBe(String(headConf.content));
    expect((await pool.run(host, "dpkg-query -W -f '${Status}' jq")).trim()).toBe("install ok installed");
    const journal = (await pool.exec(host, "journalctl -u slurmd --no-pager | tail -n 6; tail -n 15 /var/log/slurm/slurmd.log")).stdout;
    expect((await pool.exec(host, "systemctl is-active munge slurmd")).stdout.split("\n").filter(Boolean), journal).toEqual(["active", "active"]);
    // munged uses the pushed key: a credential made here decodes with it.
    expect(await pool.run(host, "munge -n | unmunge | grep STATUS")).toMatch(/Success/);
    // slurmd finds itself in the head's slurm.conf (its hostname is the node's NodeName).
    expect(await pool.run(host, "slurmd -C | head -1")).toMatch(new RegExp(`^NodeName=${node.name} `));
  }, 120_000);

  // Slurm's own POWER_UP is not asked for: slurmctld 22.05 then waits for a boot later than the request,
  // and a container's boot time is the host's (seen here: the node stayed POWERING_UP+NOT_RESPONDING).
  it("slurmd registers with the head's slurmctld (same munge key, same slurm.conf): idle, and a step runs on it", async () => {
    let state = "";
    for (let i = 0; i < 60 && state !== "idle"; i++) {
      state = inHead(["sinfo", "-h", "-N", "-n", node.name, "-o", "%T"]).trim();
      if (state !== "idle") await new Promise((r) => setTimeout(r, 1000));
    }
    const nodeSide = (await pool.exec(host, `tail -n 8 /var/log/slurm/slurmd.log; ping -c1 -W1 ${cluster.head.privateIp} | tail -n 2; scontrol ping 2>&1`)).stdout;
    expect(state, nodeSide + inHead(["scontrol", "show", "node", node.name]) + readFileSync(join(headDir, "log-slurm/slurmctld.log"), "utf8").slice(-3000)).toBe("idle");
    expect(inHead(["srun", "-N1", "-w", node.name, "--time=1", "hostname"]).trim()).toBe(node.name);
  }, 120_000);
});
