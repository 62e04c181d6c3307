/**
 * Progress of a list of actions, kind-style: one line per action that turns from a spinner into
 * ✓ or ✗ on a TTY, plain lines otherwise, or one JSON object per event with --json. Every action
 * is timed; a failed action names itself and the node it failed on.
 */
import { CliError, EXIT, type ExitCode } from "../errors.js";

export interface ProgressEvent {
  event: "step" | "node";
  step: string;
  node?: string;
  status: "start" | "ok" | "fail";
  ms?: number;
  detail?: string;
  error?: string;
}

export type ProgressMode = "tty" | "plain" | "json" | "quiet";

/** An action failed: which one and on which node, with the cause's message (exit code: the cause's, else the step's). */
export class StepError extends CliError {
  constructor(readonly step: string, readonly node: string | undefined, readonly cause: unknown, exitCode: ExitCode = EXIT.failure) {
    super(`${step}${node ? ` (node ${node})` : ""}: ${cause instanceof Error ? cause.message : String(cause)}`, exitCode, "step", { step, ...(node ? { node } : {}) });
  }
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export class Progress {
  readonly timings: { step: string; ms: number }[] = [];
  private spinner?: NodeJS.Timeout;
  private current?: string;

  constructor(private readonly out: NodeJS.WritableStream, readonly mode: ProgressMode) {}

  static for(out: NodeJS.WritableStream & { isTTY?: boolean }, json: boolean): Progress {
    return new Progress(out, json ? "json" : out.isTTY ? "tty" : "plain");
  }

  /** Runs one action. Errors become StepError naming the action (and the node, when a NodeError says so). */
  async step<T>(title: string, fn: () => Promise<T>, exitCode: ExitCode = EXIT.failure): Promise<T> {
    const t0 = performance.now();
    this.begin(title);
    try {
      const r = await fn();
      const ms = Math.round(performance.now() - t0);
      this.timings.push({ step: title, ms });
      this.end(title, "ok", ms);
      return r;
    } catch (e) {
      const ms = Math.round(performance.now() - t0);
      const err = e instanceof StepError ? e : new StepError(title, (e as { node?: string }).node, e, e instanceof CliError ? e.exitCode : exitCode);
      this.end(title, "fail", ms, err.message);
      throw err;
    }
  }

  /** A per-node result inside the current action. */
  node(node: string, status: "ok" | "fail", detail?: string): void {
    if (this.mode === "json") return this.emit({ event: "node", step: this.current ?? "", node, status, ...(detail ? { detail } : {}) });
    if (this.mode === "quiet") return;
    this.clearLine();
    this.out.write(`   ${status === "ok" ? "✓" : "✗"} ${node}${detail ? `: ${detail}` : ""}\n`);
    this.redraw();
  }

  /** Free text for humans (nothing in JSON mode). */
  info(text: string): void {
    if (this.mode === "tty" || this.mode === "plain") this.out.write(text.endsWith("\n") ? text : text + "\n");
  }

  emit(e: ProgressEvent | Record<string, unknown>): void {
    if (this.mode === "json") this.out.write(JSON.stringify(e) + "\n");
  }

  private begin(title: string): void {
    this.current = title;
    if (this.mode === "json") return this.emit({ event: "step", step: title, status: "start" });
    if (this.mode === "plain") return;
    if (this.mode === "tty") {
      let i = 0;
      this.out.write(` ${FRAMES[0]} ${title}`);
      this.spinner = setInterval(() => { this.out.write(`\r ${FRAMES[++i % FRAMES.length]} ${title}`); }, 80);
      this.spinner.unref();
    }
  }

  private end(title: string, status: "ok" | "fail", ms: number, error?: string): void {
    if (this.spinner) clearInterval(this.spinner);
    this.spinner = undefined;
    this.current = undefined;
    if (this.mode === "json") return this.emit({ event: "step", step: title, status, ms, ...(error ? { error } : {}) });
    if (this.mode === "quiet") return;
    this.clearLine();
    this.out.write(` ${status === "ok" ? "✓" : "✗"} ${title} (${fmtMs(ms)})\n`);
  }

  private clearLine(): void {
    if (this.mode === "tty") this.out.write("\r\x1b[2K");
  }

  private redraw(): void {
    if (this.mode === "tty" && this.current) this.out.write(` ${FRAMES[0]} ${this.current}`);
  }
}

export function fmtMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** An error that happened on one node (so the failed action can name it). */
export class NodeError extends CliError {
  constructor(readonly node: string, message: string) {
    super(message, EXIT.failure, "node", { node });
  }
}
