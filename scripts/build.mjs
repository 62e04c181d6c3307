#!/usr/bin/env node
// Compiles the CLI (scripts/ and stacks/, TypeScript) into dist/cli/: one ES module per entry and a
// chunk per lazily loaded verb or target (esbuild, code splitting), npm dependencies left as imports
// except `yaml`, which is inlined because loading its 74 CommonJS files costs more than the rest of
// `validate`. `npm run build` runs this, then runtime/build/bundle.mjs (the job server, dist/runtime/).
//
// dist/cli/inputs.json lists the sources the build read; scripts/uws-cluster.mjs uses it in a
// checkout to rebuild when one of them is newer than the build, so an edit or a `git pull` never
// runs stale code. An installed package ships dist/cli/ and no sources.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "dist/cli");
/** Bundled into dist/cli (pure JavaScript, on the start-up path of every verb); every other dependency stays external. */
const INLINED = new Set(["yaml"]);

/**
 * Builds dist/cli/ from scripts/cli/main.ts. The new build replaces the old one in one rename; with
 * `keep` (the entry's rebuild in a checkout) the new files are moved in beside the old ones instead,
 * so a CLI process already running from the old build still finds the chunks it loads later (chunk
 * names carry a content hash; `npm run build` starts clean).
 */
export async function buildCli({ keep = false } = {}) {
  const { build } = await import("esbuild");
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})].filter((n) => !INLINED.has(n));
  const tmp = join(root, `dist/.cli-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  const r = await build({
    absWorkingDir: root,
    // elastic-agent: the local target's power agent, a process of its own (scripts/elastic);
    // elastic-openstack-agent: the OpenStack power agent, run on the head (scripts/elastic/openstack).
    entryPoints: { main: "scripts/cli/main.ts", "elastic-agent": "scripts/elastic/agent-main.ts", "elastic-openstack-agent": "scripts/elastic/openstack/agent-main.ts" },
    outdir: tmp,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external,
    chunkNames: "chunks/[name]-[hash]",
    metafile: true,
    legalComments: "linked",
    // Inlined CommonJS (yaml) calls require() for Node built-ins.
    banner: { js: "import { createRequire as __uwsCreateRequire } from 'node:module';\nconst require = __uwsCreateRequire(import.meta.url);" },
    logLevel: "warning",
  });
  // The OpenStack power agent as the head runs it (scripts/elastic/openstack): one file with its npm
  // dependencies inlined (the head has Node.js and no node_modules for it); ssh2's optional native
  // helpers stay out (it falls back to JavaScript).
  const head = await build({
    absWorkingDir: root,
    entryPoints: { "uws-power-agent": "scripts/elastic/openstack/agent-main.ts" },
    outdir: join(tmp, "head"),
    outExtension: { ".js": ".mjs" },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: ["cpu-features", "*.node"],
    // No package root on the head: modules that locate the package get the bundle's own folder.
    plugins: [{
      name: "head-package-root",
      setup(b) { b.onResolve({ filter: /\/package-root\.js$/ }, () => ({ path: join(root, "scripts/elastic/openstack/head-root.ts") })); },
    }],
    metafile: true,
    legalComments: "linked",
    // Inlined CommonJS (ssh2) also reads __dirname.
    banner: { js: "import { createRequire as __uwsCreateRequire } from 'node:module';\nimport { fileURLToPath as __uwsPath } from 'node:url';\nimport { dirname as __uwsDir } from 'node:path';\n"
      + "const require = __uwsCreateRequire(import.meta.url);\nconst __filename = __uwsPath(import.meta.url);\nconst __dirname = __uwsDir(__filename);" },
    logLevel: "warning",
  });
  const sources = [...new Set([...Object.keys(r.metafile.inputs), ...Object.keys(head.metafile.inputs)])].filter((f) => !f.startsWith("node_modules/"));
  writeFileSync(join(tmp, "inputs.json"), JSON.stringify(["package.json", ...sources]) + "\n");
  if (keep) {
    // Chunks first, main.js last: a process starting meanwhile loads either build whole.
    const files = readdirSync(tmp, { recursive: true, withFileTypes: true }).filter((f) => f.isFile())
      .map((f) => relative(tmp, join(f.parentPath, f.name)))
      .sort((a, b) => Number(a === "main.js") - Number(b === "main.js") || Number(!a.startsWith("chunks")) - Number(!b.startsWith("chunks")));
    for (const f of files) {
      mkdirSync(dirname(join(outDir, f)), { recursive: true });
      renameSync(join(tmp, f), join(outDir, f));
    }
    rmSync(tmp, { recursive: true, force: true });
    return sources.length;
  }
  // Swap: another process (a test spawning the CLI, say) may be swapping at the same moment; the
  // last rename wins and both builds are of the same sources.
  const old = join(root, `dist/.cli-old-${process.pid}`);
  mkdirSync(dirname(outDir), { recursive: true });
  try {
    renameSync(outDir, old);
  } catch (e) {
    if (e.code !== "ENOENT") throw e;
  }
  try {
    renameSync(tmp, outDir);
  } catch (e) {
    if (e.code !== "ENOTEMPTY" && e.code !== "EEXIST") throw e;
    rmSync(tmp, { recursive: true, force: true });
  }
  rmSync(old, { recursive: true, force: true });
  return sources.length;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  const n = await buildCli();
  console.log(`built ${relative(process.cwd(), join(outDir, "main.js"))} from ${n} sources (${Math.round(performance.now() - t0)} ms)`);
}
