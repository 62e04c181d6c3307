// Pure parts of the cloud target's after-apply path (the rest needs a booting VM, which the test
// cloud's fake driver cannot give: it is covered on the local target, which shares the pipeline).
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { resolveCluster, SERVICE_STAGES, serviceNamed, servicesFor, validateSpec } from "../../stacks/model/index.js";
import { bundleFiles, cloudInitVerdict, jobServerInstallCommand, REMOTE_BUNDLE_DIR, systemdStart } from "../../scripts/deploy/vm.js";
import { publicUrl } from "../../scripts/targets/openstack/index.js";
import { renderCluster } from "../../scripts/render/index.js";
import { JOBSERVER_FILES } from "../../scripts/render/paths.js";
import { hostKeysFromConsole } from "../../scripts/deploy/booted.js";
import { openstackSpec } from "../harness/specs.js";

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

describe("service start on VMs (the service table)", () => {
  const cluster = resolveCluster(validateSpec(openstackSpec()), { id: "0123456789ab" });
  const all = (role: "head" | "compute") => systemdStart(SERVICE_STAGES.flatMap(({ stage }) => servicesFor(stage, role)));
  it("starts the units the deploy steps name, and exports the shared folder before slurmctld", () => {
    const head = systemdStart([serviceNamed("slurmctld")]);
    expect(head.indexOf("exportfs -ra")).toBeLessThan(head.indexOf("systemctl restart slurmctld"));
    expect(systemdStart([serviceNamed("slurmd")])).toContain("systemctl restart slurmd");
    expect(systemdStart([serviceNamed("uws-server")])).toMatch(/restart uws-server[\s\S]*reload-or-restart nginx/);
    expect(systemdStart([serviceNamed("munge")])).toContain("systemctl restart munge");
  });
  it("each role starts its services in dependency order: ssh, munge, Slurm, the job server", () => {
    expect(all("head")).toMatch(/try-reload-or-restart ssh[\s\S]*restart munge[\s\S]*exportfs -ra[\s\S]*restart slurmctld[\s\S]*restart uws-server[\s\S]*nginx/);
    expect(all("compute")).toMatch(/try-reload-or-restart ssh[\s\S]*restart munge[\s\S]*restart slurmd/);
    expect(all("compute")).not.toMatch(/slurmctld|uws-server|exportfs/);
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

describe("cloud-init's verdict", () => {
  it("exit 2 (cloud-init >= 23.4: done with recoverable errors, e.g. a warning) is not a failed boot; 1 and no exit code are", () => {
    expect(cloudInitVerdict(0)).toBe("done");
    expect(cloudInitVerdict(2)).toBe("degraded");
    expect(cloudInitVerdict(1)).toBe("failed");
    expect(cloudInitVerdict(null)).toBe("failed");
  });
});

describe("installing the job server on the head", () => {
  // sshd gives a root exec this fixed PATH (Debian's --with-superuser-path) and no login profile.
  const SSHD_ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

  it("runs npm from the Node.js install-node.sh unpacks, which is not on a root SSH exec's PATH", () => {
    const cluster = resolveCluster(validateSpec(openstackSpec()), { id: "0123456789ab" });
    const head = renderCluster(cluster)[0]!;
    const installNode = String(head.files.find((f) => f.path === JOBSERVER_FILES.installNode)!.content);
    // install-node.sh unpacks the release tarball (bin/node, bin/npm) into nodeHome and links only node.
    expect(installNode).toContain(`-C ${JOBSERVER_FILES.nodeHome} --strip-components=1`);
    expect(installNode).toContain(`ln -sf ${JOBSERVER_FILES.nodeHome}/bin/node ${JOBSERVER_FILES.nodeBin}`);
    expect(SSHD_ROOT_PATH.split(":")).not.toContain(`${JOBSERVER_FILES.nodeHome}/bin`);
    const cmd = jobServerInstallCommand();
    expect(cmd).toContain(`${JOBSERVER_FILES.nodeHome}/bin/npm install --omit=dev`);
    expect(cmd).toMatch(new RegExp(`^cd ${REMOTE_BUNDLE_DIR} && `));
  });

  it("the command works with no npm or node on PATH (this machine's real node and npm laid out like the release tarball)", () => {
    const t = mkdtempSync(join(tmpdir(), "uwsc-npm-"));
    try {
      const nodeHome = join(t, "node");
      mkdirSync(join(nodeHome, "bin"), { recursive: true });
      symlinkSync(process.execPath, join(nodeHome, "bin/node"));
      // The tarball's bin/npm is a symlink to lib/node_modules/npm/bin/npm-cli.js, as here.
      const npmCli = realpathSync(spawnSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).stdout.trim());
      symlinkSync(npmCli, join(nodeHome, "bin/npm"));
      const pkg = join(t, "opt uws-server");
      mkdirSync(pkg);
      writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "t", version: "1.0.0", private: true, dependencies: {} }));
      mkdirSync(join(t, "empty"));
      const run = (command: string) => spawnSync("/bin/sh", ["-c", command], { env: { HOME: t, PATH: join(t, "empty") }, encoding: "utf8", timeout: 60_000 });
      const r = run(jobServerInstallCommand(pkg, nodeHome));
      expect(r.status, r.stderr).toBe(0);
      expect(readdirSync(pkg)).toContain("package-lock.json");
      // What up ran before: a bare `npm`, not found (exit 127) on such a PATH.
      expect(run(`cd '${pkg}' && npm install --omit=dev`).status).toBe(127);
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });

  it("job helper scripts keep their executable bit (they are copied into work dirs and run on compute nodes)", () => {
    const t = mkdtempSync(join(tmpdir(), "uwsc-bundle-"));
    try {
      mkdirSync(join(t, "definitions"));
      const defs = "runtime/definitions";
      for (const f of readdirSync(defs)) {
        writeFileSync(join(t, "definitions", f), readFileSync(join(defs, f)));
        chmodSync(join(t, "definitions", f), f.endsWith(".sh") ? 0o755 : 0o644);
      }
      writeFileSync(join(t, "uws-server.mjs"), "");
      const pushed = new Map(bundleFiles(t).map((f) => [f.path, f.mode]));
      expect(pushed.get(`${REMOTE_BUNDLE_DIR}/uws-server.mjs`)).toBe("0644");
      const helpers = readdirSync(defs).filter((f) => f.endsWith(".yaml"))
        .map((f) => parseYaml(readFileSync(join(defs, f), "utf8")).command.executable as string)
        .filter((e) => e.startsWith("./"));
      expect(helpers.length).toBeGreaterThan(0);
      for (const h of helpers) expect(pushed.get(`${REMOTE_BUNDLE_DIR}/definitions/${h.slice(2)}`), h).toBe("0755");
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });
});
