// Files only a cloud VM uses, checked by the real tools a VM runs them with: systemd's own unit
// verifier, sshd -t on the drop-in under Debian's default sshd_config, and node setup's Slurm check
// run by sh against this machine's real slurmctld (Debian 12's 22.05) and stand-in version outputs.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { REMOTE_BUNDLE_DIR } from "../../scripts/deploy/vm.js";
import { renderCluster, type NodeBundle } from "../../scripts/render/index.js";
import { templates } from "../../scripts/render/engine.js";
import { JOBSERVER_FILES, NODE_FILES } from "../../scripts/render/paths.js";
import { slurmView, addressBook, nginxView } from "../../scripts/render/views.js";
import { ALL_SPECS, example } from "../harness/specs.js";
import { tempDir } from "../harness/files.js";
import { selfSignedCert } from "./tools.js";

const dir = tempDir("vm");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cloudSpecs = ALL_SPECS.filter(([label]) => !label.includes("local"));
const text = (b: NodeBundle, path: string) => String(b.files.find((f) => f.path === path)!.content);
const nodeSetup = (b: NodeBundle) => (parseYaml(b.userData).write_files as { path: string; content: string }[]).find((w) => w.path === NODE_FILES.setup)!.content;

/** `systemd-analyze verify` on unit files; returns the lines about these units (this machine's other units are not ours). */
function verifyUnits(files: string[]): { status: number | null; lines: string[] } {
  const r = spawnSync("systemd-analyze", ["verify", "--man=no", ...files], { encoding: "utf8", timeout: 60_000 });
  const names = files.map((f) => basename(f));
  const lines = `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => names.some((n) => l.includes(n)));
  return { status: r.status, lines };
}

describe("systemd units (systemd-analyze verify)", () => {
  for (const [label, make] of cloudSpecs) {
    it(`${label}: the job server unit and the compute nodes' mount units`, () => {
      const bundles = renderCluster(make());
      const d = join(dir, label.replace(/\W+/g, "_"));
      mkdirSync(d, { recursive: true });
      const units = [bundles[0]!, bundles[1]!].flatMap((b) => b.files.filter((f) => f.path.startsWith("/etc/systemd/system/")));
      expect(units.map((u) => basename(u.path)).sort()).toEqual(["shared.automount", "shared.mount", "uws-server.service"]);
      const files = units.map((u) => {
        const f = join(d, basename(u.path));
        writeFileSync(f, u.content);
        return f;
      });
      const { lines } = verifyUnits(files);
      // The one complaint allowed: the Node.js binary exists only on the VM (install-node.sh puts it there).
      const other = lines.filter((l) => !l.includes(`Command ${JOBSERVER_FILES.nodeBin} is not executable`));
      expect(other, other.join("\n")).toEqual([]);
    });
  }

  it("the verifier really refuses a bad unit (so the checks above can fail)", () => {
    const b = renderCluster(example("openstack"))[1]!;
    const f = join(dir, "wrong-name.mount");
    writeFileSync(f, text(b, "/etc/systemd/system/shared.mount"));
    const bad = join(dir, "bad.service");
    writeFileSync(bad, "[Service]\nExecStart=/bin/true\nProtectHome=maybe\n");
    const r = verifyUnits([f, bad]);
    expect(r.lines.join("\n")).toContain("Where= setting doesn't match unit name");
    expect(r.lines.join("\n")).toContain("Failed to parse protect home value");
  });

  it("the job server unit runs the node install-node.sh links, the pushed bundle and the rendered config, as uws", () => {
    const head = renderCluster(example("openstack"))[0]!;
    const unit = text(head, JOBSERVER_FILES.unit);
    const install = text(head, JOBSERVER_FILES.installNode);
    const exec = /^ExecStart=(\S+) (\S+) --config (\S+)$/m.exec(unit)!;
    expect(install).toContain(`ln -sf ${JOBSERVER_FILES.nodeHome}/bin/node ${exec[1]}`);
    expect(exec[2]).toBe(`${REMOTE_BUNDLE_DIR}/uws-server.mjs`);
    expect(head.files.map((f) => f.path)).toContain(exec[3]);
    expect(unit).toMatch(/^User=uws$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
  });
});

describe("sshd drop-in (sshd -t under Debian's default sshd_config)", () => {
  /** sshd -t/-T with the drop-in dir swapped in, in a private mount namespace whose /run has sshd's privilege separation folder. */
  function sshd(dropIn: string, args: string[]) {
    const d = join(dir, `sshd-${Math.random().toString(36).slice(2)}`);
    mkdirSync(join(d, "sshd_config.d"), { recursive: true });
    writeFileSync(join(d, "sshd_config.d", "uws-cluster.conf"), dropIn);
    const main = spawnSync("sed", [`s#/etc/ssh/sshd_config.d#${d}/sshd_config.d#`, "/usr/share/openssh/sshd_config"], { encoding: "utf8" }).stdout;
    expect(main).toContain(`Include ${d}/sshd_config.d/*.conf`);
    writeFileSync(join(d, "sshd_config"), main);
    const script = `mount -t tmpfs tmpfs /run && mkdir -p /run/sshd && exec /usr/sbin/sshd -f ${d}/sshd_config ${args.join(" ")}`;
    return spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", script], { encoding: "utf8", timeout: 30_000 });
  }

  it("is accepted and makes root logins key-only, password logins off", () => {
    const dropIn = text(renderCluster(example("openstack"))[0]!, NODE_FILES.sshd);
    const t = sshd(dropIn, ["-t"]);
    expect(t.status, t.stderr).toBe(0);
    const eff = sshd(dropIn, ["-T", "-C", "user=root,host=head,addr=192.168.44.1"]);
    expect(eff.status, eff.stderr).toBe(0);
    expect(eff.stdout).toMatch(/^permitrootlogin without-password$/m); // = prohibit-password
    expect(eff.stdout).toMatch(/^passwordauthentication no$/m);
    expect(eff.stdout).toMatch(/^kbdinteractiveauthentication no$/m);
    expect(eff.stdout).toMatch(/^allowtcpforwarding yes$/m); // the jump host and the job server tunnel need it
  });

  it("sshd -t really rejects a bad drop-in (so the check above can fail)", () => {
    expect(sshd("PermitRootLogin sometimes\n", ["-t"]).status).not.toBe(0);
  });
});

