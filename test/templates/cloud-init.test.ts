import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { renderCluster } from "../../scripts/render/index.js";
import { aaiDns, ALL_SPECS, assigned, existingNet, example } from "../harness/specs.js";
import { tempDir } from "../harness/files.js";
import { cloudInitSchema } from "./tools.js";

const dir = tempDir("cloudinit");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("cloud-init user-data (checked by the real `cloud-init schema`)", () => {
  it("every node's user-data of every spec passes cloud-init schema", async () => {
    const files: string[] = [];
    for (const [label, make] of ALL_SPECS) {
      for (const b of renderCluster(make())) {
        const f = join(dir, `${label.replace(/\W+/g, "_")}-${b.node.name}.yaml`);
        writeFileSync(f, b.userData);
        files.push(f);
      }
    }
    const results = await Promise.all(files.map(async (f) => ({ f, r: await cloudInitSchema(f) })));
    for (const { f, r } of results) expect(r.ok, `${f}: ${r.output}`).toBe(true);
    expect(files.length).toBeGreaterThanOrEqual(12);
  });

  it("the validator really rejects a broken document (so the check above can fail)", async () => {
    const ud = renderCluster(example("openstack"))[0]!.userData.replace("packages:\n", "packages: 5\nignored:\n");
    const f = join(dir, "broken.yaml");
    writeFileSync(f, ud);
    const r = await cloudInitSchema(f);
    expect(r.ok).toBe(false);
    expect(r.output).toContain("packages");
  });

  it("head and compute get their packages, the uws user and the setup script; every file is deferred but slurmd's start condition", () => {
    const [head, compute] = renderCluster(example("openstack"));
    const h = parseYaml(head!.userData);
    const c = parseYaml(compute!.userData);
    expect(h.packages).toEqual(expect.arrayContaining(["munge", "slurmctld", "nfs-kernel-server", "nginx", "curl", "xz-utils"]));
    expect(h.packages).not.toContain("certbot");
    expect(parseYaml(renderCluster(aaiDns())[0]!.userData).packages).toContain("certbot");
    expect(c.packages).toEqual(expect.arrayContaining(["munge", "slurmd", "nfs-common"]));
    expect(c.packages).not.toContain("slurmctld");
    for (const d of [h, c]) {
      expect(d.bootcmd[0]).toContain("groupadd --system --gid 900 uws");
      expect(d.bootcmd[0]).toContain("useradd --system --uid 900 --gid 900");
      expect(d.manage_etc_hosts).toBe(false);
      expect(d.runcmd).toEqual([["/usr/local/sbin/uws-node-setup"]]);
      // Every file after the packages, but the drop-in that keeps slurmd from starting before its slurm.conf exists.
      expect(d.write_files.filter((w: { defer?: boolean }) => w.defer !== true).map((w: { path: string }) => w.path))
        .toEqual(d === c ? ["/etc/systemd/system/slurmd.service.d/uws-cluster.conf"] : []);
    }
    expect(c.write_files[0].content).toBe("[Unit]\nConditionPathExists=/etc/slurm/slurm.conf\n");
    const setup = h.write_files.find((w: { path: string }) => w.path === "/usr/local/sbin/uws-node-setup").content as string;
    expect(setup).toMatch(/^#!\/bin\/sh\n/);
    for (const step of ["uws-shared-setup", "uws-install-node", "uws-tls-setup", "systemctl enable slurmctld", "systemctl enable munge"]) expect(setup).toContain(step);
  });

  it("every cloud file of a node is in its user-data byte for byte, secrets never", () => {
    for (const b of renderCluster(example("openstack"))) {
      const doc = parseYaml(b.userData);
      const written = new Map<string, string>(doc.write_files.map((w: { path: string; content: string }) => [w.path, w.content]));
      for (const f of b.files.filter((x) => x.targets.includes("openstack"))) {
        if (f.secret) expect(written.has(f.path), f.path).toBe(false);
        else expect(written.get(f.path), f.path).toBe(f.content);
      }
    }
  });

  it("on an existing network, address lists stay out of user-data and user-data does not change after apply", () => {
    const c = existingNet();
    const before = renderCluster(c);
    const after = renderCluster(c, { addresses: assigned(c), headPublicIp: "198.51.100.7" });
    for (let i = 0; i < before.length; i++) {
      expect(after[i]!.userData).toBe(before[i]!.userData);
      const paths = parseYaml(before[i]!.userData).write_files.map((w: { path: string }) => w.path);
      expect(paths).not.toContain("/etc/hosts");
      expect(paths).not.toContain("/etc/slurm/slurm.conf");
      expect(paths).not.toContain("/etc/exports");
    }
  });
});
