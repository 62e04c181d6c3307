/**
 * The pulumi engine: stacks/pulumi run through the Automation API (pulumi-automation.ts, loaded only
 * when this engine runs, so terraform users never load @pulumi). Needs the pulumi CLI and the
 * pulumi-resource-openstack plugin of the version @pulumi/openstack was built for; both are checked
 * before anything else happens.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";
import { EngineUnavailableError, emit, type Engine, type EngineContext, type EngineOutputs } from "./engine.js";
import { redactorFor } from "../redact.js";
import { reasonOf } from "./retry.js";
import { runTool } from "./run.js";
import { findExecutable } from "./which.js";

/** The Automation API's own floor (@pulumi/pulumi/automation/minimumVersion). */
const MIN_CLI: [number, number] = [3, 2];

/** The plugin version the installed @pulumi/openstack package talks to (3.15.2). */
export function openstackPluginVersion(): string {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(require.resolve("@pulumi/openstack/package.json"), "utf8")) as { version: string };
  return pkg.version.replace(/^v/, "");
}

export function pulumiInstallHints(pluginVersion = openstackPluginVersion()): { cli: string; plugin: string } {
  return {
    cli: "the pulumi CLI: curl -fsSL https://get.pulumi.com | sh   (then put ~/.pulumi/bin on PATH)",
    plugin: `the OpenStack plugin: pulumi plugin install resource openstack ${pluginVersion}`,
  };
}

function pulumiHome(env: NodeJS.ProcessEnv): string {
  return env.PULUMI_HOME ?? join(env.HOME ?? homedir(), ".pulumi");
}

/** The pulumi CLI on PATH or where get.pulumi.com installs it (~/.pulumi/bin). */
export function findPulumi(env: NodeJS.ProcessEnv): string | undefined {
  return findExecutable("pulumi", env, [join(pulumiHome(env), "bin")]);
}

export function requirePulumi(env: NodeJS.ProcessEnv): string {
  const bin = findPulumi(env);
  if (bin) return bin;
  const hints = pulumiInstallHints();
  const pluginThere = existsSync(join(pulumiHome(env), "plugins", `resource-openstack-v${openstackPluginVersion()}`));
  throw new EngineUnavailableError("pulumi", ["the pulumi CLI is not on PATH (nor in ~/.pulumi/bin)"],
    [hints.cli, ...(pluginThere ? [] : [hints.plugin]), "or use --engine tofu / --engine terraform"]);
}

export class PulumiEngine implements Engine {
  readonly name = "pulumi" as const;
  constructor(readonly binary: string) {}

  async check(ctx: Pick<EngineContext, "env" | "signal" | "onEvent">): Promise<void> {
    const redact = redactorFor(ctx.env);
    // A user-level passphrase is not ours to pass on: each cluster's stack has its own (pulumi-automation.ts).
    const { PULUMI_CONFIG_PASSPHRASE: _ignored, ...rest } = ctx.env;
    const env = { ...rest, PULUMI_SKIP_UPDATE_CHECK: "true" };
    const hints = pulumiInstallHints();
    const v = await runTool("pulumi", "check", this.binary, ["version"], { cwd: process.cwd(), env, redact, ctx, attempt: 1, captureStdout: true });
    const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(v.stdout);
    if (v.code !== 0 || !m) throw new EngineUnavailableError("pulumi", [`${this.binary} version did not answer (${reasonOf(v.tail || v.stdout)})`], [hints.cli]);
    if (Number(m[1]) < MIN_CLI[0] || (Number(m[1]) === MIN_CLI[0] && Number(m[2]) < MIN_CLI[1])) {
      throw new EngineUnavailableError("pulumi", [`pulumi ${m[0]} is older than ${MIN_CLI.join(".")}`], [hints.cli]);
    }
    const want = openstackPluginVersion();
    const ls = await runTool("pulumi", "check", this.binary, ["plugin", "ls", "--json"], { cwd: process.cwd(), env, redact, ctx, attempt: 1, captureStdout: true });
    let plugins: Array<{ name?: string; kind?: string; version?: string }> = [];
    try {
      plugins = JSON.parse(ls.stdout || "[]") ?? [];
    } catch {
      plugins = [];
    }
    const found = plugins.some((p) => p.name === "openstack" && p.kind === "resource" && p.version?.replace(/^v/, "") === want);
    if (!found) {
      const other = plugins.filter((p) => p.name === "openstack" && p.kind === "resource").map((p) => p.version).join(", ");
      throw new EngineUnavailableError("pulumi", [`the pulumi-resource-openstack plugin ${want} is not installed${other ? ` (found ${other})` : ""}`],
        [hints.plugin, "or use --engine tofu / --engine terraform"]);
    }
    emit(ctx, { type: "info", engine: "pulumi", message: `pulumi ${m[0]} at ${this.binary}, resource plugin openstack ${want}` });
  }

  async apply(ctx: EngineContext): Promise<EngineOutputs> {
    await this.check(ctx);
    const auto = await import("./pulumi-automation.js");
    return auto.up(ctx, this.binary);
  }

  async outputs(ctx: EngineContext): Promise<EngineOutputs> {
    await this.check(ctx);
    const auto = await import("./pulumi-automation.js");
    return auto.outputs(ctx, this.binary);
  }

  async destroy(ctx: EngineContext): Promise<void> {
    await this.check(ctx);
    const auto = await import("./pulumi-automation.js");
    return auto.destroy(ctx, this.binary);
  }
}
