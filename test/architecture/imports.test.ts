// The layout's import rules, checked on every source file: data flows one way (stacks never import
// scripts; the job server imports neither), and a target never imports another target.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/deploy/bundle.js";

function sources(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && /\.(ts|mts|mjs)$/.test(d.name) && !d.parentPath.includes("/.gen") && !d.parentPath.includes("node_modules"))
    .map((d) => relative(REPO_ROOT, join(d.parentPath, d.name)));
}

/** Every relative import of a file, as a path from the repo root. */
export function importsOf(file: string, text = readFileSync(join(REPO_ROOT, file), "utf8")): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^"'`]*?from\s*["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/g)) {
    const spec = m[1] ?? m[2]!;
    out.push(relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), spec)));
  }
  return out;
}

const under = (p: string, dir: string) => p === dir || p.startsWith(dir + "/");

describe("import rules", () => {
  it("the checker sees imports (so the rules below can fail)", () => {
    expect(importsOf("stacks/x/a.ts", 'import { b } from "../../scripts/b.js";\nconst c = await import("./c.js");')).toEqual(["scripts/b.js", "stacks/x/c.js"]);
  });

  it("stacks/ imports nothing from scripts/ or runtime/", () => {
    const bad = sources("stacks").flatMap((f) => importsOf(f).filter((i) => under(i, "scripts") || under(i, "runtime")).map((i) => `${f} → ${i}`));
    expect(bad).toEqual([]);
  });

  it("runtime/ imports nothing from stacks/ or scripts/ (it deploys alone)", () => {
    const bad = sources("runtime").flatMap((f) => importsOf(f).filter((i) => under(i, "scripts") || under(i, "stacks")).map((i) => `${f} → ${i}`));
    expect(bad).toEqual([]);
  });

  it("no target imports another target", () => {
    const targets = readdirSync(join(REPO_ROOT, "scripts/targets"), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(targets.length).toBeGreaterThanOrEqual(2);
    const bad: string[] = [];
    for (const t of targets) {
      for (const f of sources(`scripts/targets/${t}`)) {
        for (const i of importsOf(f)) {
          const other = targets.find((o) => o !== t && under(i, `scripts/targets/${o}`));
          if (other) bad.push(`${f} → ${i}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it("the shared pipeline knows targets only by their interface", () => {
    const shared = ["deploy", "render", "ssh", "state", "secrets", "readiness", "apps", "client", "progress"].map((d) => `scripts/${d}`);
    const bad = shared.flatMap((d) => sources(d)).flatMap((f) => importsOf(f).filter((i) => under(i, "scripts/targets") && i !== "scripts/targets/target.js").map((i) => `${f} → ${i}`));
    expect(bad).toEqual([]);
  });

  it("verbs never branch on a target's name", () => {
    const bad = sources("scripts/cli/commands").filter((f) => /\btarget\s*===?\s*["'](local|openstack|machines)["']|case\s+["'](local|openstack|machines)["']/.test(readFileSync(join(REPO_ROOT, f), "utf8")));
    expect(bad).toEqual([]);
  });
});
