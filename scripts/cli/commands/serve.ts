import { UsageError, type FlagSpec } from "../args.js";
import { EXIT, type Command } from "../command.js";
import { ConfigError, startFromArgs } from "../../../runtime/main.js";

// The job server's own flags, passed through unchanged to runtime/main.ts (the same entry the
// bundle dist/runtime/uws-server.mjs runs).
const S = (name: string, help: string): FlagSpec => ({ name, type: "string", help });
const L = (name: string, help: string): FlagSpec => ({ name, type: "list", help });
const FLAGS: FlagSpec[] = [
  S("config", "YAML config file (the one the templates render at /etc/uws-server/config.yaml)"),
  S("host", "listen address (127.0.0.1)"),
  S("port", "listen port (8080)"),
  S("data", "SQLite file + server state (./data)"),
  S("work-dir", "job work dirs (<data>/jobs)"),
  S("definitions", "folder of job definition YAML files (the shipped ones)"),
  S("executor", "local | slurm (local)"),
  S("concurrency", "local executor: jobs at once (2)"),
  S("partition", "Slurm partition (batch)"),
  S("slurm-conf", "exported as SLURM_CONF to the Slurm commands"),
  S("auth", "none | tokens | oidc (none: development only)"),
  L("token", "TOKEN=OWNER for --auth tokens"),
  S("tokens-file", "file of TOKEN=OWNER lines"),
  S("admin-token-file", "file holding the admin's token"),
  S("job-secret-file", "key for per-job callback secrets"),
  S("oidc-issuer", "OIDC issuer URL"),
  S("oidc-audience", "expected token audience"),
  S("oidc-client-id", "OIDC client id"),
  S("oidc-entitlement-claim", "claim holding entitlements (eduperson_entitlement)"),
  L("oidc-allow-entitlement", "entitlement allowed to use the service"),
  L("oidc-allow-sub", "subject allowed to use the service"),
  L("oidc-admin-entitlement", "entitlement of admins (see every job)"),
  L("oidc-admin-sub", "subject of an admin"),
  S("upload-limit-mb", "upload size limit (100)"),
  S("public-url", "base URL for links and 303 Location"),
  S("max-wait", "longest WAIT in seconds (600)"),
  S("log-level", "info | warn | error | debug"),
];

export const serve: Command = {
  name: "serve",
  summary: "run the UWS job server (the head node's payload) on this machine",
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
    try {
      const app = await startFromArgs(argv, ctx.stdout);
      if (!app) return EXIT.ok;
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message);
      throw e;
    }
    // Serve until a signal ends the process.
    return new Promise<number>(() => {});
  },
};
