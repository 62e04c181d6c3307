// The job server factory: one Fastify app, the job service shared through the `app.uws`
// decoration, and a plugin per resource (plugins/: health, callbacks, job list, job, job
// attributes, results, parameters) behind one authentication hook. Tests start it in-process on
// an ephemeral port; main.ts and `uws-cluster serve` start the same factory.
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import Fastify, { LogController, type FastifyInstance } from "fastify";
import multipart from "@fastify/multipart";
import { shippedDefinitions, withDefaults, type PartialConfig, type ServerConfig } from "./config.js";
import { DefinitionError, loadApplications, loadDefinitions } from "./jobdefs/definition.js";
import { JobsDb } from "./store/jobs-db.js";
import { JobService } from "./jobs/service.js";
import { LocalExecutor } from "./executors/local.js";
import { SlurmExecutor } from "./executors/slurm.js";
import type { Executor } from "./executors/executor.js";
import type { Authenticator } from "./auth/principal.js";
import { parseTokenEntries, readTokensFile, tokensAuth } from "./auth/tokens.js";
import { oidcAuth } from "./auth/oidc.js";
import { jobSecret, loadOrCreateKey } from "./auth/callback.js";
import { guardConnections, httpServerOptions } from "./connections.js";
import { baseUrl, inputLimits } from "./plugins/context.js";
import { clientErrorHandler, installErrorHandler } from "./plugins/errors.js";
import type { FormBody } from "./uws/input.js";
import { registerRoutes } from "./plugins/index.js";
import { createPortal } from "./portal/index.js";

export type ServerOptions = PartialConfig & {
  /** Fastify logger (false in tests). */
  logger?: boolean;
  /** Extra environment for Slurm commands (tests pass the loopback cluster's SLURM_CONF). */
  slurmEnv?: Record<string, string>;
  /** Destruction sweep period, ms. */
  sweepMs?: number;
};

function readSecretFile(file: string, key: string): string {
  try {
    const v = readFileSync(file, "utf8").trim();
    if (!v) throw new Error("file is empty");
    return v;
  } catch (e) {
    throw new Error(`${key} ${file}: ${(e as Error).message}`);
  }
}

function buildAuth(c: ServerConfig, log: (m: string) => void): Authenticator {
  if (c.auth === "none") {
    log("AUTH IS DISABLED (--auth none): every caller is anonymous and sees every job. Development only; use --auth tokens or --auth oidc.");
    return async () => ({ owner: null, admin: true });
  }
  if (c.auth === "tokens") {
    const tokens = parseTokenEntries(c.tokens, "--token");
    if (c.tokensFile) for (const [d, o] of readTokensFile(c.tokensFile)) tokens.set(d, o);
    const admin = c.adminTokenFile ? readSecretFile(c.adminTokenFile, "adminTokenFile") : undefined;
    return tokensAuth(tokens, admin);
  }
  const o = c.oidc;
  const audience = o.audience ?? o.clientId!;
  const verify = oidcAuth({ issuer: o.issuer!, audience, entitlementClaim: o.entitlementClaim, allow: o.allow, admins: o.admins });
  if (!c.adminTokenFile) return verify;
  // An admin token file works in oidc mode too (automation on the head node).
  const admin = tokensAuth(new Map(), readSecretFile(c.adminTokenFile, "adminTokenFile"));
  return async (h) => admin(h).catch(() => verify(h));
}

