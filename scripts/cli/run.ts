/**
 * The CLI's dispatcher: finds the verb in the manifest (registry.ts), loads only that verb, parses
 * its flags, runs it and turns whatever it throws into an exit code and a message (JSON with --json).
 */
import { parseArgs, type FlagSpec } from "./args.js";
import { EXIT, type Command, type CommandContext } from "./command.js";
import { COMMANDS, type CommandEntry } from "./registry.js";
import { toCliError, UsageError } from "../errors.js";

const COMMON: FlagSpec[] = [
  { name: "json", type: "boolean", help: "machine-readable JSON output on stdout" },
  { name: "help", type: "boolean", help: "show this help" },
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "uws-cluster — Slurm + UWS job clusters on OpenStack or on this machine",
    "",
    "usage: uws-cluster <command> [options]   (uws-cluster <command> --help for its options)",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

function commandHelp(entry: CommandEntry, c: Command): string {
  const flags = [...c.flags, ...COMMON];
  const left = (f: FlagSpec) => (f.type === "boolean" ? `--${f.name}` : `--${f.name} ${f.value ?? "VALUE"}`);
  const width = Math.max(...flags.map((f) => left(f).length));
  const lines = flags.map((f) => {
    const def = f.default !== undefined ? ` (default: ${f.default})` : "";
    const rep = f.type === "list" ? " (repeatable)" : "";
    return `  ${left(f).padEnd(width)}  ${f.help}${rep}${def}`;
  });
  return [`usage: uws-cluster ${entry.name} ${c.usage}`, "", entry.summary, "", "options:", ...lines, ...(c.details ? ["", c.details] : [])].join("\n");
}

export async function runCli(argv: string[], io: Partial<CommandContext> = {}): Promise<number> {
  const ctx: CommandContext = {
    json: argv.includes("--json"),
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
  };
  const [verb, ...rest] = argv;
  if (!verb || verb === "--help" || verb === "-h" || verb === "help") {
    ctx.stdout.write(usage() + "\n");
    return verb ? EXIT.ok : EXIT.usage;
  }
  const entry = COMMANDS.find((c) => c.name === verb);
  if (!entry) {
    return fail(ctx, EXIT.usage, `unknown command "${verb}"; run uws-cluster --help for the list`, "usage");
  }
  try {
    const command = await entry.load();
    const args = parseArgs(rest, [...command.flags, ...COMMON]);
    if (args.flags.help) {
      ctx.stdout.write(commandHelp(entry, command) + "\n");
      return EXIT.ok;
    }
    return await command.run(args, ctx);
  } catch (e) {
    const err = toCliError(e);
    const message = e instanceof UsageError ? `${err.message}\nrun uws-cluster ${entry.name} --help for usage` : err.message;
    return fail(ctx, err.exitCode, message, err.kind, err.details);
  }
}

function fail(ctx: CommandContext, code: number, message: string, kind: string, details?: unknown): number {
  if (ctx.json) ctx.stdout.write(JSON.stringify({ ok: false, error: { kind, message, ...(details ? { details } : {}) } }) + "\n");
  ctx.stderr.write(`uws-cluster: ${message}\n`);
  return code;
}
