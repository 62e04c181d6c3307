/**
 * Puts STAND-IN executables for terraform / tofu / pulumi first (and alone) on a PATH: the real
 * tools cannot work here (the OpenStack provider and the pulumi CLI + plugin cannot be downloaded).
 * The stand-ins (fixtures/standin-*.mjs) record every call in a log this helper reads back.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Cluster } from "../../../../stacks/model/index.js";
import type { EngineContext, EngineEvent } from "../../../../scripts/targets/openstack/engines/index.js";
import { stackInputs } from "../../../harness/specs.js";

const FIXTURES = resolve(import.meta.dirname, "fixtures");

export interface Call {
  tool: string;
  argv: string[];
  cwd: string;
  env: Record<string, unknown>;
}

export interface Sandbox {
  root: string;
  /** Holds the stand-ins; the only PATH entry of env. */
  bin: string;
  workDir: string;
  env: NodeJS.ProcessEnv;
  events: EngineEvent[];
  calls(tool?: string): Call[];
  ctx(cluster: Cluster, extra?: Partial<EngineContext>): EngineContext;
  cleanup(): void;
}

/** Credential-like values in the environment; none may show up in files, events or errors. */
export const FAKE_SECRETS = {
  OS_PASSWORD: "fake-os-password-4711-do-not-leak",
  OS_APPLICATION_CREDENTIAL_SECRET: "fake-app-cred-secret-0815-do-not-leak",
  AWS_SECRET_ACCESS_KEY: "fake-aws-secret-key-1234-do-not-leak",
  TF_HTTP_PASSWORD: "fake-http-backend-password-do-not-leak",
};

export function sandbox(tools: Array<"terraform" | "tofu" | "pulumi">, env: NodeJS.ProcessEnv = {}): Sandbox {
  const root = mkdtempSync(join(tmpdir(), "uwsc-engines-"));
  const bin = join(root, "bin");
  mkdirSync(bin);
  const home = join(root, "home");
  mkdirSync(home);
  const stand = join(root, "standin");
  mkdirSync(stand);
  const log = join(root, "calls.jsonl");
  for (const t of tools) {
    const script = t === "pulumi" ? "standin-pulumi.mjs" : "standin-terraform.mjs";
    writeFileSync(join(bin, t), `#!/bin/sh\nSTANDIN_TOOL=${t} exec '${process.execPath}' '${join(FIXTURES, script)}' "$@"\n`);
    chmodSync(join(bin, t), 0o755);
  }
  const events: EngineEvent[] = [];
  const fullEnv: NodeJS.ProcessEnv = {
    PATH: bin, HOME: home, STANDIN_LOG: log, STANDIN_DIR: stand,
    OS_CLOUD: "standin-cloud", OS_AUTH_TYPE: "v3applicationcredential", ...FAKE_SECRETS, ...env,
  };
  const sb: Sandbox = {
    root, bin, workDir: join(root, "state", "t-cluster", "engine"), env: fullEnv, events,
    calls: (tool) => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Call) : [])
      .filter((c) => !tool || c.tool === tool),
    ctx: (cluster, extra = {}) => ({
      cluster, workDir: sb.workDir, env: fullEnv, ...stackInputs(cluster),
      onEvent: (e) => events.push(e), retry: { retries: 3, delayMs: 5 }, ...extra,
    }),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
  return sb;
}

/** Every file under dir with its content (for leak checks). */
export function filesUnder(dir: string): Array<{ path: string; text: string; mode: number }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).map((f) => join(dir, f)).filter((p) => statSync(p).isFile())
    .map((p) => ({ path: p, text: readFileSync(p, "latin1"), mode: statSync(p).mode & 0o777 }));
}
