/**
 * How the OpenStack power agent learns a new server's host key: the one-time nonce written into
 * that server's user-data (cloud-init phone_home) and the listener that takes one post per nonce,
 * from the server it was given to. The rendered user-data is the real one `up` renders; the posts
 * go over real HTTP in cloud-init's form encoding. (A real node's cloud-init posting to it:
 * configure-booted.test.ts.)
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { resolveCluster, validateSpec, type Cluster } from "../../../stacks/model/index.js";
import { HostKeyInbox, postedHostKeys, serveHostKeys, withPhoneHome } from "../../../scripts/elastic/openstack/host-keys.js";
import { renderCluster } from "../../../scripts/render/index.js";
import { cloudSpec } from "../../harness/specs.js";

function elastic(o: { existingNetwork?: boolean } = {}): Cluster {
  const spec = cloudSpec("hk", { ttl: "2h" }) as Record<string, any>;
  spec.compute = { ...spec.compute, min: 1, max: 3, resumeTimeout: "300s" };
  delete spec.compute.count;
  if (o.existingNetwork) spec.network = { existing: { network: "private", subnet: "private-subnet" } };
  return resolveCluster(validateSpec(spec));
}

const ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG0vnYKp8cAcK0e7dUkBM4HnZ4yJ0g5gJtBf2oQJx1Vb";
const RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7";

describe("the on-demand user-data", () => {
  const c = elastic();
  const bundles = renderCluster(c);
  const ud = (name: string) => bundles.find((b) => b.node.name === name)!.userData;

  it("only on-demand nodes phone home, to the head's private address and the model's port, with a zero nonce until the agent sets one", () => {
    const [always, onDemand] = [c.computes[0]!, c.computes[1]!];
    expect(always.power).toBe("always");
    expect(parseYaml(ud(always.name)).phone_home).toBeUndefined();
    expect(parseYaml(ud(c.head.name)).phone_home).toBeUndefined();
    const ph = parseYaml(ud(onDemand.name)).phone_home;
    expect(ph).toEqual({ url: `http://${c.head.privateIp}:${c.elastic!.hostKeyPort}/host-keys/${"0".repeat(32)}`, post: ["pub_key_ed25519", "pub_key_ecdsa", "pub_key_rsa", "instance_id"], tries: 99 });
    // On an existing network the head's address is the cloud's: the agent writes it at each resume.
    const e = elastic({ existingNetwork: true });
    expect(parseYaml(renderCluster(e).find((b) => b.node.name === e.computes[1]!.name)!.userData).phone_home.url).toMatch(/^http:\/\/255\.255\.255\.255:6821\//);
  });

  it("the agent's copy differs only in the URL, keeps the #cloud-config header and every file byte for byte, and keeps the size", () => {
    const text = ud(c.computes[1]!.name);
    const url = `http://10.20.0.57:6821/host-keys/${"ab".repeat(16)}`;
    const out = withPhoneHome(text, url, c.computes[1]!.name);
    expect(out.startsWith("#cloud-config\n")).toBe(true);
    const [a, b] = [parseYaml(text), parseYaml(out)];
    expect(b.phone_home.url).toBe(url);
    expect({ ...b, phone_home: null }).toEqual({ ...a, phone_home: null });
    expect(Math.abs(out.length - text.length)).toBeLessThan(64);
  });

  it("user-data without phone_home (an older up) is refused with what to do", () => {
    expect(() => withPhoneHome(ud(c.head.name), "http://x/host-keys/0", c.head.name)).toThrow(/has no phone_home url: .*run `uws-cluster up` again/);
  });
});

describe("the host-key listener", () => {
  const logs: string[] = [];
  let server: Server;
  let inbox: HostKeyInbox;
  const post = (url: string, fields: Record<string, string>) => fetch(url, { method: "POST", body: new URLSearchParams(fields) });
  beforeAll(async () => {
    inbox = new HostKeyInbox({ address: "127.0.0.1", port: () => (server.address() as AddressInfo).port, log: (s) => logs.push(s) });
    server = await serveHostKeys(inbox, { host: "127.0.0.1", port: 0, log: (s) => logs.push(s) });
  });
  afterAll(() => { server.close(); });

  it("takes the post of the server it was given to, once, and prefers ed25519", async () => {
    const t = inbox.expect("n-1");
    expect(t.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/host-keys\/[0-9a-f]{32}$/);
    t.bind("server-1");
    const waiting = t.wait(10_000);
    expect((await post(t.url, { pub_key_rsa: `${RSA} root@n-1\n`, pub_key_ed25519: `${ED} root@n-1\n`, pub_key_ecdsa: "N/A", instance_id: "server-1" })).status).toBe(204);
    expect(await waiting).toBe(ED);
    expect((await post(t.url, { pub_key_ed25519: RSA, instance_id: "server-1" })).status).toBe(409);
    expect(await t.wait(1)).toBe(ED);
    t.close();
    expect((await post(t.url, { pub_key_ed25519: ED, instance_id: "server-1" })).status).toBe(404);
  });

  it("refuses a post from another instance, before the server exists, without a key, or to an unknown nonce; the right post still counts after", async () => {
    const t = inbox.expect("n-2");
    expect((await post(t.url, { pub_key_ed25519: ED, instance_id: "x" })).status).toBe(403); // not created yet
    t.bind("server-2");
    expect((await post(t.url, { pub_key_ed25519: ED, instance_id: "server-9" })).status).toBe(403);
    expect((await post(t.url, { pub_key_ed25519: "not a key; rm -rf /", instance_id: "server-2" })).status).toBe(400);
    expect((await post(t.url.replace(/[0-9a-f]{32}$/, "f".repeat(32)), { pub_key_ed25519: ED, instance_id: "server-2" })).status).toBe(404);
    expect((await fetch(t.url)).status).toBe(404); // GET
    expect((await post(t.url, { pub_key_ed25519: ED, instance_id: "server-2" })).status).toBe(204);
    expect(await t.wait(1000)).toBe(ED);
    t.close();
    // The log names the node and the reason, never the nonce.
    expect(logs.join("\n")).toMatch(/refused \(403\) n-2: posted by instance "server-9", not server server-2/);
    expect(logs.join("\n")).not.toContain(t.nonce);
  });

  it("a node that never posts: the wait ends with the reason and where it should have posted", async () => {
    const t = inbox.expect("n-3");
    await expect(t.wait(300)).rejects.toThrow(/n-3: its host keys were not posted to the power agent within 0 s .*phone_home.*127\.0\.0\.1:\d+/);
    t.close();
  });

  it("parses cloud-init's fields only as keys (type and base64)", () => {
    expect(postedHostKeys(new URLSearchParams({ pub_key_ecdsa: "ecdsa-sha2-nistp256 AAAAE2VjZHNh root@x", pub_key_rsa: `${RSA}` }))).toEqual(["ecdsa-sha2-nistp256 AAAAE2VjZHNh", RSA]);
    expect(postedHostKeys(new URLSearchParams({ pub_key_ed25519: "ssh-ed25519 AAAA$(reboot)" }))).toEqual([]);
  });
});
