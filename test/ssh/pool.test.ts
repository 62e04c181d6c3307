// The shared SSH module against real sshd on local nodes: host keys verified, exec, SFTP push with
// mode and owner, bounded parallelism, and the secrets store. Needs root (namespaces).
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateEd25519 } from "../../scripts/ssh/keys.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveCluster, validateSpec, type Cluster } from "../../stacks/model/index.js";
import { localSpec } from "../harness/specs.js";
import { destroyLocal, LocalTarget, type ProvisionedNode } from "../../stacks/local/index.js";
import { ensureSecrets, ensureSshKey, readSecret } from "../../scripts/secrets/index.js";
import { openTunnel, shq, SshPool, type SshHost } from "../../scripts/ssh/index.js";
import { ClusterState } from "../../scripts/state/store.js";
import { waitFor } from "../harness/wait.js";

const home = mkdtempSync(join(tmpdir(), "uwsc-ssh-"));

describe("ssh pool and secrets on local nodes", () => {
  const spec = validateSpec(localSpec("ssh-t"));
  const state = new ClusterState(spec.name, home);
  const cluster: Cluster = resolveCluster(spec, state.identity());
  let nodes: ProvisionedNode[] = [];
  let hosts: SshHost[] = [];
  let pool: SshPool;
  beforeAll(async () => {
    const key = ensureSshKey(state);
    nodes = await new LocalTarget(cluster, { stateDir: state.dir, store: state }).provision(key.publicKey, Object.fromEntries(cluster.nodes.map((n) => [n.name, generateEd25519()])));
    hosts = nodes.map((n) => ({ name: n.node.name, host: n.address, hostKey: n.hostKey }));
    pool = new SshPool({ user: "root", privateKey: key.privateKey, connectRetryMs: 5000, concurrency: 2 });
  });
  afterAll(async () => {
    pool?.close();
    await destroyLocal(state);
    rmSync(home, { recursive: true, force: true });
  });

  it("runs commands on every node, each in its own namespace", async () => {
    const names = await pool.forEach(hosts, (h) => pool.run(h, ["hostname"]));
    expect(names.map((s) => s.trim())).toEqual(cluster.nodes.map((n) => n.name));
    const r = await pool.exec(hosts[0]!, "echo out; echo err >&2; exit 3");
    expect(r).toMatchObject({ code: 3, stdout: "out\n", stderr: "err\n" });
    await expect(pool.run(hosts[0]!, ["false"])).rejects.toThrow(/ssh-t-head: `false` exited 1/);
  });

  it("refuses a node whose host key is not the recorded one", async () => {
    const other = generateEd25519().public;
    const p2 = new SshPool({ user: "root", privateKey: ensureSshKey(state).privateKey, connectRetryMs: 0 });
    await expect(p2.run({ ...hosts[1]!, hostKey: other }, "true")).rejects.toThrow(/host key of .* does not match the recorded key/);
    p2.close();
  });

  it("pushes files with mode and owner, replacing existing ones whole", async () => {
    const big = Buffer.alloc(1 << 20, 7);
    await pool.forEach(hosts, (h) => pool.push(h, [
      { path: "/etc/uws-probe/a.conf", content: "a=1\n", mode: "0640", owner: "root:munge" },
      { path: "/etc/uws-probe/big.bin", content: big, mode: "0600", owner: "munge:munge" },
    ]));
    await pool.push(hosts[0]!, [{ path: "/etc/uws-probe/a.conf", content: "a=2\n", mode: "0644", owner: "root:root" }]);
    const out = await pool.run(hosts[0]!, "stat -c '%a %U:%G %s' /etc/uws-probe/a.conf /etc/uws-probe/big.bin; cat /etc/uws-probe/a.conf; sha256sum < /etc/uws-probe/big.bin; ls /etc/uws-probe");
    expect(out.split("\n").slice(0, 3)).toEqual(["644 root:root 4", `600 munge:munge ${1 << 20}`, "a=2"]);
    expect(out).toContain(sha256(big));
    expect(out.trim().split("\n").slice(-2)).toEqual(["a.conf", "big.bin"]); // no temporary file left
    expect((await pool.run(hosts[1]!, "stat -c '%a %U:%G' /etc/uws-probe/a.conf")).trim()).toBe("640 root:munge");
  });

  it("reaches compute nodes through the head as a jump host, host keys verified on both (the cloud path)", async () => {
    const key = ensureSshKey(state);
    const viaHead = new SshPool({ user: "root", privateKey: key.privateKey, jump: hosts[0]!, connectRetryMs: 5000 });
    try {
      expect((await viaHead.run(hosts[1]!, ["hostname"])).trim()).toBe(cluster.nodes[1]!.name);
      // the compute node sees the connection coming from the head, not from this machine
      expect((await viaHead.run(hosts[1]!, "echo ${SSH_CLIENT%% *}")).trim()).toBe(hosts[0]!.host);
      const other = generateEd25519().public;
      await expect(viaHead.run({ ...hosts[2]!, hostKey: other }, "true")).rejects.toThrow(/does not match the recorded key/);
    } finally {
      viaHead.close();
    }
  });

  it("tunnels HTTP to a port on the node's loopback (how up reaches the cloud job server)", async () => {
    // A one-line HTTP server inside the head, bound to its loopback only: unreachable from here without the tunnel.
    const server = "require('http').createServer((q,r)=>r.end('hello from '+require('os').hostname())).listen(18080,'127.0.0.1')";
    const pid = (await pool.run(hosts[0]!, `nohup ${shq(process.execPath)} -e ${shq(server)} </dev/null >/dev/null 2>&1 & echo $!`, { timeoutMs: 10_000 })).trim();
    const tunnel = await openTunnel(pool, hosts[0]!, 18080);
    try {
      // The server may still be starting: retry, each attempt bounded.
      const body = await waitFor(() => fetch(tunnel.url, { signal: AbortSignal.timeout(3000) }).then((r) => r.text(), () => ""),
        { timeoutMs: 20_000, intervalMs: 100, what: "the node's HTTP server to answer through the tunnel" });
      expect(body).toBe(`hello from ${cluster.head.name}`);
      await expect(fetch(`http://${hosts[0]!.host}:18080`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    } finally {
      await tunnel.close();
      await pool.run(hosts[0]!, ["kill", pid]);
    }
  });

  it("generates secrets once, stores them 0600 and keeps them across calls", () => {
    const a = ensureSecrets(cluster, state);
    const b = ensureSecrets(cluster, state);
    expect(a.get("munge.key")!.length).toBe(1024);
    expect(a.get("munge.key")!.equals(b.get("munge.key")!)).toBe(true);
    expect(readSecret(state, "jobserver.admin-token")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(state.path("secrets/munge.key")).mode & 0o777).toBe(0o600);
    expect(statSync(state.path("ssh/id_ed25519")).mode & 0o777).toBe(0o600);
    expect(statSync(state.dir).mode & 0o777).toBe(0o700);
  });
});

function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}
