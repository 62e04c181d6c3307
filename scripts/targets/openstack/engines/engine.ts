/**
 * One interface for the IaC engines that create a cluster's cloud resources: terraform / tofu (on the
 * synthesized cdk.tf.json) and pulumi (the Automation API on stacks/pulumi). The CLI (`up`/`down
 * --engine`) only talks to this interface.
 */
import type { Cluster } from "../../../../stacks/model/index.js";
import { CliError, PreflightError } from "../../../errors.js";
import type { BackendConfig } from "./backend.js";

export type EngineName = "terraform" | "tofu" | "pulumi";

export interface EngineOutputs {
  /** Floating IP of the head (the head's access address when the network is reused). */
  headPublicIp: string;
  /** Private address of every node, by node name. */
  privateIps: Record<string, string>;
  clusterId: string;
}

export type EngineStep = "check" | "init" | "apply" | "output" | "destroy" | "up" | "select";

export type EngineEvent =
  | { type: "start"; engine: EngineName; step: EngineStep; attempt: number; argv: string[] }
  | { type: "line"; engine: EngineName; step: EngineStep; stream: "stdout" | "stderr"; line: string }
  | { type: "retry"; engine: EngineName; step: EngineStep; attempt: number; delayMs: number; reason: string }
  | { type: "done"; engine: EngineName; step: EngineStep; ms: number; code: number | null }
  | { type: "info"; engine: EngineName; message: string };

export interface RetryPolicy {
  /** Retries after the first attempt, on transient failures only (default 3). */
  retries: number;
  /** Wait before the first retry; each further retry waits one more multiple (30 s, 60 s, 90 s by default). */
  delayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 3, delayMs: 30_000 };
const DEFAULT_PARALLELISM = 10;

export interface EngineContext {
  cluster: Cluster;
  /** One directory per cluster under the state dir (created 0700 when missing). */
  workDir: string;
  /** Public half of the generated keypair (keypair mode generate). */
  publicKey?: string;
  /** cloud-init user-data by node name. */
  userData?: Record<string, string>;
  /** Environment of the child processes: the user's OS_* / OS_CLOUD + clouds.yaml are read by the provider, never by us. */
  env: NodeJS.ProcessEnv;
  onEvent?: (e: EngineEvent) => void;
  /** Concurrent resource operations (terraform -parallelism, pulumi --parallel). Default 10. */
  parallelism?: number;
  /** Where the engine keeps its state; local (in workDir) by default. */
  backend?: BackendConfig;
  signal?: AbortSignal;
  retry?: RetryPolicy;
}

export interface Engine {
  readonly name: EngineName;
  /** Absolute path of the executable the engine runs. */
  readonly binary: string;
  /** Verifies the tools are present and recent enough (pulumi: the OpenStack plugin too); throws EngineUnavailableError. */
  check(ctx: Pick<EngineContext, "env" | "signal" | "onEvent">): Promise<void>;
  /** Creates or updates the cluster's resources (init + apply, retried on transient errors) and returns the outputs. */
  apply(ctx: EngineContext): Promise<EngineOutputs>;
  /** Outputs of the last apply. */
  outputs(ctx: EngineContext): Promise<EngineOutputs>;
  /**
   * Destroys what the engine's state knows. Never needs the image or flavor to still exist; a no-op
   * (with an info event) when there is no state. The tag sweep runs after it either way.
   */
  destroy(ctx: EngineContext): Promise<void>;
}

/** A tool the engine needs is missing: says exactly what to install. Exit code 3 (pre-flight). */
export class EngineUnavailableError extends PreflightError {
  constructor(readonly engine: string, readonly missing: string[], readonly install: string[]) {
    super(`The ${engine} engine cannot run: ${missing.join("; ")}.\nInstall:\n${install.map((s) => `  ${s}`).join("\n")}`);
  }
}

/** An engine command failed (after its retries). The message holds the last lines of its output, redacted. */
export class EngineCommandError extends CliError {
  constructor(readonly engine: EngineName, readonly step: EngineStep, readonly code: number | null, readonly tail: string, readonly transient: boolean) {
    super(`${engine} ${step} failed${code !== null ? ` (exit ${code})` : ""}${transient ? " after retries on transient errors" : ""}:\n${tail}`);
  }
}

export function emit(ctx: Pick<EngineContext, "onEvent">, e: EngineEvent): void {
  ctx.onEvent?.(e);
}

export function parallelismOf(ctx: Pick<EngineContext, "parallelism">): number {
  const p = ctx.parallelism ?? DEFAULT_PARALLELISM;
  if (!Number.isInteger(p) || p < 1 || p > 1000) throw new Error(`parallelism must be an integer from 1 to 1000, got ${p}: pass e.g. --parallelism 10`);
  return p;
}

/** Checks and maps the stack outputs both engines declare (head_public_ip, private_ips, cluster_id). */
export function outputsFrom(values: Record<string, unknown>, what: string): EngineOutputs {
  const missing = ["head_public_ip", "private_ips", "cluster_id"].filter((k) => values[k] === undefined || values[k] === null);
  if (missing.length) throw new Error(`${what} lacks ${missing.join(", ")}: the cluster was not (fully) applied; run up again`);
  const ips = values.private_ips;
  if (typeof ips !== "object" || Array.isArray(ips) || Object.values(ips as object).some((v) => typeof v !== "string")) {
    throw new Error(`${what}: private_ips is not a map of node name to address`);
  }
  return { headPublicIp: String(values.head_public_ip), privateIps: ips as Record<string, string>, clusterId: String(values.cluster_id) };
}
