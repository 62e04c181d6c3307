#!/usr/bin/env node
// Entry point installed as `uws-cluster` (package.json "bin"): runs the compiled CLI, dist/cli/main.js
// (built by `npm run build`; nothing is compiled when a command runs). In a checkout — the TypeScript
// sources are here — the CLI is rebuilt first (scripts/build.mjs) when dist/cli is missing or a
// source listed in dist/cli/inputs.json is newer than it; an installed package has no sources and
// runs dist/cli as shipped.
import { existsSync, readFileSync, statSync } from "node:fs";

const root = new URL("../", import.meta.url);

function cliIsStale() {
  try {
    const built = statSync(new URL("dist/cli/main.js", root)).mtimeMs;
    for (const f of JSON.parse(readFileSync(new URL("dist/cli/inputs.json", root), "utf8"))) {
      if (statSync(new URL(f, root)).mtimeMs > built) return true;
    }
    return false;
  } catch {
    return true; // no build, or a source went away
  }
}

if (existsSync(new URL("scripts/cli/main.ts", root)) && cliIsStale()) {
  const { buildCli } = await import("./build.mjs");
  try {
    await buildCli({ keep: true });
  } catch (e) {
    process.stderr.write(`uws-cluster: building the CLI (npm run build) failed: ${e instanceof Error ? e.message : e}\n`);
    process.exit(1);
  }
}
await import(new URL("dist/cli/main.js", root).href);
