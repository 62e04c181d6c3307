#!/usr/bin/env node
// Runs a TypeScript file (benchmarks, tools) through tsx without a build step: run-ts.mjs FILE [ARGS...]
import { register } from "tsx/esm/api";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
register();
const file = process.argv[2];
if (!file) { console.error("usage: run-ts.mjs FILE.ts [ARGS...]"); process.exit(2); }
process.argv.splice(1, 1);
process.argv[1] = resolve(file);
await import(pathToFileURL(resolve(file)).href);
