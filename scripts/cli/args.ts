/**
 * Minimal argv parsing shared by every verb: `--flag value`, `--flag=value`, repeatable flags,
 * booleans. Unknown flags are errors that list what the verb accepts.
 */
export interface FlagSpec {
  name: string;
  /** "string" takes a value; "boolean" does not; "list" takes a value and may repeat. */
  type: "string" | "boolean" | "list";
  help: string;
  /** Placeholder for the value in --help (`--port N`); "VALUE" when absent. */
  value?: string;
  /** Applied when the flag is absent (and shown in --help). */
  default?: string;
  /** A one-letter alias (`-p VALUE` for `--param VALUE`). */
  short?: string;
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | undefined>;
  positional: string[];
}

export { UsageError } from "../errors.js";
import { UsageError } from "../errors.js";

export function parseArgs(argv: string[], specs: FlagSpec[]): ParsedArgs {
  const flags: ParsedArgs["flags"] = {};
  const positional: string[] = [];
  for (const s of specs) if (s.type === "list") flags[s.name] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") { positional.push(...argv.slice(i + 1)); break; }
    const alias = /^-[A-Za-z]$/.test(arg) ? specs.find((s) => s.short === arg.slice(1)) : undefined;
    if (!arg.startsWith("--") && !alias) { positional.push(arg); continue; }
    const eq = alias ? -1 : arg.indexOf("=");
    const name = alias ? alias.name : arg.slice(2, eq === -1 ? undefined : eq);
    const spec = specs.find((s) => s.name === name);
    if (!spec) throw new UsageError(`unknown option --${name}; this command accepts: ${specs.map((s) => `--${s.name}`).join(", ")}`);
    if (spec.type === "boolean") {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value = eq !== -1 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq === -1 && value.startsWith("--"))) throw new UsageError(`--${name} needs a value`);
    if (spec.type === "list") (flags[name] as string[]).push(value);
    else flags[name] = value;
  }
  for (const s of specs) if (flags[s.name] === undefined && s.default !== undefined) flags[s.name] = s.default;
  return { flags, positional };
}

export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === "string" ? v : undefined;
}

export function need(args: ParsedArgs, name: string, hint: string): string {
  const v = str(args, name);
  if (!v) throw new UsageError(`--${name} is required: ${hint}`);
  return v;
}

export function bool(args: ParsedArgs, name: string): boolean {
  return args.flags[name] === true;
}

export function list(args: ParsedArgs, name: string): string[] {
  const v = args.flags[name];
  return Array.isArray(v) ? v : [];
}
