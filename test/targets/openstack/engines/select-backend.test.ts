/**
 * selectEngine (with STAND-IN executables on a controlled PATH: the real tools cannot run here),
 * backend configuration, transient-error classification.
 */
import { mkdirSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  EngineUnavailableError, isTransient, parseBackendUrl, pulumiBackendUrl, selectEngine, terraformBackendBlock, validateBackend,
} from "../../../../scripts/targets/openstack/engines/index.js";
import { sandbox, type Sandbox } from "./standins.js";
import { openstackCluster } from "../../../harness/specs.js";

let sb: Sandbox | undefined;
afterEach(() => { sb?.cleanup(); sb = undefined; });
const unavailable = (fn: () => unknown): EngineUnavailableError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(EngineUnavailableError);
    return e as EngineUnavailableError;
  }
  throw new Error("expected EngineUnavailableError");
};

describe("selectEngine", () => {
  it("auto picks tofu over terraform, terraform when it is the only one", () => {
    sb = sandbox(["tofu", "terraform"]);
    expect(selectEngine("auto", sb.env)).toMatchObject({ name: "tofu", binary: join(sb.bin, "tofu") });
    expect(selectEngine("terraform", sb.env)).toMatchObject({ name: "terraform", binary: join(sb.bin, "terraform") });
    sb.cleanup();
    sb = sandbox(["terraform"]);
    expect(selectEngine("auto", sb.env).name).toBe("terraform");
  });

  it("auto with neither on PATH says what to install (exit code 3)", () => {
    sb = sandbox([]);
    const e = unavailable(() => selectEngine("auto", sb!.env));
    expect(e.exitCode).toBe(3);
    expect(e.message).toMatch(/neither tofu nor terraform is on PATH[\s\S]*OpenTofu ≥ 1\.6: https:\/\/opentofu\.org[\s\S]*Terraform ≥ 1\.5/);
    expect(unavailable(() => selectEngine("tofu", sb!.env)).message).toMatch(/tofu is not on PATH[\s\S]*opentofu\.org/);
  });

  it("ignores a non-executable file of the right name", () => {
    sb = sandbox([]);
    writeFileSync(join(sb.bin, "tofu"), "#!/bin/sh\n");
    chmodSync(join(sb.bin, "tofu"), 0o644);
    unavailable(() => selectEngine("tofu", sb!.env));
  });

  it("pulumi missing: names the CLI installer and the plugin command", () => {
    sb = sandbox(["tofu"]);
    const e = unavailable(() => selectEngine("pulumi", sb!.env));
    expect(e.message).toContain("curl -fsSL https://get.pulumi.com | sh");
    expect(e.message).toContain("pulumi plugin install resource openstack 3.15.2");
    expect(e.message).toContain("--engine tofu");
  });

  it("finds pulumi in ~/.pulumi/bin (where get.pulumi.com installs it) even off PATH", () => {
    sb = sandbox([]);
    const dir = join(sb.env.HOME!, ".pulumi", "bin");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "pulumi"), "#!/bin/sh\necho v3.190.0\n");
    chmodSync(join(dir, "pulumi"), 0o755);
    expect(selectEngine("pulumi", sb.env).binary).toBe(join(dir, "pulumi"));
  });

  it("rejects an unknown engine name", () => {
    expect(() => selectEngine("ansible" as never, {})).toThrow(/--engine: expected auto, tofu, terraform or pulumi/);
  });
});

