// Step 1 of the local target: nodes as namespaces (holders, private mounts, sshd) and a down that
// leaves nothing, also after a failure half-way. Real namespaces, mounts and processes; needs root.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { connect } from "node:net";
import { join } from "node:path";
import { generateEd25519 } from "../../scripts/ssh/keys.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveCluster, validateSpec, type Cluster } from "../../stacks/model/index.js";
import { localSpec } from "../harness/specs.js";
import { destroyLocal, LocalTarget, sweepLocal } from "../../stacks/local/index.js";
import { ClusterState } from "../../scripts/state/store.js";
import { leftovers, namespaceIds, NOTHING } from "../harness/leftovers.js";

const home = mkdtempSync(join(tmpdir(), "uwsc-nodes-"));
const key = generateEd25519();

function cluster(name: string): { cluster: Cluster; state: ClusterState } {
  const spec = validateSpec(localSpec(name));
  const state = new ClusterState(name, home);
  return { cluster: resolveCluster(spec, state.identity()), state };
}

/** Host keys as the deploy side makes them, one per node. */
function hostKeysFor(c: Cluster) {
  return Object.fromEntries(c.nodes.map((n) => [n.name, generateEd25519()]));
}

function inNode(t: LocalTarget, node: string, cmd: string): string {
  return execFileSync("nsenter", ["-t", String(t.holder(node)!.pid), "--net", "--uts", "--mount", "--", "bash", "-c", cmd], { encoding: "utf8" });
}

describe("local nodes", () => {
  const a = cluster("nodes-a");
  let target: LocalTarget;
  let ns: string[] = [];
  beforeAll(async () => {
    target = new LocalTarget(a.cluster, { stateDir: a.state.dir, store: a.state });
    await target.provision(key.public, hostKeysFor(a.cluster));
    ns = namespaceIds(a.cluster);
  });
  afterAll(async () => {
    await destroyLocal(a.state);
    rmSync(home, { recursive: true, force: true });
  });

  it("gives each node its hostname, address, private /etc, /root and /run", () => {
    const head = a.cluster.head.name;
    expect(inNode(target, head, "hostname").trim()).toBe(head);
    expect(inNode(target, head, "ip -o -4 addr show dev eth0")).toContain(`${a.cluster.head.privateIp}/24`);
    // A file written to /etc in the node stays in the node: the host and the other nodes don't see it.
    inNode(target, head, "echo private > /etc/uws-node-probe");
    expect(() => readFileSync("/etc/uws-node-probe")).toThrow();
    expect(inNode(target, a.cluster.computes[0]!.name, "cat /etc/uws-node-probe 2>&1 || true")).toMatch(/No such file/);
    expect(inNode(target, head, "cat /root/.ssh/authorized_keys")).toContain(key.public.split(" ")[1]);
    expect(inNode(target, head, "stat -c %U /run/munge")).toBe("munge\n");
    expect(inNode(target, head, "ls /sys/fs/cgroup")).not.toBe("");
  });

  it("nodes reach each other on the bridge and the host reaches them at their IPs", async () => {
    const c1 = a.cluster.computes[0]!;
    // Bounded retry: a node's sshd may still be binding its port when provisioning returns.
    const probe = `for i in $(seq 50); do exec 3<>/dev/tcp/${c1.privateIp}/22 2>/dev/null && break; sleep 0.05; done; head -c 7 <&3`;
    expect(inNode(target, a.cluster.head.name, probe)).toBe("SSH-2.0");
    const banner = await new Promise<string>((resolve, reject) => {
      const s = connect(22, a.cluster.head.privateIp!);
      s.once("data", (b) => { resolve(b.toString().slice(0, 7)); s.destroy(); }).once("error", reject);
    });
    expect(banner).toBe("SSH-2.0");
    // No route out: the nodes have only their subnet.
    expect(inNode(target, c1.name, "ip route")).toBe(`${a.cluster.local.subnet} dev eth0 proto kernel scope link src ${c1.privateIp} \n`);
  });

  it("down removes namespaces, links, mounts, processes and the shared folder; and again is a no-op", async () => {
    expect(ns).toHaveLength(3);
    expect(leftovers(a.cluster, a.state.dir, ns).netns).toHaveLength(3);
    await destroyLocal(a.state);
    rmSync(a.state.dir, { recursive: true, force: true });
    expect(leftovers(a.cluster, a.state.dir, ns)).toEqual(NOTHING);
    expect(await destroyLocal(a.state)).toEqual({ removed: false });
  });

  it("down after provisioning failed half-way leaves nothing", async () => {
    const b = cluster("nodes-b");
    const t = new LocalTarget(b.cluster, { stateDir: b.state.dir, store: b.state });
    let n = 0;
    await expect(t.provision(key.public, hostKeysFor(b.cluster), async (title, fn) => {
      if (++n === 2) { await fn(); throw new Error(`injected failure after "${title}"`); }
      return fn();
    })).rejects.toThrow(/injected failure/);
    const ids = namespaceIds(b.cluster);
    expect(ids).toHaveLength(3);
    await destroyLocal(b.state);
    rmSync(b.state.dir, { recursive: true, force: true });
    expect(leftovers(b.cluster, b.state.dir, ids)).toEqual(NOTHING);
  });

  it("a cluster whose state dir was lost is still removed, found by its names", async () => {
    const c = cluster("nodes-c");
    await new LocalTarget(c.cluster, { stateDir: c.state.dir, store: c.state }).provision(key.public, hostKeysFor(c.cluster));
    const ids = namespaceIds(c.cluster);
    rmSync(c.state.dir, { recursive: true, force: true });
    const r = await sweepLocal(c.cluster);
    expect(r.removed.length).toBeGreaterThanOrEqual(6); // 3 namespaces, 3 veths, the shared folder
    expect(leftovers(c.cluster, c.state.dir, ids)).toEqual(NOTHING);
  });
});
