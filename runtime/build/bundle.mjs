#!/usr/bin/env node
// Bundles the job server into dist/runtime/: uws-server.mjs (one file, every pure-JS dependency
// inlined), provenance-worker.mjs (its provenance worker thread, bundled the same way), launcher.mjs
// (the local executor's job launcher), definitions/ (the shipped job definitions and helper
// scripts) and a package.json that lists the one native dependency, better-sqlite3, kept external. On the head node:
//   cd dist/runtime && npm install --omit=dev && node uws-server.mjs --config /etc/uws-server/config.yaml
import { build } from "esbuild";
import { chmodSync, cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
// Another directory as the first argument (tests bundle into a temporary one).
const out = process.argv[2] ? resolve(process.argv[2]) : join(root, "dist/runtime");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const native = ["better-sqlite3"];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const bundle = (entry, outfile) =>
  build({
    entryPoints: [join(root, entry)],
    outfile: join(out, outfile),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: native,
    minify: false,
    sourcemap: false,
    legalComments: "linked",
    // CommonJS dependencies (fastify, pino) call require() for Node built-ins.
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __uwsCreateRequire } from 'node:module';\nconst require = __uwsCreateRequire(import.meta.url);" },
    logLevel: "warning",
  });
await bundle("runtime/main.ts", "uws-server.mjs");
// The provenance worker thread runs its own module, next to the server (provenance/recorder.ts).
await bundle("runtime/provenance/worker.ts", "provenance-worker.mjs");
chmodSync(join(out, "uws-server.mjs"), 0o755);
// The local executor's launcher runs as its own process, next to the bundle (executors/local.ts).
cpSync(join(root, "runtime/executors/launcher.mjs"), join(out, "launcher.mjs"));
cpSync(join(root, "runtime/definitions"), join(out, "definitions"), { recursive: true });
// The web portal's page, scripts and styles (runtime/portal/assets: no CDN, no build step).
cpSync(join(root, "runtime/portal/assets"), join(out, "portal/assets"), { recursive: true });
for (const f of readdirSync(join(out, "definitions"))) if (f.endsWith(".sh")) chmodSync(join(out, "definitions", f), 0o755);
writeFileSync(
  join(out, "package.json"),
  JSON.stringify(
    {
      name: "uws-server",
      version: pkg.version,
      private: true,
      type: "module",
      description: "IVOA UWS 1.1 job server (bundled from uws-cluster runtime/)",
      bin: { "uws-server": "uws-server.mjs" },
      engines: { node: ">=20" },
      dependencies: Object.fromEntries(native.map((n) => [n, pkg.dependencies[n]])),
    },
    null,
    2,
  ) + "\n",
);
console.log(`bundled ${join(out, "uws-server.mjs")} (+ definitions/, package.json: ${native.join(", ")} external)`);