describe("node setup refuses a Slurm without cgroup v2 support", () => {
  const cluster = example("openstack");
  const check = (role: "head" | "compute") =>
    templates().render("slurm/check-version.sh", slurmView(cluster, role === "head" ? cluster.head : cluster.computes[0]!, addressBook(cluster)));
  /** Runs the rendered check; `fake` puts a stand-in daemon printing that version first on PATH. */
  function run(role: "head" | "compute", fake?: string) {
    const bin = join(dir, `fake-${role}-${fake ?? "real"}`.replace(/\W+/g, "_"));
    mkdirSync(bin, { recursive: true });
    if (fake) {
      const daemon = join(bin, role === "head" ? "slurmctld" : "slurmd");
      writeFileSync(daemon, `#!/bin/sh\necho '${fake}'\n`);
      chmodSync(daemon, 0o755);
    }
    return spawnSync("sh", ["-eu", "-c", check(role)], { env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` }, encoding: "utf8" });
  }

  it("passes with this machine's real Debian 12 Slurm on both roles", () => {
    for (const role of ["head", "compute"] as const) expect(run(role).status, run(role).stderr).toBe(0);
  });
  it("fails with Ubuntu 22.04's 21.08, naming the version and what to use instead; newer ones pass", () => {
    const r = run("compute", "slurm-wlm 21.08.5");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Slurm (21.08.5) is older than 22.05");
    expect(r.stderr).toContain("Debian 12 or Ubuntu 24.04");
    expect(run("head", "slurm 23.11.4").status).toBe(0);
    expect(run("head", "slurm 22.05.0").status).toBe(0);
  });
  it("runs in every node's setup before any Slurm daemon is enabled", () => {
    for (const b of renderCluster(cluster)) {
      const s = nodeSetup(b);
      expect(s.indexOf("slurm_version=$(")).toBeGreaterThan(-1);
      expect(s.indexOf("slurm_version=$(")).toBeLessThan(s.indexOf("systemctl enable slurm"));
    }
  });
});

describe("nginx site inside Debian's own nginx.conf (nginx -t)", () => {
  /** The package's nginx.conf with its paths moved into a temporary prefix; the site in conf.d as the head has it. */
  function debianNginx(name: string, withDefaultSite: boolean) {
    const p = join(dir, name);
    mkdirSync(join(p, "conf.d"), { recursive: true });
    mkdirSync(join(p, "sites-enabled"), { recursive: true });
    mkdirSync(join(p, "log"), { recursive: true });
    copyFileSync("/etc/nginx/mime.types", join(p, "mime.types"));
    const conf = readFileSync("/etc/nginx/nginx.conf", "utf8")
      .replace(/^include \/etc\/nginx\/modules-enabled\/.*$/m, "") // dynamic modules: the site uses core ones only
      .replaceAll("/etc/nginx/", `${p}/`).replaceAll("/var/log/nginx/", `${p}/log/`).replace("/run/nginx.pid", `${p}/nginx.pid`);
    writeFileSync(join(p, "nginx.conf"), conf);
    const c = example("openstack");
    const view = nginxView(c, addressBook(c));
    const cert = selfSignedCert(p);
    writeFileSync(join(p, "conf.d", "uws-cluster.conf"), templates().render("nginx/uws-cluster.conf", { ...view, tls: { ...view.tls, cert: cert.cert, key: cert.key } }));
    // The package's default site, which nginx/setup.sh removes before the first reload.
    if (withDefaultSite) copyFileSync("/etc/nginx/sites-available/default", join(p, "sites-enabled", "default"));
    return spawnSync("nginx", ["-t", "-p", p, "-e", join(p, "log", "error.log"), "-c", join(p, "nginx.conf")], { encoding: "utf8" });
  }

  it("is accepted once node setup has removed the package's default site", () => {
    const r = debianNginx("debian-nginx", false);
    expect(r.status, r.stderr).toBe(0);
    expect(nodeSetup(renderCluster(example("openstack"))[0]!)).toContain("rm -f /etc/nginx/sites-enabled/default");
  });
  it("is refused beside the default site (why setup removes it: two default servers on port 80)", () => {
    const r = debianNginx("debian-nginx-default", true);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("duplicate default server");
  });
});
