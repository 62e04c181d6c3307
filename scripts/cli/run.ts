import { SpecError } from "../../stacks/model/index.js";
import { parseArgs, UsageError, type FlagSpec } from "./args.js";
import { EXIT, type Command, type CommandContext } from "./command.js";
import { COMMANDS } from "./registry.js";

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

export function commandHelp(c: Command): string {
  const flags = [...c.flags, ...COMMON];
  const width = Math.max(...flags.map((f) => f.name.length + (f.type === "boolean" ? 0 : 6)));
  const lines = flags.map((f) => {
    const left = f.type === "boolean" ? `--${f.name}` : `--${f.name} VALUE`;
    const def = f.default !== undefined ? ` (default: ${f.default})` : "";
    const rep = f.type === "list" ? " (repeatable)" : "";
    return `  ${left.padEnd(width + 2)}  ${f.help}${rep}${def}`;
  });
  return [`usage: uws-cluster ${c.name} ${c.usage}`, "", c.summary, "", "options:", ...lines, ...(c.details ? ["", c.details] : [])].join("\n");
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
  const command = COMMANDS.find((c) => c.name === verb);
  if (!command) {
    return fail(ctx, EXIT.usage, `unknown command "${verb}"; run uws-cluster --help for the list`, "usage");
  }
  try {
    const args = parseArgs(rest, [...command.flags, ...COMMON]);
    if (args.flags.help) {
      ctx.stdout.write(commandHelp(command) + "\n");
      return EXIT.ok;
    }
    return await command.run(args, ctx);
  } catch (e) {
    if (e instanceof UsageError) return fail(ctx, EXIT.usage, `${e.message}\nrun uws-cluster ${command.name} --help for usage`, "usage");
    if (e instanceof SpecError) return fail(ctx, EXIT.usage, e.message, "spec", e.issues);
    const err = e as Error & { exitCode?: number; kind?: string; details?: unknown };
    return fail(ctx, err.exitCode ?? EXIT.failure, err.message ?? String(e), err.kind ?? "error", err.details);
  }
}

function fail(ctx: CommandContext, code: number, message: string, kind: string, details?: unknown): number {
  if (ctx.json) ctx.stdout.write(JSON.stringify({ ok: false, error: { kind, message, ...(details ? { details } : {}) } }) + "\n");
  ctx.stderr.write(`uws-cluster: ${message}\n`);
  return code;
}

