import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { emit, type EngineContext, type EngineName, type EngineStep } from "./engine.js";
import type { Redactor } from "../redact.js";

export interface RunResult {
  code: number | null;
  /** The last lines of stdout + stderr, redacted (for error messages and failure classification). */
  tail: string;
  /** Full stdout (for machine-readable output such as `output -json`); not streamed as events when captured. */
  stdout: string;
}

const TAIL_LINES = 200;

/**
 * Runs one engine command, streaming its lines (redacted) as events. Never throws on a non-zero
 * exit: the caller decides (retry, fallback or error). Aborting sends SIGINT, which terraform,
 * tofu and pulumi treat as "stop gracefully".
 */
export function runTool(
  engine: EngineName, step: EngineStep, bin: string, args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; redact: Redactor; ctx: Pick<EngineContext, "onEvent" | "signal">; attempt: number; captureStdout?: boolean },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (opts.ctx.signal?.aborted) return reject(opts.ctx.signal.reason ?? new Error("aborted"));
    emit(opts.ctx, { type: "start", engine, step, attempt: opts.attempt, argv: [bin, ...args] });
    const started = Date.now();
    const child = spawn(bin, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    let stdout = "";
    const onAbort = () => child.kill("SIGINT");
    opts.ctx.signal?.addEventListener("abort", onAbort, { once: true });
    const pump = (stream: "stdout" | "stderr", input: NodeJS.ReadableStream) => {
      const rl = createInterface({ input, crlfDelay: Infinity });
      rl.on("line", (raw) => {
        const line = opts.redact(raw);
        if (stream === "stdout" && opts.captureStdout) { stdout += raw + "\n"; return; }
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        emit(opts.ctx, { type: "line", engine, step, stream, line });
      });
      return new Promise<void>((r) => rl.on("close", () => r()));
    };
    const done = Promise.all([pump("stdout", child.stdout!), pump("stderr", child.stderr!)]);
    child.on("error", (err) => {
      opts.ctx.signal?.removeEventListener("abort", onAbort);
      reject(new Error(`cannot run ${bin}: ${err.message}`));
    });
    child.on("close", async (code) => {
      await done;
      opts.ctx.signal?.removeEventListener("abort", onAbort);
      if (opts.ctx.signal?.aborted) return reject(opts.ctx.signal.reason ?? new Error("aborted"));
      emit(opts.ctx, { type: "done", engine, step, ms: Date.now() - started, code });
      resolve({ code, tail: tail.join("\n"), stdout });
    });
  });
}