export async function createServer(options: ServerOptions = {}): Promise<FastifyInstance> {
  const { logger, slurmEnv, sweepMs, ...partial } = options;
  const config = withDefaults(partial);
  const data = resolve(config.data);
  mkdirSync(data, { recursive: true, mode: 0o700 });
  const workDir = resolve(config.workDir ?? join(data, "jobs"));
  const definitions = loadDefinitions(resolve(config.definitions ?? shippedDefinitions()));
  if (config.apps) {
    for (const [name, def] of loadApplications(resolve(config.apps))) {
      if (definitions.has(name)) throw new DefinitionError(`${def.file}: name: '${name}' is already a job definition of the server; rename it`);
      definitions.set(name, def);
    }
  }

  const app = Fastify({
    logger: logger === false ? false : { level: config.logLevel },
    // Never trust X-Forwarded-For or similar: identity comes from credentials only.
    trustProxy: false,
    // Per-request info logs cost more than a job creation; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: Math.floor(config.limits.bodyKb * 1024),
    // Connection bounds (connections.ts): headers, whole request, keep-alive. They bound receiving
    // a request, never the answer: a WAIT may last maxWait seconds.
    http: httpServerOptions(config.connections),
    requestTimeout: httpServerOptions(config.connections).requestTimeout,
    keepAliveTimeout: httpServerOptions(config.connections).keepAliveTimeout,
    connectionTimeout: 0,
    forceCloseConnections: true,
    clientErrorHandler,
  });
  const connections = guardConnections(app.server, config.connections);
  const log = (m: string, extra?: Record<string, unknown>) => app.log.warn(extra ?? {}, m);

  // The listening address is fixed once bound: asked once (getsockname per request was ~4 % of a
  // creation's server time), not per link.
  let boundBase: string | undefined;
  const base = (): string => {
    if (boundBase) return boundBase;
    const b = baseUrl(app, config);
    if (app.server.listening) boundBase = b;
    return b;
  };
  const key = loadOrCreateKey(config.jobSecretFile ?? join(data, "job-secret.key"));
  const db = new JobsDb(join(data, "uws.sqlite"), {
    backgroundCheckpoints: true,
    onCheckpointError: (e) => app.log.warn({ err: e }, "WAL checkpoint worker failed; falling back to inline checkpoints"),
    onBatchError: (e) => app.log.error({ err: e }, "could not commit the executors' phase updates (rolled back)"),
  });
  const service = new JobService(db, definitions, {
    workDir,
    defaultLifetimeSec: config.jobLifetime,
    maxLifetimeSec: config.maxJobLifetime,
    sweepMs,
    log,
    callbackSecret: (id) => jobSecret(key, id),
    callbackUrl: (id) => `${base()}/callback/jobs/${id}`,
  });
  const executor: Executor =
    config.executor === "slurm"
      ? new SlurmExecutor(service.onExecUpdate, { partition: config.slurm.partition ?? undefined, slurmConf: config.slurm.slurmConf, pollMs: config.slurm.pollMs, minPollMs: config.slurm.minPollMs, env: slurmEnv })
      : new LocalExecutor(service.onExecUpdate, config.local.concurrency);
  service.setExecutor(executor);
  const authenticate = buildAuth(config, (m) => app.log.warn(m));
  if (config.auth === "none" && logger === false) process.stderr.write("uws-server: WARNING: auth none — development only\n");

  app.decorate("uws", { service, config, reconciled: 0, callbackKey: key, connections, baseUrl: base });
  app.decorateRequest("principal", null as never);

  // Form bodies become (name, value) pairs: repeated names (PHASE) and case are kept. They are
  // tagged so that readInput never mistakes a JSON body for them.
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    done(null, { form: true, pairs: [...new URLSearchParams(body as string)] } satisfies FormBody);
  });
  const limits = inputLimits(config);
  await app.register(multipart, { limits: { fileSize: config.uploadLimitMb * 1024 * 1024, files: 32, fields: limits.fields, fieldSize: limits.valueBytes, parts: limits.fields + 32 } });

  installErrorHandler(app);
  // The web portal at / (portal/): browser sessions, signed result URLs, OIDC login.
  const portal = createPortal(app, config, authenticate, { key, data });
  app.addHook("onClose", async () => portal.close());
  await registerRoutes(app, authenticate, portal);

  app.addHook("onClose", async () => {
    await service.close();
    await db.close();
  });

  app.uws.reconciled = await service.reconcile();
  service.startSweeper();
  return app;
}
