import { execFile } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import type { Cluster } from "../../stacks/model/index.js";
import { renderCluster, renderToDir, secretPlaceholder, type NodeBundle } from "../../scripts/render/index.js";
import { tempDir } from "../harness/files.js";
import { aaiDns, ALL_SPECS, assigned, example, existingNet, openstackCluster } from "../harness/specs.js";

const root = tempDir("render");
afterAll(() => rmSync(root, { recursive: true, force: true }));

const file = (b: NodeBundle, path: string) => b.files.find((f) => f.path === path);
const text = (b: NodeBundle, path: string) => String(file(b, path)?.content);

function sentinels(c: Cluster): Record<string, Buffer> {
  return Object.fromEntries(c.secrets.map((s) => [s.key, Buffer.from(`SENTINEL-${s.key}-7f3a9c`)]));
}

describe("renderCluster", () => {
  it("one bundle per node, head first, with its role's files", () => {
    const c = example("openstack");
    const bundles = renderCluster(c);
    expect(bundles.map((b) => b.node.name)).toEqual(["eosc-demo-head", "eosc-demo-compute-1", "eosc-demo-compute-2"]);
    const [head, compute] = bundles;
    for (const p of ["/etc/slurm/slurm.conf", "/etc/hosts", "/etc/exports", "/etc/nginx/conf.d/uws-cluster.conf", "/etc/uws-server/config.yaml",
      "/etc/systemd/system/uws-server.service", "/etc/munge/munge.key", "/etc/uws-server/oidc-client-secret"]) expect(file(head!, p), p).toBeDefined();
    for (const p of ["/etc/slurm/slurm.conf", "/etc/hosts", "/etc/systemd/system/shared.mount", "/etc/systemd/system/shared.automount", "/etc/munge/munge.key"]) expect(file(compute!, p), p).toBeDefined();
    for (const p of ["/etc/exports", "/etc/uws-server/config.yaml", "/etc/nginx/conf.d/uws-cluster.conf", "/etc/uws-server/admin-token"]) expect(file(compute!, p), p).toBeUndefined();
    expect(new Set(head!.files.map((f) => f.path)).size).toBe(head!.files.length);
  });

  it("slurm.conf: one NodeName line per compute node, controller = head, default partition", () => {
    const c = openstackCluster({ name: "t-seven", compute: { count: 7, flavor: "m1.small", cpus: 3, memoryMb: 6000 }, slurm: { partition: "work" } });
    const conf = text(renderCluster(c)[0]!, "/etc/slurm/slurm.conf");
    const lines = conf.split("\n").filter((l) => l.startsWith("NodeName="));
    expect(lines).toHaveLength(7);
    c.computes.forEach((n, i) => expect(lines[i]).toBe(`NodeName=${n.name} NodeAddr=${n.privateIp} CPUs=3 RealMemory=${n.realMemoryMb} State=UNKNOWN`));
    expect(c.computes[0]!.realMemoryMb).toBeLessThan(6000);
    expect(conf).toContain(`SlurmctldHost=t-seven-head(${c.head.privateIp})`);
    expect(conf).toContain(`PartitionName=work Nodes=${c.computes.map((n) => n.name).join(",")} Default=YES`);
    expect(conf).toContain("ClusterName=t_seven");
    expect(conf).toContain("JobCompType=jobcomp/filetxt");
  });

  it("names without NodeAddr before the cloud assigns addresses, IPs after", () => {
    const c = existingNet();
    const before = renderCluster(c)[0]!;
    expect(text(before, "/etc/slurm/slurm.conf")).toMatch(/^NodeName=t-exist-compute-1 CPUs=2/m);
    expect(text(before, "/etc/slurm/slurm.conf")).toContain("SlurmctldHost=t-exist-head\n");
    expect(text(before, "/etc/hosts")).toContain("# t-exist-compute-1: address known after");
    expect(text(before, "/etc/exports")).not.toMatch(/^\/shared /m);
    const addrs = assigned(c);
    const after = renderCluster(c, { addresses: addrs });
    expect(text(after[0]!, "/etc/slurm/slurm.conf")).toContain(`NodeName=t-exist-compute-1 NodeAddr=${addrs["t-exist-compute-1"]} CPUs=2`);
    expect(text(after[0]!, "/etc/slurm/slurm.conf")).toContain(`SlurmctldHost=t-exist-head(${addrs["t-exist-head"]})`);
    expect(text(after[1]!, "/etc/hosts")).toContain(`${addrs["t-exist-compute-2"]}\tt-exist-compute-2`);
    // An existing network's subnet is not in the model: export to the compute nodes' own addresses.
    expect(text(after[0]!, "/etc/exports")).toMatch(new RegExp(`^/shared ${addrs["t-exist-compute-1"]}\\(rw,[^)]*\\) ${addrs["t-exist-compute-2"]}\\(rw`, "m"));
    expect(text(after[1]!, "/etc/systemd/system/shared.mount")).toContain(`What=${addrs["t-exist-head"]}:/shared`);
  });

  it("exports the shared folder to the created subnet only", () => {
    const exports = text(renderCluster(example("openstack"))[0]!, "/etc/exports");
    expect(exports.split("\n").filter((l) => l && !l.startsWith("#"))).toEqual(["/shared 192.168.44.0/24(rw,sync,no_subtree_check,root_squash)"]);
  });

  it("/etc/hosts lists every node on every node", () => {
    const c = example("local");
    for (const b of renderCluster(c)) {
      const hosts = text(b, "/etc/hosts");
      for (const n of c.nodes) expect(hosts).toContain(`${n.privateIp}\t${n.name}\n`);
    }
  });

  it("job server config: exactly the agreed keys, per auth mode", () => {
    const TOP = ["host", "port", "data", "workDir", "apps", "executor", "slurm", "auth", "adminTokenFile", "jobSecretFile", "uploadLimitMb", "publicUrl"];
    const cfg = (c: Cluster, opts = {}) => parseYaml(text(renderCluster(c, opts)[0]!, "/etc/uws-server/config.yaml"));

    const oidc = cfg(example("openstack"), { headPublicIp: "198.51.100.7" });
    expect(Object.keys(oidc).sort()).toEqual([...TOP, "oidc"].sort());
    expect(oidc).toMatchObject({
      host: "127.0.0.1", port: 8080, data: "/var/lib/uws-server", workDir: "/shared/uws-jobs", executor: "slurm",
      slurm: { partition: "batch", slurmConf: "/etc/slurm/slurm.conf" }, auth: "oidc",
      adminTokenFile: "/etc/uws-server/admin-token", jobSecretFile: "/etc/uws-server/job-secret", uploadLimitMb: 100,
      publicUrl: "https://198.51.100.7",
    });
    expect(oidc.oidc).toEqual({
      issuer: "https://proxy.eduteams.org", audience: "uws-eosc-demo", clientId: "uws-eosc-demo",
      clientSecretFile: "/etc/uws-server/oidc-client-secret", scopes: ["openid", "profile", "email", "eduperson_entitlement"],
      entitlementClaim: "eduperson_entitlement",
      allow: { entitlements: ["urn:mace:egi.eu:group:vo.example.org:role=member#aai.egi.eu"], subs: [] },
      admins: { entitlements: [], subs: [] },
    });
    expect(cfg(example("openstack")).publicUrl).toBeNull();

    const egi = cfg(aaiDns(), { headPublicIp: "198.51.100.7" });
    expect(egi.publicUrl).toBe("https://jobs.example.org");
    expect(egi.oidc).toMatchObject({ issuer: "https://aai.egi.eu/auth/realms/egi", admins: { subs: ["admin@egi.eu"] } });
    const generic = cfg(existingNet());
    expect(generic.oidc).toMatchObject({ issuer: "https://login.example.org/realms/main", scopes: ["openid", "profile", "email"], entitlementClaim: "eduperson_entitlement" });
    expect(generic).toMatchObject({ port: 9000, uploadLimitMb: 250 });
    const orcid = cfg(openstackCluster({ name: "t-orcid", aai: { preset: "orcid", clientId: "APP-1", clientSecret: { env: "X" }, allow: { subs: ["0000-0002-1825-0097"] } } }));
    expect(orcid.oidc).toMatchObject({ issuer: "https://orcid.org", scopes: ["openid"], allow: { subs: ["0000-0002-1825-0097"] } });

    const local = example("local");
    const tokens = cfg(local);
    expect(Object.keys(tokens).sort()).toEqual([...TOP, "tokensFile"].sort());
    expect(tokens).toMatchObject({ host: local.head.privateIp, auth: "tokens", tokensFile: "/etc/uws-server/tokens", data: local.jobserver.dataDir, workDir: local.jobserver.workDir });

    const none = cfg(openstackCluster({ name: "t-none", jobserver: { auth: "none" } }));
    expect(Object.keys(none).sort()).toEqual(TOP.sort());
  });

  it("the service command and unit", () => {
    const unit = text(renderCluster(example("openstack"))[0]!, "/etc/systemd/system/uws-server.service");
    expect(unit).toContain("ExecStart=/usr/local/bin/node /opt/uws-server/uws-server.mjs --config /etc/uws-server/config.yaml\n");
    expect(unit).toMatch(/^User=uws$/m);
  });

  it("targets: the local target gets hosts, slurm.conf, job server config and secrets; nothing cloud-only", () => {
    const [head, compute] = renderCluster(example("local"));
    const local = (b: NodeBundle) => b.files.filter((f) => f.targets.includes("local")).map((f) => f.path).sort();
    expect(local(head!)).toEqual(["/etc/hosts", "/etc/munge/munge.key", "/etc/slurm/slurm.conf", "/etc/uws-server/admin-token",
      "/etc/uws-server/config.yaml", "/etc/uws-server/job-secret", "/etc/uws-server/tokens"]);
    expect(local(compute!)).toEqual(["/etc/hosts", "/etc/munge/munge.key", "/etc/slurm/slurm.conf"]);
    for (const f of head!.files.filter((x) => !x.targets.includes("local"))) expect(f.concern).toMatch(/^(nginx|nfs|jobserver|slurm|ssh)$/);
  });

  it("secrets: placeholders by default, the values when given, never in user-data or a non-secret file", () => {
    for (const [label, make] of ALL_SPECS) {
      const c = make();
      const values = sentinels(c);
      const bundles = renderCluster(c, { secrets: values, addresses: c.network.mode === "existing" ? assigned(c) : undefined });
      const all = Object.values(values).map((v) => v.toString());
      for (const b of bundles) {
        for (const s of all) expect(b.userData, `${label} ${b.node.name} user-data`).not.toContain(s);
        for (const f of b.files.filter((x) => !x.secret)) for (const s of all) expect(String(f.content), `${label} ${f.path}`).not.toContain(s);
        const secretFiles = b.files.filter((x) => x.secret);
        const expected = c.secrets.filter((s) => s.nodes === "all" || b.node.role === "head");
        expect(secretFiles.map((f) => f.secret)).toEqual(expected.map((s) => s.key));
        for (const f of secretFiles) {
          const ref = c.secrets.find((s) => s.key === f.secret)!;
          expect(f.content).toEqual(values[ref.key]);
          expect({ path: f.path, mode: f.mode, owner: f.owner }).toEqual({ path: ref.path, mode: ref.mode, owner: ref.owner });
        }
      }
      for (const b of renderCluster(c)) {
        for (const f of b.files.filter((x) => x.secret)) expect(f.content).toBe(secretPlaceholder(f.secret!));
      }
    }
    const head = renderCluster(example("openstack"))[0]!;
    expect(file(head, "/etc/munge/munge.key")).toMatchObject({ mode: "0400", owner: "munge:munge", concern: "munge", secret: "munge.key", content: "<secret:munge.key>" });
    expect(file(head, "/etc/uws-server/oidc-client-secret")).toMatchObject({ concern: "aai", secret: "oidc.client-secret" });
  });

  it("a big cluster keeps user-data under Nova's limit by leaving address lists to the SSH push", () => {
    const c = openstackCluster({ name: "t-big", network: { create: { cidr: "10.20.0.0/21", dnsServers: ["9.9.9.9"] } }, compute: { count: 400, flavor: "m1.small", cpus: 1, memoryMb: 2048 } });
    const [head] = renderCluster(c);
    expect(Buffer.from(head!.userData).toString("base64").length).toBeLessThanOrEqual(65535);
    expect(parseYaml(head!.userData).write_files.map((w: { path: string }) => w.path)).not.toContain("/etc/slurm/slurm.conf");
    expect(text(head!, "/etc/slurm/slurm.conf").split("\n").filter((l) => l.startsWith("NodeName="))).toHaveLength(400);
  });
});

