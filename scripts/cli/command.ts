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

/** One CLI verb. A verb is one file in scripts/cli/commands/ plus one line in registry.ts. */
export interface Command {
  name: string;
  summary: string;
  /** Usage line after `uws-cluster <name>`, e.g. "--spec FILE --out DIR". */
  usage: string;
  flags: FlagSpec[];
  /** Extra help text shown by --help (examples, notes). */
  details?: string;
  /** Returns the exit code. Throwing UsageError → exit 2; SpecError → exit 2 with the field list; other → exit 1. */
  run(args: ParsedArgs, ctx: CommandContext): Promise<number>;
}

/** Prints a result: JSON on stdout with --json, else the human text. */
export function emit(ctx: CommandContext, json: unknown, human: string): void {
  if (ctx.json) ctx.stdout.write(JSON.stringify(json) + "\n");
  else if (human) ctx.stdout.write(human.endsWith("\n") ? human : human + "\n");
}
