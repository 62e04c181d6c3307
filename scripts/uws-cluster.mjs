#!/usr/bin/env node
// Entry point installed as `uws-cluster`. The CLI is TypeScript; tsx compiles it on load so the
// command works straight after `npm ci`, with no build step.
import { register } from "tsx/esm/api";
register();
await import("./cli/main.ts");
