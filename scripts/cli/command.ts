import type { FlagSpec, ParsedArgs } from "./args.js";

export { EXIT } from "../errors.js";

export interface CommandContext {
  /** True with --json: print machine-readable JSON on stdout, human text nowhere on stdout. */
  json: boolean;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** One CLI verb: one file in scripts/cli/commands/ plus its line (name, summary) in registry.ts. */
export interface Command {
  /** Usage line after `uws-cluster <name>`, e.g. "--spec FILE --out DIR". */
  usage: string;
  flags: FlagSpec[];
  /** Extra help text shown by --help (examples, notes). */
  details?: string;
  /** Returns the exit code. A CliError thrown carries its exit code (UsageError and SpecError 2, …); anything else is exit 1. */
  run(args: ParsedArgs, ctx: CommandContext): Promise<number>;
}

/** Prints a result: JSON on stdout with --json, else the human text. */
export function emit(ctx: CommandContext, json: unknown, human: string): void {
  if (ctx.json) ctx.stdout.write(JSON.stringify(json) + "\n");
  else if (human) ctx.stdout.write(human.endsWith("\n") ? human : human + "\n");
}
