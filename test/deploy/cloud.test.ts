// Pure parts of the cloud target's after-apply path (the rest needs a booting VM, which the test
// cloud's fake driver cannot give: it is covered on the local target, which shares the pipeline).
import { describe, expect, it } from "vitest";
import { resolveCluster, validateSpec } from "../../stacks/model/index.js";
import { publicUrl, systemdStart } from "../../scripts/deploy/cloud.js";
import { hostKeysFromConsole } from "../../scripts/openstack/console.js";
import { openstackSpec } from "../helpers/specs.js";

const ED = "AAAAC3NzaC1lZDI1NTE5AAAAIJ4b3SquuZ4rc1WNPAR8ysZsEdXbkqLVv0vY8HqTG9m1";
const console_ = `[    5.1] cloud-init[431]: Cloud-init v. 22.4.2 running 'modules:config'
ci-info: no authorized SSH keys fingerprints found for user debian.
<14>Nov 24 18:00:01 cloud-init: #############################################################
-----BEGIN SSH HOST KEY KEYS-----
ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOx root@eosc-demo-head
ssh-ed25519 ${ED} root@eosc-demo-head
ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQC7 root@eosc-demo-head
-----END SSH HOST KEY KEYS-----
[   12.0] cloud-init[520]: Cloud-init v. 22.4.2 finished`;

describe("host keys from the console log", () => {
  it("prefers the ed25519 key and drops the comment", () => {
    expect(hostKeysFromConsole(console_)[0]).toBe(`ssh-ed25519 ${ED}`);
    expect(hostKeysFromConsole(console_)).toHaveLength(3);
  });
  it("is empty until cloud-init has printed the block (and for a half-printed block)", () => {
    expect(hostKeysFromConsole("booting...")).toEqual([]);
    expect(hostKeysFromConsole(console_.slice(0, console_.indexOf("-----END")))).toEqual([]);
  });
  it("takes the last block when the console holds several boots", () => {
    const second = console_.replace(ED, ED.replace(/1$/, "2"));
    expect(hostKeysFromConsole(console_ + "\nreboot\n" + second)[0]).toBe(`ssh-ed25519 ${ED.replace(/1$/, "2")}`);
  });
});

describe("service start on VMs", () => {
  const cluster = resolveCluster(validateSpec(openstackSpec()), { id: "0123456789ab" });
  it("starts the units the deploy steps name, and exports the shared folder before slurmctld", () => {
    const head = systemdStart(cluster.head, ["slurmctld"]);
    expect(head.indexOf("exportfs -ra")).toBeLessThan(head.indexOf("systemctl restart slurmctld"));
    expect(systemdStart(cluster.computes[0]!, ["slurmd"])).toContain("systemctl restart slurmd");
    expect(systemdStart(cluster.head, ["uws-server"])).toMatch(/restart uws-server[\s\S]*reload-or-restart nginx/);
    expect(systemdStart(cluster.head, ["munge"])).toContain("systemctl restart munge");
  });
  it("the public URL is the DNS name when configured, else https on the floating IP", () => {
    expect(publicUrl(cluster, "198.51.100.7")).toBe("https://198.51.100.7");
    const named = resolveCluster(validateSpec(openstackSpec({ dns: { name: "jobs.example.org", email: "a@example.org" } })));
    expect(publicUrl(named, "198.51.100.7")).toBe("https://jobs.example.org");
  });
});

describe("user-data lets up connect the way it does", () => {
  it("allows key-only root logins and prints the host keys to the console on every node", async () => {
    const { parse } = await import("yaml");
    const { renderCluster } = await import("../../scripts/render/index.js");
    const cluster = resolveCluster(validateSpec(openstackSpec()), { id: "0123456789ab" });
    for (const b of renderCluster(cluster)) {
      const doc = parse(b.userData);
      expect(doc.disable_root, b.node.name).toBe(false);
      expect(doc.ssh, b.node.name).toEqual({ emit_keys_to_console: true });
    }
  });
});
