/**
 * The terraform / tofu engine: the CDKTF synthesis of the cluster (cdk.tf.json) in the cluster's
 * work dir, then `init`, `apply`, `output -json`, `destroy`. The provider reads the user's
 * clouds.yaml + OS_CLOUD or OS_* variables itself; nothing credential-like is written here.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { synthTerraform } from "../../../../stacks/terraform/synth.js";
import { terraformBackendBlock } from "./backend.js";
import {
  EngineCommandError, EngineUnavailableError, emit, outputsFrom, parallelismOf,
  type Engine, type EngineContext, type EngineOutputs, type EngineStep,
} from "./engine.js";
import { assertNoSecrets, redactorFor } from "../redact.js";
import { isTransient, reasonOf, withRetries } from "./retry.js";
import { runTool, type RunResult } from "./run.js";

export const CONFIG_FILE = "cdk.tf.json";
/** Terraform ≥ 1.5 and OpenTofu ≥ 1.6 run the synthesized config unchanged (architecture.md). */
const MIN_VERSION: Record<"terraform" | "tofu", [number, number]> = { terraform: [1, 5], tofu: [1, 6] };
/** Stands in for the public key when destroy has to re-synthesize a lost config: destroy creates nothing. */
const DESTROY_PLACEHOLDER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHV3cy1jbHVzdGVyLWRlc3Ryb3ktcGxhY2Vob2xkZXI= uws-cluster-destroy";

/**
 * A failed refresh of something that no longer exists (the image or flavor an instance was booted
 * from, deleted since): destroy does not need it, so it is retried with -refresh=false.
 */
const REFRESH_FAILURE = /(image|flavor)[^\n]*(not found|could not be found|unable to find|no longer exists?|error retrieving)|(unable to find|no|could not find|error retrieving|error reading|error getting)[^\n]*(image|flavor)|Error refreshing state|while refreshing/i;

export class TerraformEngine implements Engine {
  constructor(readonly name: "terraform" | "tofu", readonly binary: string) {}

