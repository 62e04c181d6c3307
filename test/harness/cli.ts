/** The CLI run in this process (scripts/cli/run.ts, as `uws-cluster ARGV` runs it), its output captured. */
import { Writable } from "node:stream";
import { runCli } from "../../scripts/cli/run.js";
import { REPO_ROOT } from "../../scripts/package-root.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as JSON lines (with --json every line is one object); parsed when read. */
  readonly json: Record<string, unknown>[];
}

export async function cli(argv: string[], env: NodeJS.ProcessEnv, cwd = REPO_ROOT): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const sink = (f: (s: string) => void) => new Writable({ write(chunk, _e, cb) { f(String(chunk)); cb(); } });
  const code = await runCli(argv, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env, cwd });
  return {
    code, stdout, stderr,
    get json() {
      return stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}
