// The job server's command-line flags: one plain table that runtime/main.ts parses and prints, and
// that `uws-cluster serve` forwards (it declares no flag of its own). Every flag except --config
// and --help sets one key of the --config YAML file (`key`, dotted for nested keys).
//
// `default` is the value the server applies when neither the flag nor the config file sets the
// key; it is for help text only: a caller forwarding flags must forward only what the user gave,
// or it would override the config file.

export interface RuntimeFlag {
  /** Flag name without the leading dashes. */
  name: string;
  /** "string" takes a value, "list" takes a value and may repeat, "boolean" takes none. */
  type: "string" | "list" | "boolean";
  /** Config key the flag sets (dotted path); absent for --config and --help. */
  key?: string;
  /** How the value is read: a non-negative number, or a string (default). */
  parse?: "number";
  /** Placeholder shown in help (`--port N`). */
  value?: string;
  help: string;
  /** The server's default, as shown in help. */
  default?: string;
}

const s = (name: string, key: string | undefined, value: string, help: string, def?: string, parse?: "number"): RuntimeFlag => ({
  name,
  type: "string",
  ...(key ? { key } : {}),
  ...(parse ? { parse } : {}),
  value,
  help,
  ...(def !== undefined ? { default: def } : {}),
});
const n = (name: string, key: string, value: string, help: string, def: string) => s(name, key, value, help, def, "number");
const l = (name: string, key: string, value: string, help: string): RuntimeFlag => ({ name, type: "list", key, value, help });

export const RUNTIME_FLAGS: readonly RuntimeFlag[] = [
  s("config", undefined, "FILE", "YAML config file; its keys are the `key` of each flag (flags override it)"),
  s("host", "host", "ADDR", "listen address", "127.0.0.1"),
  n("port", "port", "N", "listen port (0 = any free port)", "8080"),
  s("data", "data", "DIR", "SQLite file + server state", "./data"),
  s("work-dir", "workDir", "DIR", "job work dirs (a filesystem shared with Slurm)", "<data>/jobs"),
  s("definitions", "definitions", "DIR", "job definition YAML files", "the shipped ones"),
  s("apps", "apps", "DIR", "folder of application folders (each: job definition YAML files and their scripts), loaded beside the definitions"),
  s("executor", "executor", "local|slurm", "where jobs run", "local"),
  n("concurrency", "local.concurrency", "N", "local executor: jobs at once", "2"),
  s("partition", "slurm.partition", "NAME", "Slurm partition", "batch"),
  s("slurm-conf", "slurm.slurmConf", "FILE", "exported as SLURM_CONF to the Slurm commands"),
  s("auth", "auth", "none|tokens|oidc", "authentication (none: development only)", "none"),
  l("token", "tokens", "TOKEN=OWNER", "tokens mode, repeatable"),
  s("tokens-file", "tokensFile", "FILE", "tokens mode: lines TOKEN=OWNER"),
  s("admin-token-file", "adminTokenFile", "FILE", "file holding the admin's token (sees every job)"),
  s("job-secret-file", "jobSecretFile", "FILE", "key for per-job callback secrets", "generated in <data>"),
  s("oidc-issuer", "oidc.issuer", "URL", "OIDC issuer (JWKS found by discovery)"),
  s("oidc-audience", "oidc.audience", "ID", "expected token audience", "--oidc-client-id"),
  s("oidc-client-id", "oidc.clientId", "ID", "OIDC client id"),
  s("oidc-entitlement-claim", "oidc.entitlementClaim", "NAME", "claim holding entitlements", "eduperson_entitlement"),
  l("oidc-allow-entitlement", "oidc.allow.entitlements", "V", "entitlement allowed to use the service, repeatable; none given = every valid token"),
  l("oidc-allow-sub", "oidc.allow.subs", "SUB", "subject allowed to use the service, repeatable"),
  l("oidc-admin-entitlement", "oidc.admins.entitlements", "V", "entitlement of admins (see every job), repeatable"),
  l("oidc-admin-sub", "oidc.admins.subs", "SUB", "subject of an admin, repeatable"),
  n("upload-limit-mb", "uploadLimitMb", "N", "largest uploaded file, MB", "100"),
  l("file-url-host", "fileUrlHosts", "HOST", "a file parameter given as a URL may name this host although it resolves to a loopback or private address, repeatable"),
  n("body-limit-kb", "limits.bodyKb", "N", "largest form or JSON body, KiB (413 beyond)", "1024"),
  n("value-limit-kb", "limits.valueKb", "N", "largest value of one field, any content type, KiB (413 beyond)", "64"),
  n("field-limit", "limits.fields", "N", "most fields in one request, query and body together (413 beyond)", "256"),
  n("headers-timeout", "connections.headersTimeout", "SECONDS", "time to send a request's headers; also how long a silent new connection stays open", "15"),
  n("request-timeout", "connections.requestTimeout", "SECONDS", "time to send a whole request, body included (not the answer: WAIT is unaffected)", "300"),
  n("keep-alive-timeout", "connections.keepAliveTimeout", "SECONDS", "idle keep-alive connections are closed after this (above the proxy's own)", "65"),
  n("body-timeout", "connections.bodyTimeout", "SECONDS", "a request body with no byte for this long closes the connection", "30"),
  n("max-connections", "connections.maxConnections", "N", "open connections at most; at the limit the longest-idle one is closed (0 = open-files limit − 128, ≤ 16384)", "0"),
  s("public-url", "publicUrl", "URL", "base URL for links and 303 Location (never taken from the client's Host)", "http://<listen address>:<port>"),
  n("max-wait", "maxWait", "SECONDS", "longest WAIT, and what WAIT=-1 means", "600"),
  s("log-level", "logLevel", "LEVEL", "info | warn | error | debug", "info"),
  { name: "help", type: "boolean", help: "print this help" },
];

/** The flags as help text. */
export function flagHelp(flags: readonly RuntimeFlag[] = RUNTIME_FLAGS): string {
  const lines = flags.map((f) => {
    const left = `  --${f.name}${f.value ? ` ${f.value}` : ""}`;
    const right = f.help + (f.default !== undefined ? ` (${f.default})` : "");
    return left.length >= 32 ? `${left}\n${" ".repeat(32)}${right}` : left.padEnd(32) + right;
  });
  return `Flags (all optional; they override the config file):\n${lines.join("\n")}`;
}
