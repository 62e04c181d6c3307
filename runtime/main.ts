// Entry point of the job server (runtime/ is a separate deployable: bundled to
// dist/runtime/uws-server.mjs). Flags (flags.ts) override the --config file.
import type { FastifyInstance } from "fastify";
import { ConfigError, configFromArgs, FLAG_HELP } from "./config.js";
import { RUNTIME_FLAGS, type RuntimeFlag } from "./flags.js";
import { createServer } from "./server.js";

export { ConfigError, FLAG_HELP, RUNTIME_FLAGS, type RuntimeFlag };

/**
 * Parses the flags, starts the server and installs SIGTERM/SIGINT handlers. Returns null for
 * --help; throws ConfigError for bad flags or config (the caller maps it to exit code 2).
 */
export async function startFromArgs(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<FastifyInstance | null> {
  const parsed = configFromArgs(argv);
  if (parsed.help) {
    out.write(`uws-server: IVOA UWS 1.1 job server\n\n${FLAG_HELP}\n`);
    return null;
  }
  const { config } = parsed;
  const app = await createServer(config);
  const stop = async (sig: string) => {
    app.log.info(`${sig}: closing`);
    await app.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
  const address = await app.listen({ host: config.host, port: config.port });
  app.log.info({ address, executor: config.executor, auth: config.auth, reconciled: app.uws.reconciled }, "uws-server listening");
  return app;
}

const isEntry = process.argv[1] && /(main\.ts|uws-server\.mjs)$/.test(process.argv[1]);
if (isEntry) {
  startFromArgs(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`uws-server: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  });
}
