/**
 * scripts/package-root.ts as the head's agent bundle sees it (scripts/build.mjs swaps it in): on the
 * head the bundle is a single file with no package around it, and the agent reads no template or
 * package file (its node files come rendered in its configuration).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = dirname(fileURLToPath(import.meta.url));
export const TEMPLATES_DIR = join(REPO_ROOT, "templates");
