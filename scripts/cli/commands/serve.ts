import { pathToFileURL } from "node:url";
import type { FlagSpec } from "../args.js";
import { EXIT, type Command } from "../command.js";
import { ensureJobServerBundle, JOB_SERVER_BUNDLE } from "../../deploy/bundle.js";
import { UsageError } from "../../errors.js";
import { RUNTIME_FLAGS } from "../../../runtime/flags.js";

// The job server's own flag table (runtime/flags.ts), forwarded unchanged to the job server bundle
// (dist/runtime/uws-server.mjs, the same program the head node runs). The server's defaults are shown
// in the help only: forwarding a default would override the --config file.
const FLAGS: FlagSpec[] = RUNTIME_FLAGS.filter((f) => f.name !== "help").map((f) => ({
  name: f.name,
  type: f.type,
  help: f.help.replace(/, repeatable\b/, "") + (f.default !== undefined ? ` (${f.default})` : ""),
  ...(f.value ? { value: f.value } : {}),
}));

/** What serve needs of the bundle (runtime/main.ts's exports). */
interface JobServerModule {
  startFromArgs(argv: string[], out: NodeJS.WritableStream): Promise<unknown>;
  ConfigError: new (...args: never[]) => Error;
}

export const serve: Command = {
  usage: "[--config FILE] [--host ADDR] [--port N] [--data DIR] [--executor local|slurm] [--auth none|tokens|oidc] [--token T=OWNER]...",
  flags: FLAGS,
  details: "Example: uws-cluster serve --auth tokens --token a=alice --token b=bob\nServes /uws/{definition} (UWS 1.1) and GET /health; runs until SIGINT/SIGTERM.",
  async run(args, ctx) {
    const argv: string[] = [];
    for (const f of FLAGS) {
      const v = args.flags[f.name];
      if (Array.isArray(v)) for (const x of v) argv.push(`--${f.name}`, x);
      else if (typeof v === "string") argv.push(`--${f.name}`, v);
    }
    ensureJobServerBundle((m) => ctx.stderr.write(`${m}\n`));
    const server = (await import(pathToFileURL(JOB_SERVER_BUNDLE).href)) as JobServerModule;
    try {
      const app = await server.startFromArgs(argv, ctx.stdout);
      if (!app) return EXIT.ok;
    } catch (e) {
      if (e instanceof server.ConfigError) throw new UsageError(e.message);
      throw e;
    }
    // Serve until a signal ends the process.
    return new Promise<number>(() => {});
  },
};
