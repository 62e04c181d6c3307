/**
 * Automation API calls for the pulumi engine. The only module of scripts/ that imports @pulumi.
 * One stack per cluster (`<name>-<id>`), project `uws-cluster`, program = stacks/pulumi inline;
 * state in a file backend in the work dir by default; secrets encrypted with a passphrase generated
 * per cluster and kept 0600 in the work dir (handed to the CLI as a file, never as a value).
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { LocalWorkspace, PulumiCommand, StackNotFoundError, type Stack } from "@pulumi/pulumi/automation/index.js";
import { qualifiedName } from "../../../../stacks/model/index.js";
import { clusterProgram } from "../../../../stacks/pulumi/index.js";
import { pulumiBackendUrl } from "./backend.js";
import { EngineCommandError, emit, parallelismOf, type EngineContext, type EngineOutputs, type EngineStep } from "./engine.js";
import { redactorFor, type Redactor } from "../redact.js";
import { isTransient, reasonOf, withRetries } from "./retry.js";
import { outputsFrom } from "./engine.js";

const PROJECT = "uws-cluster";
const PASSPHRASE_FILE = "pulumi-passphrase";

function stackName(ctx: EngineContext): string {
  return qualifiedName(ctx.cluster.name, ctx.cluster.id);
}

function passphraseFile(workDir: string): string {
  const p = join(workDir, PASSPHRASE_FILE);
  if (!existsSync(p)) writeFileSync(p, randomBytes(32).toString("base64url") + "\n", { mode: 0o600, flag: "wx" });
  chmodSync(p, 0o600);
  return p;
}

async function workspace(ctx: EngineContext, binary: string, mode: "createOrSelect" | "select"): Promise<Stack> {
  mkdirSync(ctx.workDir, { recursive: true, mode: 0o700 });
  chmodSync(ctx.workDir, 0o700);
  const backendUrl = pulumiBackendUrl(ctx.backend, ctx.cluster, ctx.workDir);
  if (backendUrl.startsWith("file://")) mkdirSync(backendUrl.slice("file://".length), { recursive: true, mode: 0o700 });
  const envVars: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.env)) if (v !== undefined && k !== "PULUMI_CONFIG_PASSPHRASE") envVars[k] = v;
  Object.assign(envVars, {
    PULUMI_BACKEND_URL: backendUrl,
    PULUMI_CONFIG_PASSPHRASE_FILE: passphraseFile(ctx.workDir),
    PULUMI_SKIP_UPDATE_CHECK: "true",
  });
  // The CLI we checked, not whatever `pulumi` this process's PATH finds (PulumiCommand wants its root).
  const pulumiCommand = basename(dirname(binary)) === "bin" ? await PulumiCommand.get({ root: dirname(dirname(binary)) }) : await PulumiCommand.get();
  const program = clusterProgram(ctx.cluster, { publicKey: ctx.publicKey, userData: ctx.userData });
  const args = { stackName: stackName(ctx), projectName: PROJECT, program: async () => ({ ...(await program()) }) };
  const opts = {
    workDir: ctx.workDir, envVars, pulumiCommand, secretsProvider: "passphrase",
    projectSettings: { name: PROJECT, runtime: "nodejs" as const, backend: { url: backendUrl }, description: "uws-cluster clusters (one stack per cluster)" },
  };
  return mode === "createOrSelect" ? LocalWorkspace.createOrSelectStack(args, opts) : LocalWorkspace.selectStack(args, opts);
}

function lineSink(ctx: EngineContext, step: EngineStep, redact: Redactor, stream: "stdout" | "stderr"): (chunk: string) => void {
  let buf = "";
  return (chunk) => {
    buf += chunk;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const l of lines) if (l.trim()) emit(ctx, { type: "line", engine: "pulumi", step, stream, line: redact(l) });
  };
}

async function retried(ctx: EngineContext, step: EngineStep, fn: (n: number) => Promise<void>): Promise<void> {
  const redact = redactorFor(ctx.env);
  let lastText = "";
  await withRetries(ctx, "pulumi", step, async (n) => {
    const started = Date.now();
    emit(ctx, { type: "start", engine: "pulumi", step, attempt: n, argv: ["pulumi", step, "--stack", stackName(ctx)] });
    try {
      await fn(n);
      emit(ctx, { type: "done", engine: "pulumi", step, ms: Date.now() - started, code: 0 });
      return undefined;
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      lastText = redact(String((err as Error).message ?? err)).split("\n").slice(-200).join("\n");
      emit(ctx, { type: "done", engine: "pulumi", step, ms: Date.now() - started, code: null });
      return { transient: isTransient(lastText), reason: reasonOf(lastText) };
    }
  }, (f) => { throw new EngineCommandError("pulumi", step, null, lastText || f.reason, f.transient); });
}

export async function up(ctx: EngineContext, binary: string): Promise<EngineOutputs> {
  const parallel = parallelismOf(ctx);
  const redact = redactorFor(ctx.env);
  const stack = await workspace(ctx, binary, "createOrSelect");
  let result: Awaited<ReturnType<Stack["up"]>> | undefined;
  await retried(ctx, "up", async () => {
    result = await stack.up({
      parallel, color: "never", signal: ctx.signal,
      onOutput: lineSink(ctx, "up", redact, "stdout"), onError: lineSink(ctx, "up", redact, "stderr"),
    });
  });
  return outputsFrom(Object.fromEntries(Object.entries(result!.outputs).map(([k, v]) => [k, v.value])), "pulumi stack output");
}

export async function outputs(ctx: EngineContext, binary: string): Promise<EngineOutputs> {
  let stack: Stack;
  try {
    stack = await workspace(ctx, binary, "select");
  } catch (err) {
    if (err instanceof StackNotFoundError) throw new Error(`no pulumi stack ${stackName(ctx)} in ${pulumiBackendUrl(ctx.backend, ctx.cluster, ctx.workDir)}: the cluster was not applied with pulumi from this state (run up)`);
    throw err;
  }
  const out = await stack.outputs();
  return outputsFrom(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.value])), "pulumi stack output");
}

export async function destroy(ctx: EngineContext, binary: string): Promise<void> {
  const parallel = parallelismOf(ctx);
  const redact = redactorFor(ctx.env);
  let stack: Stack;
  try {
    stack = await workspace(ctx, binary, "select");
  } catch (err) {
    if (err instanceof StackNotFoundError) {
      emit(ctx, { type: "info", engine: "pulumi", message: `no pulumi stack ${stackName(ctx)}: nothing for the engine to destroy` });
      return;
    }
    throw err;
  }
  // pulumi destroy does not refresh unless asked, so a deleted image or flavor does not block it.
  await retried(ctx, "destroy", async () => {
    await stack.destroy({
      parallel, color: "never", signal: ctx.signal,
      onOutput: lineSink(ctx, "destroy", redact, "stdout"), onError: lineSink(ctx, "destroy", redact, "stderr"),
    });
  });
}
