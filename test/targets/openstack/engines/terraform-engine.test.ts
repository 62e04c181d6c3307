/**
 * The terraform / tofu engine against STAND-IN executables (fixtures/standin-terraform.mjs): the
 * OpenStack provider cannot be downloaded here, so real terraform/tofu cannot init or apply. The
 * stand-ins record argv, cwd and environment and act on the real synthesized cdk.tf.json.
 */
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EngineCommandError, EngineUnavailableError, TerraformEngine, selectEngine, type EngineEvent } from "../../../../scripts/targets/openstack/engines/index.js";
import { FAKE_SECRETS, filesUnder, sandbox, type Sandbox } from "./standins.js";
import { openstackCluster } from "../../../harness/specs.js";

let sb: Sandbox | undefined;
afterEach(() => { sb?.cleanup(); sb = undefined; });
const steps = (tool = "tofu") => sb!.calls(tool).map((c) => c.argv.join(" "));
const retries = (events: EngineEvent[], step: string) => events.filter((e) => e.type === "retry" && e.step === step) as Extract<EngineEvent, { type: "retry" }>[];

describe("terraform/tofu engine (stand-in executables)", () => {
  it("apply: writes cdk.tf.json, runs init, apply, output -json in the work dir, in order, and maps the outputs", async () => {
    sb = sandbox(["tofu", "terraform"]);
    const cluster = openstackCluster({ compute: { count: 2, flavor: "m1.medium" } });
    const engine = selectEngine("auto", sb.env);
    expect(engine.name).toBe("tofu");
    const out = await engine.apply(sb.ctx(cluster, { parallelism: 7 }));
    expect(steps()).toEqual([
      "version -json",
      "init -input=false -no-color",
      "apply -auto-approve -input=false -no-color -parallelism=7",
      "output -json",
    ]);
    expect(sb.calls("terraform")).toEqual([]);
    for (const c of sb.calls("tofu")) {
      if (c.argv[0] !== "version") expect(c.cwd).toBe(sb.workDir);
      expect(c.env).toMatchObject({ TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1", OS_CLOUD: "standin-cloud", OS_AUTH_TYPE: "v3applicationcredential", hasOsPassword: true, hasAppCredSecret: true });
    }
    expect(out).toEqual({
      headPublicIp: "203.0.113.50", clusterId: "0123456789ab",
      privateIps: Object.fromEntries(cluster.nodes.map((n) => [n.name, n.privateIp])),
    });
    const cfg = join(sb.workDir, "cdk.tf.json");
    expect(statSync(cfg).mode & 0o777).toBe(0o600);
    expect(statSync(sb.workDir).mode & 0o777).toBe(0o700);
    const tf = JSON.parse(readFileSync(cfg, "utf8"));
    expect(Object.keys(tf.resource.openstack_compute_instance_v2)).toHaveLength(3);
    expect(tf.terraform.backend).toBeUndefined(); // local state by default
    expect(existsSync(join(sb.workDir, "terraform.tfstate"))).toBe(true);
    expect(await engine.outputs(sb.ctx(cluster))).toEqual(out);
    // Progress lines were streamed as events.
    expect(sb.events.some((e) => e.type === "line" && /Apply complete! Resources: \d+ added/.test(e.line))).toBe(true);
  });

  it("default parallelism is 10; an invalid one is refused before anything runs", async () => {
    sb = sandbox(["terraform"]);
    const engine = selectEngine("auto", sb.env);
    expect(engine.name).toBe("terraform");
    await engine.apply(sb.ctx(openstackCluster()));
    expect(steps("terraform")).toContain("apply -auto-approve -input=false -no-color -parallelism=10");
    const before = sb.calls().length;
    await expect(engine.apply(sb.ctx(openstackCluster(), { parallelism: 0 }))).rejects.toThrow(/parallelism must be an integer/);
    expect(sb.calls().length).toBe(before);
  });

  it("retries apply on a transient error (instance did not become ready) and succeeds on the third attempt", async () => {
    sb = sandbox(["tofu"], { STANDIN_APPLY_TRANSIENT_FAILURES: "2" });
    const out = await selectEngine("tofu", sb.env).apply(sb.ctx(openstackCluster(), { retry: { retries: 3, delayMs: 20 } }));
    expect(steps().filter((s) => s.startsWith("apply"))).toHaveLength(3);
    expect(steps().filter((s) => s.startsWith("init"))).toHaveLength(1);
    const r = retries(sb.events, "apply");
    expect(r.map((e) => [e.attempt, e.delayMs])).toEqual([[2, 20], [3, 40]]);
    expect(r[0]!.reason).toMatch(/Error waiting for instance .* to become ready/);
    expect(out.clusterId).toBe("0123456789ab");
  });

  it("gives up after 3 retries of a transient error, with the tool's error in the message", async () => {
    sb = sandbox(["tofu"], { STANDIN_APPLY_TRANSIENT_FAILURES: "99" });
    const err = await selectEngine("tofu", sb.env).apply(sb.ctx(openstackCluster())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineCommandError);
    expect((err as EngineCommandError).transient).toBe(true);
    expect((err as Error).message).toMatch(/tofu apply failed \(exit 1\) after retries[\s\S]*to become ready/);
    expect(steps().filter((s) => s.startsWith("apply"))).toHaveLength(4);
  });

  it("does not retry a permanent error (quota)", async () => {
    sb = sandbox(["tofu"], { STANDIN_APPLY_PERMANENT: "1" });
    await expect(selectEngine("tofu", sb.env).apply(sb.ctx(openstackCluster()))).rejects.toThrow(/Quota exceeded for instances/);
    expect(steps().filter((s) => s.startsWith("apply"))).toHaveLength(1);
    expect(retries(sb.events, "apply")).toEqual([]);
  });

  it("retries init when the provider registry flakes", async () => {
    sb = sandbox(["terraform"], { STANDIN_INIT_TRANSIENT_FAILURES: "1" });
    await selectEngine("terraform", sb.env).apply(sb.ctx(openstackCluster()));
    expect(steps("terraform").filter((s) => s.startsWith("init"))).toHaveLength(2);
    expect(retries(sb.events, "init")[0]!.reason).toMatch(/Failed to query available provider packages/);
  });

  it("destroy: falls back to -refresh=false when the refresh fails because the image is gone", async () => {
    sb = sandbox(["tofu"]);
    const engine = selectEngine("tofu", sb.env);
    const cluster = openstackCluster();
    await engine.apply(sb.ctx(cluster, { parallelism: 3 }));
    sb.env.STANDIN_DESTROY_REFRESH_FAIL = "1";
    await engine.destroy(sb.ctx(cluster, { parallelism: 3 }));
    expect(steps().filter((s) => s.startsWith("destroy"))).toEqual([
      "destroy -auto-approve -input=false -no-color -parallelism=3",
      "destroy -auto-approve -input=false -no-color -parallelism=3 -refresh=false",
    ]);
    const r = retries(sb.events, "destroy");
    expect(r).toHaveLength(1);
    expect(r[0]!.reason).toMatch(/Unable to find image: Debian-12 — retrying with -refresh=false/);
    expect(r[0]!.delayMs).toBe(0);
    const state = JSON.parse(readFileSync(join(sb.workDir, "terraform.tfstate"), "utf8"));
    expect(state.resources).toEqual([]);
  });

  it("destroy: retries a transient API error without dropping the refresh", async () => {
    sb = sandbox(["tofu"]);
    const engine = selectEngine("tofu", sb.env);
    await engine.apply(sb.ctx(openstackCluster()));
    sb.env.STANDIN_DESTROY_TRANSIENT_FAILURES = "1";
    await engine.destroy(sb.ctx(openstackCluster()));
    expect(steps().filter((s) => s.startsWith("destroy"))).toEqual([
      "destroy -auto-approve -input=false -no-color -parallelism=10", "destroy -auto-approve -input=false -no-color -parallelism=10",
    ]);
    expect(retries(sb.events, "destroy")[0]!.reason).toMatch(/got 503 instead/);
  });

  it("destroy: nothing to do without state; re-synthesizes a lost config when the state is there", async () => {
    sb = sandbox(["tofu"]);
    const engine = selectEngine("tofu", sb.env);
    const cluster = openstackCluster();
    await engine.destroy(sb.ctx(cluster));
    expect(steps()).toEqual(["version -json"]);
    expect(sb.events.some((e) => e.type === "info" && /nothing for the engine to destroy/.test(e.message))).toBe(true);

    await engine.apply(sb.ctx(cluster));
    rmSync(join(sb.workDir, "cdk.tf.json"));
    // No public key at down time: destroy creates nothing, so a placeholder is enough.
    await engine.destroy({ ...sb.ctx(cluster), publicKey: undefined, userData: undefined });
    expect(steps().at(-1)).toBe("destroy -auto-approve -input=false -no-color -parallelism=10");
    expect(sb.events.some((e) => e.type === "info" && /re-synthesized/.test(e.message))).toBe(true);
  });

  it("outputs before any apply is a clear error", async () => {
    sb = sandbox(["tofu"]);
    await expect(selectEngine("tofu", sb.env).outputs(sb.ctx(openstackCluster()))).rejects.toThrow(/not applied .* \(run up\)/);
  });

  it("refuses a terraform older than 1.5 before touching anything", async () => {
    sb = sandbox(["terraform"], { STANDIN_VERSION: "1.4.7" });
    const err = await selectEngine("terraform", sb.env).apply(sb.ctx(openstackCluster())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineUnavailableError);
    expect((err as Error).message).toMatch(/terraform 1\.4\.7 is older than 1\.5[\s\S]*developer\.hashicorp\.com/);
    expect(steps("terraform")).toEqual(["version -json"]);
    expect(existsSync(sb.workDir)).toBe(false);
  });

  it("aborts on the signal (during a retry pause)", async () => {
    sb = sandbox(["tofu"], { STANDIN_APPLY_TRANSIENT_FAILURES: "99" });
    const ac = new AbortController();
    const p = selectEngine("tofu", sb.env).apply(sb.ctx(openstackCluster(), { signal: ac.signal, retry: { retries: 3, delayMs: 60_000 }, onEvent: (e) => { if (e.type === "retry") ac.abort(new Error("cancelled by user")); } }));
    await expect(p).rejects.toThrow(/cancelled by user/);
  });
});

describe("state backends", () => {
  it("renders an S3-compatible backend block; the credentials stay in the environment", async () => {
    sb = sandbox(["tofu"]);
    const cluster = openstackCluster();
    await selectEngine("tofu", sb.env).apply(sb.ctx(cluster, { backend: { type: "s3", bucket: "tfstate", endpoint: "https://s3.example.org", region: "eu-west" } }));
    const tf = JSON.parse(readFileSync(join(sb.workDir, "cdk.tf.json"), "utf8"));
    expect(tf.terraform.backend).toEqual({ s3: {
      bucket: "tfstate", key: "uws-cluster/t-cluster-0123456789ab/terraform.tfstate", region: "eu-west", endpoints: { s3: "https://s3.example.org" },
      use_path_style: true, skip_credentials_validation: true, skip_region_validation: true, skip_requesting_account_id: true,
      skip_metadata_api_check: true, skip_s3_checksum: true,
    } });
    expect(sb.events.some((e) => e.type === "line" && /Successfully configured the backend "s3"/.test(e.line))).toBe(true);
    expect(existsSync(join(sb.workDir, "terraform.tfstate"))).toBe(false); // state lives in the backend
    expect(sb.calls("tofu").every((c) => c.env.hasAwsSecret === true)).toBe(true);
  });

  it("renders http and swift (through Swift's S3 API) backends", async () => {
    sb = sandbox(["terraform"]);
    const engine = new TerraformEngine("terraform", join(sb.bin, "terraform"));
    const cluster = openstackCluster();
    engine.writeConfig(sb.ctx(cluster, { backend: { type: "http", address: "https://gitlab.example.org/api/v4/projects/7/terraform/state/c1", lockAddress: "https://gitlab.example.org/api/v4/projects/7/terraform/state/c1/lock", lockMethod: "POST", unlockMethod: "DELETE" } }));
    expect(JSON.parse(readFileSync(join(sb.workDir, "cdk.tf.json"), "utf8")).terraform.backend).toEqual({ http: {
      address: "https://gitlab.example.org/api/v4/projects/7/terraform/state/c1", lock_address: "https://gitlab.example.org/api/v4/projects/7/terraform/state/c1/lock",
      lock_method: "POST", unlock_method: "DELETE",
    } });
    engine.writeConfig(sb.ctx(cluster, { backend: { type: "swift", container: "uws-state", endpoint: "https://object.example.org:8080" } }));
    const s3 = JSON.parse(readFileSync(join(sb.workDir, "cdk.tf.json"), "utf8")).terraform.backend.s3;
    expect(s3).toMatchObject({ bucket: "uws-state", endpoints: { s3: "https://object.example.org:8080" }, use_path_style: true, skip_credentials_validation: true });
  });

  it("refuses credentials in the backend config", async () => {
    sb = sandbox(["tofu"]);
    const ctx = sb.ctx(openstackCluster(), { backend: { type: "s3", bucket: "b", secret_key: "x" } as never });
    await expect(selectEngine("tofu", sb.env).apply(ctx)).rejects.toThrow(/backend\.secret_key: unknown field .* read from the environment \(AWS_ACCESS_KEY_ID/);
  });
});

describe("no credential leaves the environment", () => {
  it("not in cdk.tf.json, any work-dir file, events or errors — even when the tool echoes one", async () => {
    sb = sandbox(["tofu"], { STANDIN_ECHO_SECRET: "1" });
    const engine = selectEngine("tofu", sb.env);
    const cluster = openstackCluster({ aai: { preset: "eduteams", clientId: "c", clientSecret: { env: "UWS_OIDC_CLIENT_SECRET" } } });
    await engine.apply(sb.ctx(cluster, { backend: { type: "s3", bucket: "b", endpoint: "https://s3.example.org" } }));
    sb.env.STANDIN_APPLY_PERMANENT = "1";
    const err = await engine.apply(sb.ctx(cluster)).catch((e: Error) => e);
    const echoed = sb.events.filter((e) => e.type === "line" && e.line.includes("application_credential_secret="));
    expect(echoed.length).toBeGreaterThan(0);
    expect(echoed.every((e) => e.type === "line" && e.line.includes("[redacted]"))).toBe(true);
    const texts = [JSON.stringify(sb.events), String(err), ...filesUnder(sb.workDir).map((f) => f.text)];
    expect(filesUnder(sb.workDir).map((f) => f.path)).toContain(join(sb.workDir, "cdk.tf.json"));
    for (const value of Object.values(FAKE_SECRETS)) for (const t of texts) expect(t).not.toContain(value);
  });

  it("a credential value that would land in cdk.tf.json stops the write", async () => {
    sb = sandbox(["tofu"]);
    const cluster = openstackCluster();
    // E.g. a user pasting a secret into a field that is rendered (here: user-data).
    const ctx = sb.ctx(cluster, { userData: { [cluster.head.name]: `#cloud-config\npassword: ${FAKE_SECRETS.OS_PASSWORD}\n` } });
    await expect(selectEngine("tofu", sb.env).apply(ctx)).rejects.toThrow(/refusing to write cdk\.tf\.json/);
    expect(existsSync(join(sb.workDir, "cdk.tf.json"))).toBe(false);
  });
});