describe("renderToDir and `uws-cluster render`", () => {
  it("renderToDir writes user-data, files/<absolute path> and a manifest per node", () => {
    const out = join(root, "dir");
    const bundles = renderCluster(example("openstack"));
    renderToDir(bundles, out);
    for (const b of bundles) {
      expect(readFileSync(join(out, b.node.name, "user-data"), "utf8")).toBe(b.userData);
      for (const f of b.files) expect(readFileSync(join(out, b.node.name, "files", f.path))).toEqual(Buffer.from(f.content));
      const manifest = JSON.parse(readFileSync(join(out, b.node.name, "files.json"), "utf8"));
      expect(manifest).toHaveLength(b.files.length);
    }
    expect(statSync(join(out, "eosc-demo-head/files/etc/munge/munge.key")).mode & 0o777).toBe(0o600);
  });

  it("the CLI writes per-node folders with placeholders for secrets", async () => {
    const out = join(root, "cli");
    const r = await promisify(execFile)("node", ["scripts/uws-cluster.mjs", "render", "--spec", "examples/openstack.yaml", "--out", out, "--json"],
      { env: { ...process.env, UWS_CLUSTER_HOME: join(root, "home") } });
    const result = JSON.parse(r.stdout);
    expect(result.nodes.map((n: { name: string }) => n.name)).toEqual(["eosc-demo-head", "eosc-demo-compute-1", "eosc-demo-compute-2"]);
    expect(readdirSync(out).sort()).toEqual(["eosc-demo-compute-1", "eosc-demo-compute-2", "eosc-demo-head"]);
    const head = join(out, "eosc-demo-head");
    expect(readFileSync(join(head, "user-data"), "utf8")).toMatch(/^#cloud-config\n/);
    const conf = readFileSync(join(head, "files/etc/slurm/slurm.conf"), "utf8");
    expect(conf.split("\n").filter((l) => l.startsWith("NodeName="))).toHaveLength(2);
    expect(existsSync(join(head, "files/etc/nginx/conf.d/uws-cluster.conf"))).toBe(true);
    expect(readFileSync(join(head, "files/etc/munge/munge.key"), "utf8")).toBe("<secret:munge.key>");
    expect(readFileSync(join(head, "files/etc/uws-server/oidc-client-secret"), "utf8")).toBe("<secret:oidc.client-secret>");
  });

  it("the CLI renders a local spec without user-data or cloud-only files", async () => {
    const out = join(root, "cli-local");
    await promisify(execFile)("node", ["scripts/uws-cluster.mjs", "render", "--spec", "examples/local.yaml", "--out", out],
      { env: { ...process.env, UWS_CLUSTER_HOME: join(root, "home") } });
    const head = join(out, "local-demo-head");
    expect(existsSync(join(head, "user-data"))).toBe(false);
    expect(existsSync(join(head, "files/etc/nginx"))).toBe(false);
    expect(existsSync(join(head, "files/etc/uws-server/config.yaml"))).toBe(true);
  });
});
