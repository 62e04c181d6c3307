/**
 * The pulumi engine (Automation API) against a STAND-IN `pulumi` executable
 * (fixtures/standin-pulumi.mjs): the pulumi CLI and the pulumi-resource-openstack plugin cannot be
 * downloaded here. The real Automation API code runs (LocalWorkspace, Stack.up/destroy, its inline
 * program gRPC server); the stand-in answers the CLI calls and records them. It cannot execute the
 * program, so it reports the outputs the test gives it; the program itself is tested under
 * setMocks in test/pulumi/.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EngineCommandError, EngineUnavailableError, selectEngine, type EngineEvent } from "../../../../scripts/targets/openstack/engines/index.js";
import { FAKE_SECRETS, filesUnder, sandbox, type Sandbox } from "./standins.js";
import { openstackCluster } from "../../../harness/specs.js";

let sb: Sandbox | undefined;
afterEach(() => { sb?.cleanup(); sb = undefined; });
const cluster = openstackCluster({ compute: { count: 2, flavor: "m1.medium" } });
const STACK = "t-cluster-0123456789ab";
const cloudOutputs = {
  head_public_ip: "203.0.113.77", cluster_id: cluster.id,
  private_ips: Object.fromEntries(cluster.nodes.map((n, i) => [n.name, `192.168.44.${10 + i}`])),
};
const cmds = () => sb!.calls("pulumi").map((c) => c.argv.filter((a) => !a.startsWith("--client=")).join(" "));

describe("pulumi engine (stand-in pulumi CLI)", () => {
  it("checks CLI and plugin, then creates the stack with a passphrase file and a file backend in the work dir, runs up, maps outputs", async () => {
    sb = sandbox(["pulumi"], { STANDIN_PULUMI_OUTPUTS: JSON.stringify(cloudOutputs) });
    const engine = selectEngine("pulumi", sb.env);
    expect(engine.binary).toBe(join(sb.bin, "pulumi"));
    const out = await engine.apply(sb.ctx(cluster, { parallelism: 4 }));
    expect(out).toEqual({ headPublicIp: "203.0.113.77", privateIps: cloudOutputs.private_ips, clusterId: "0123456789ab" });

    const c = cmds();
    expect(c.slice(0, 2)).toEqual(["version", "plugin ls --json"]);
    expect(c).toContain(`stack select --stack ${STACK} --non-interactive`);
    expect(c).toContain(`stack init ${STACK} --secrets-provider passphrase --non-interactive`);
    const up = sb.calls("pulumi").find((x) => x.argv[0] === "up")!;
    expect(up.argv.slice(0, 5)).toEqual(["up", "--yes", "--skip-preview", "--parallel", "4"]);
    expect(up.argv).toEqual(expect.arrayContaining(["--exec-kind", "auto.inline", "--stack", STACK, "--color", "never"]));
    expect(up.argv.some((a) => /^--client=127\.0\.0\.1:\d+$/.test(a))).toBe(true); // the inline program is served to the CLI
    expect(up.cwd).toBe(sb.workDir);
    expect(up.env).toMatchObject({
      PULUMI_BACKEND_URL: `file://${join(sb.workDir, "pulumi-state")}`,
      PULUMI_CONFIG_PASSPHRASE_FILE: join(sb.workDir, "pulumi-passphrase"),
      passphraseFileMode: "600", hasPassphraseValue: false, OS_CLOUD: "standin-cloud", hasOsPassword: true,
    });
    expect(statSync(join(sb.workDir, "pulumi-passphrase")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(sb.workDir, "pulumi-passphrase"), "utf8").trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(join(sb.workDir, "Pulumi.yaml"), "utf8")).toMatch(/name: uws-cluster[\s\S]*runtime: nodejs[\s\S]*backend:\s+url: file:\/\//);
    expect(sb.events.some((e) => e.type === "line" && /Updating \(t-cluster-0123456789ab\)/.test(e.line))).toBe(true);

    // A second apply selects the existing stack and keeps the passphrase.
    const pass = readFileSync(join(sb.workDir, "pulumi-passphrase"), "utf8");
    await engine.apply(sb.ctx(cluster));
    expect(cmds().filter((x) => x.startsWith("stack init"))).toHaveLength(1);
    expect(readFileSync(join(sb.workDir, "pulumi-passphrase"), "utf8")).toBe(pass);
    expect(await engine.outputs(sb.ctx(cluster))).toEqual(out);
  });

  it("a missing OpenStack plugin is reported with the install command before any stack command", async () => {
    sb = sandbox(["pulumi"], { STANDIN_PULUMI_PLUGINS: "[]" });
    const err = await selectEngine("pulumi", sb.env).apply(sb.ctx(cluster)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineUnavailableError);
    expect((err as EngineUnavailableError).exitCode).toBe(3);
    expect((err as Error).message).toContain("pulumi plugin install resource openstack 3.15.2");
    expect(cmds()).toEqual(["version", "plugin ls --json"]);
    expect(existsSync(sb.workDir)).toBe(false);
  });

  it("an OpenStack plugin of another version does not count", async () => {
    sb = sandbox(["pulumi"], { STANDIN_PULUMI_PLUGINS: JSON.stringify([{ name: "openstack", kind: "resource", version: "3.16.0" }]) });
    await expect(selectEngine("pulumi", sb.env).destroy(sb.ctx(cluster))).rejects.toThrow(/plugin 3\.15\.2 is not installed \(found 3\.16\.0\)/);
  });

  it("retries up on transient errors", async () => {
    sb = sandbox(["pulumi"], { STANDIN_PULUMI_OUTPUTS: JSON.stringify(cloudOutputs), STANDIN_UP_TRANSIENT_FAILURES: "2" });
    await selectEngine("pulumi", sb.env).apply(sb.ctx(cluster));
    expect(cmds().filter((x) => x.startsWith("up "))).toHaveLength(3);
    const r = sb.events.filter((e) => e.type === "retry") as Extract<EngineEvent, { type: "retry" }>[];
    expect(r.map((e) => e.delayMs)).toEqual([5, 10]);
    expect(r[0]!.reason).toMatch(/got 503 instead/);
  });

  it("gives up on a transient error after the retries", async () => {
    sb = sandbox(["pulumi"], { STANDIN_PULUMI_OUTPUTS: JSON.stringify(cloudOutputs), STANDIN_UP_TRANSIENT_FAILURES: "99" });
    const err = await selectEngine("pulumi", sb.env).apply(sb.ctx(cluster, { retry: { retries: 1, delayMs: 1 } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineCommandError);
    expect(cmds().filter((x) => x.startsWith("up "))).toHaveLength(2);
  });

  it("destroy removes the stack's resources; with no stack it is a no-op", async () => {
    sb = sandbox(["pulumi"], { STANDIN_PULUMI_OUTPUTS: JSON.stringify(cloudOutputs), STANDIN_DESTROY_TRANSIENT_FAILURES: "1" });
    const engine = selectEngine("pulumi", sb.env);
    await engine.destroy(sb.ctx(cluster));
    expect(cmds().filter((x) => x.startsWith("destroy"))).toEqual([]);
    expect(sb.events.some((e) => e.type === "info" && /no pulumi stack t-cluster-0123456789ab/.test(e.message))).toBe(true);

    await engine.apply(sb.ctx(cluster));
    await engine.destroy(sb.ctx(cluster, { parallelism: 2 }));
    const destroys = sb.calls("pulumi").filter((x) => x.argv[0] === "destroy");
    expect(destroys).toHaveLength(2); // one transient failure, then success
    expect(destroys[0]!.argv.slice(0, 5)).toEqual(["destroy", "--yes", "--skip-preview", "--parallel", "2"]);
    expect(destroys[0]!.argv).not.toContain("--refresh"); // no refresh: a deleted image or flavor cannot block it
    await expect(engine.outputs(sb.ctx(cluster))).rejects.toThrow(/lacks head_public_ip, private_ips, cluster_id/);
  });

  it("no credential from the environment in the work dir, events or errors", async () => {
    sb = sandbox(["pulumi"], { STANDIN_PULUMI_OUTPUTS: JSON.stringify(cloudOutputs), PULUMI_CONFIG_PASSPHRASE: "user-level-passphrase-not-for-us" });
    const engine = selectEngine("pulumi", sb.env);
    await engine.apply(sb.ctx(cluster));
    await engine.destroy(sb.ctx(cluster));
    expect(sb.calls("pulumi").every((c) => c.env.hasPassphraseValue === false)).toBe(true);
    const texts = [JSON.stringify(sb.events), ...filesUnder(sb.workDir).map((f) => f.text)];
    for (const value of [...Object.values(FAKE_SECRETS), "user-level-passphrase-not-for-us"]) for (const t of texts) expect(t).not.toContain(value);
    for (const f of filesUnder(sb.workDir)) if (f.path.endsWith("pulumi-passphrase")) expect(f.mode).toBe(0o600);
  });
});

describe("pulumi engine outputs without a stack", () => {
  it("says the cluster was not applied", async () => {
    sb = sandbox(["pulumi"]);
    await expect(selectEngine("pulumi", sb.env).outputs(sb.ctx(cluster))).rejects.toThrow(/no pulumi stack t-cluster-0123456789ab in file:\/\/.* \(run up\)/);
  });
});
