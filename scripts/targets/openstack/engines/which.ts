import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

/** Absolute path of an executable found on the PATH of `env` (not of this process), or undefined. */
export function findExecutable(name: string, env: NodeJS.ProcessEnv, extraDirs: string[] = []): string | undefined {
  const dirs = [...(env.PATH ?? "").split(delimiter), ...extraDirs].filter((d) => d && isAbsolute(d));
  for (const dir of dirs) {
    const p = join(dir, name);
    try {
      if (!statSync(p).isFile()) continue;
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}