describe("backend configuration", () => {
  const cluster = openstackCluster();

  it("parses backend URLs", () => {
    expect(parseBackendUrl("local")).toEqual({ type: "local" });
    expect(parseBackendUrl("s3://tfstate/ci/c1.tfstate?endpoint=https://s3.example.org&region=eu&path_style=true")).toEqual({
      type: "s3", bucket: "tfstate", key: "ci/c1.tfstate", endpoint: "https://s3.example.org", region: "eu", usePathStyle: true,
    });
    expect(parseBackendUrl("swift://uws-state?endpoint=https://object.example.org:8080")).toEqual({ type: "swift", container: "uws-state", endpoint: "https://object.example.org:8080" });
    expect(parseBackendUrl("https://gitlab.example.org/api/v4/projects/7/terraform/state/c1")).toEqual({ type: "http", address: "https://gitlab.example.org/api/v4/projects/7/terraform/state/c1" });
    expect(() => parseBackendUrl("s3://AKIA:secret@bucket/key")).toThrow(/credentials come from the environment/);
    expect(() => parseBackendUrl("s3://bucket?secret_key=x")).toThrow(/unknown parameter secret_key/);
    expect(() => parseBackendUrl("swift://c")).toThrow(/backend\.endpoint: required/);
    expect(() => parseBackendUrl("gcs://bucket")).toThrow(/unsupported scheme gcs:/);
  });

  it("rejects credential fields and names where they come from", () => {
    expect(() => validateBackend({ type: "http", address: "https://x", password: "p" })).toThrow(/backend\.password: .*TF_HTTP_USERNAME \+ TF_HTTP_PASSWORD/);
    expect(() => validateBackend({ type: "s3", bucket: "b", access_key: "a" })).toThrow(/AWS_ACCESS_KEY_ID/);
    expect(() => validateBackend({ type: "ftp" })).toThrow(/backend\.type: expected one of/);
    expect(() => validateBackend({ type: "http", address: "https://u:p@host/x" })).toThrow(/remove the user:password@ part/);
  });

  it("S3 on AWS keeps the AWS checks; a custom endpoint skips them", () => {
    expect(terraformBackendBlock({ type: "s3", bucket: "b", region: "eu-west-1" }, cluster)).toEqual({
      s3: { bucket: "b", key: "uws-cluster/t-cluster-0123456789ab/terraform.tfstate", region: "eu-west-1" },
    });
    expect(terraformBackendBlock({ type: "local" }, cluster)).toBeUndefined();
    expect(terraformBackendBlock(undefined, cluster)).toBeUndefined();
  });

  it("maps the same config to a Pulumi backend URL", () => {
    expect(pulumiBackendUrl(undefined, cluster, "/st/c")).toBe("file:///st/c/pulumi-state");
    expect(pulumiBackendUrl({ type: "s3", bucket: "b", endpoint: "https://s3.example.org" }, cluster, "/st/c"))
      .toBe("s3://b/uws-cluster/t-cluster-0123456789ab?endpoint=https%3A%2F%2Fs3.example.org&region=us-east-1&s3ForcePathStyle=true");
    expect(pulumiBackendUrl({ type: "swift", container: "c", key: "k", endpoint: "https://o.example.org" }, cluster, "/st/c"))
      .toBe("s3://c/k?endpoint=https%3A%2F%2Fo.example.org&region=us-east-1&s3ForcePathStyle=true");
    expect(pulumiBackendUrl({ type: "http", address: "https://api.pulumi.example.org" }, cluster, "/st/c")).toBe("https://api.pulumi.example.org");
  });
});

describe("transient error classification", () => {
  it.each([
    "Error: Error waiting for instance (6f1c) to become ready: unexpected state 'ERROR'",
    "Expected HTTP response code [202] when accessing [POST https://nova/servers], but got 503 instead",
    "Error: 502 Bad Gateway",
    "dial tcp 192.0.2.1:5000: i/o timeout",
    "read tcp: connection reset by peer",
    "Error: context deadline exceeded",
    "Error: 429 Too Many Requests",
    "Failed to query available provider packages",
  ])("transient: %s", (text) => expect(isTransient(text)).toBe(true));

  it.each([
    "Error: Quota exceeded for instances: Requested 3, but already used 10 of 10 instances",
    "Error: Quota exceeded for cores (request timed out waiting for quota)",
    "Error: 401 Unauthorized: The request you have made requires authentication.",
    "Error: Unsupported argument",
    "Error acquiring the state lock: ConditionalCheckFailedException (timeout)",
    "Error: Invalid flavor name",
  ])("permanent: %s", (text) => expect(isTransient(text)).toBe(false));
});