  childEnv(ctx: Pick<EngineContext, "env">): NodeJS.ProcessEnv {
    // The user's OS_* / OS_CLOUD stay as they are: the provider reads them.
    return { ...ctx.env, TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" };
  }

  async check(ctx: Pick<EngineContext, "env" | "signal" | "onEvent">): Promise<void> {
    const r = await runTool(this.name, "check", this.binary, ["version", "-json"], {
      cwd: process.cwd(), env: this.childEnv(ctx), redact: redactorFor(ctx.env), ctx, attempt: 1, captureStdout: true,
    });
    let version: string | undefined;
    try {
      version = (JSON.parse(r.stdout) as { terraform_version?: string; version?: string }).terraform_version;
    } catch {
      version = /v?(\d+\.\d+\.\d+)/.exec(r.stdout)?.[1];
    }
    const m = /^(\d+)\.(\d+)/.exec(version ?? "");
    const [maj, min] = MIN_VERSION[this.name];
    if (r.code !== 0 || !m) throw new EngineUnavailableError(this.name, [`${this.binary} version did not answer (${reasonOf(r.tail || r.stdout)})`], [installHint(this.name)]);
    if (Number(m[1]) < maj || (Number(m[1]) === maj && Number(m[2]) < min)) {
      throw new EngineUnavailableError(this.name, [`${this.name} ${version} is older than ${maj}.${min}`], [installHint(this.name)]);
    }
    emit(ctx, { type: "info", engine: this.name, message: `${this.name} ${version} at ${this.binary}` });
  }

  /** Writes cdk.tf.json (0600) for the cluster; returns its path. */
  writeConfig(ctx: EngineContext, opts: { publicKey?: string } = {}): string {
    mkdirSync(ctx.workDir, { recursive: true, mode: 0o700 });
    chmodSync(ctx.workDir, 0o700);
    const tf = synthTerraform(ctx.cluster, {
      publicKey: opts.publicKey ?? ctx.publicKey, userData: ctx.userData, backend: terraformBackendBlock(ctx.backend, ctx.cluster),
    });
    const text = JSON.stringify(tf, null, 2) + "\n";
    assertNoSecrets(text, ctx.env, CONFIG_FILE);
    const path = join(ctx.workDir, CONFIG_FILE);
    writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
    return path;
  }

  async apply(ctx: EngineContext): Promise<EngineOutputs> {
    const parallelism = parallelismOf(ctx);
    await this.check(ctx);
    this.writeConfig(ctx);
    await this.step(ctx, "init", ["init", "-input=false", "-no-color"]);
    await this.step(ctx, "apply", ["apply", "-auto-approve", "-input=false", "-no-color", `-parallelism=${parallelism}`]);
    return this.outputs(ctx);
  }

  async outputs(ctx: EngineContext): Promise<EngineOutputs> {
    if (!existsSync(join(ctx.workDir, CONFIG_FILE))) throw new Error(`no ${CONFIG_FILE} in ${ctx.workDir}: the cluster was not applied with ${this.name} from this machine (run up)`);
    if (!existsSync(join(ctx.workDir, ".terraform"))) await this.step(ctx, "init", ["init", "-input=false", "-no-color"]);
    let out: RunResult | undefined;
    await this.step(ctx, "output", ["output", "-json"], (r) => { out = r; });
    return parseTerraformOutputs(out!.stdout, this.name);
  }

  async destroy(ctx: EngineContext): Promise<void> {
    const parallelism = parallelismOf(ctx);
    await this.check(ctx);
    const local = !ctx.backend || ctx.backend.type === "local";
    if (local && !hasResources(join(ctx.workDir, "terraform.tfstate"))) {
      emit(ctx, { type: "info", engine: this.name, message: `no ${this.name} state with resources in ${ctx.workDir}: nothing for the engine to destroy` });
      return;
    }
    if (!existsSync(join(ctx.workDir, CONFIG_FILE))) {
      // Destroy needs a config only for the provider and backend; the state says what exists.
      this.writeConfig(ctx, { publicKey: ctx.publicKey ?? DESTROY_PLACEHOLDER_KEY });
      emit(ctx, { type: "info", engine: this.name, message: `${CONFIG_FILE} was missing: re-synthesized from the spec for destroy` });
    }
    if (!existsSync(join(ctx.workDir, ".terraform"))) await this.step(ctx, "init", ["init", "-input=false", "-no-color"]);
    const base = ["destroy", "-auto-approve", "-input=false", "-no-color", `-parallelism=${parallelism}`];
    let noRefresh = false;
    let last: RunResult | undefined;
    await withRetries(ctx, this.name, "destroy", async (n) => {
      const r = await this.run(ctx, "destroy", noRefresh ? [...base, "-refresh=false"] : base, n);
      last = r;
      if (r.code === 0) return undefined;
      const transient = isTransient(r.tail);
      if (!noRefresh && (REFRESH_FAILURE.test(r.tail) || !transient)) {
        // The state still lists what to delete; a destroy without refresh needs nothing that may
        // have vanished since apply (image, flavor, data sources).
        noRefresh = true;
        return { transient: true, immediate: true, reason: `${reasonOf(r.tail)} — retrying with -refresh=false` };
      }
      return { transient, reason: reasonOf(r.tail) };
    }, (f) => { throw new EngineCommandError(this.name, "destroy", last?.code ?? null, last?.tail || f.reason, f.transient); });
  }

  private run(ctx: EngineContext, step: EngineStep, args: string[], attempt: number, captureStdout = false): Promise<RunResult> {
    return runTool(this.name, step, this.binary, args, {
      cwd: ctx.workDir, env: this.childEnv(ctx), redact: redactorFor(ctx.env), ctx, attempt, captureStdout,
    });
  }

  /** One command, retried on transient failures; throws EngineCommandError with the output's tail. */
  private async step(ctx: EngineContext, step: EngineStep, args: string[], onSuccess?: (r: RunResult) => void): Promise<void> {
    let last: RunResult | undefined;
    await withRetries(ctx, this.name, step, async (n) => {
      const r = await this.run(ctx, step, args, n, step === "output");
      last = r;
      if (r.code === 0) { onSuccess?.(r); return undefined; }
      return { transient: isTransient(r.tail), reason: reasonOf(r.tail) };
    }, (f) => { throw new EngineCommandError(this.name, step, last?.code ?? null, last?.tail || f.reason, f.transient); });
  }
}

function hasResources(statePath: string): boolean {
  if (!existsSync(statePath)) return false;
  try {
    const s = JSON.parse(readFileSync(statePath, "utf8")) as { resources?: Array<{ mode?: string; instances?: unknown[] }> };
    return (s.resources ?? []).some((r) => r.mode !== "data" && (r.instances?.length ?? 0) > 0);
  } catch {
    return true; // unreadable state: let the tool decide
  }
}

function parseTerraformOutputs(stdout: string, engine: string): EngineOutputs {
  let doc: Record<string, { value?: unknown }>;
  try {
    doc = JSON.parse(stdout) as Record<string, { value?: unknown }>;
  } catch {
    throw new Error(`${engine} output -json did not print JSON: ${stdout.slice(0, 200)}`);
  }
  return outputsFrom(Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, v?.value])), `${engine} output`);
}

export function installHint(name: "terraform" | "tofu"): string {
  return name === "tofu"
    ? "OpenTofu ≥ 1.6: https://opentofu.org/docs/intro/install/ (e.g. apt install tofu from the OpenTofu repository)"
    : "Terraform ≥ 1.5: https://developer.hashicorp.com/terraform/install (e.g. apt install terraform from the HashiCorp repository)";
}
