// Entry point of the job server (runtime/ is a separate deployable: bundled to
// dist/runtime/uws-server.mjs). Flags override the --config file; see FLAG_HELP.
import { ConfigError, configFromArgs, FLAG_HELP } from "./config.js";
import { createServer } from "./server.js";

export async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = configFromArgs(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`uws-server: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  if (parsed.help) {
    process.stdout.write(`uws-server: IVOA UWS 1.1 job server\n\n${FLAG_HELP}\n`);
    return;
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
}

const isEntry = process.argv[1] && /(main\.ts|uws-server\.mjs)$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`uws-server: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
