/**
 * Where uws-cluster's own files are: the package root, the folder holding package.json, templates/
 * and dist/runtime/ (and, in a checkout, the sources). Found by walking up from this module, so it
 * is the same from the sources (scripts/), the compiled CLI (dist/cli/) and an installed package.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findPackageRoot(from: string): string {
  for (let d = from; ; d = dirname(d)) {
    if (existsSync(join(d, "package.json")) && existsSync(join(d, "templates"))) return d;
    if (dirname(d) === d) throw new Error(`uws-cluster: no package root (package.json beside templates/) above ${from}`);
  }
}

export const REPO_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
export const TEMPLATES_DIR = join(REPO_ROOT, "templates");
