// The portal's first page, built once at start: index.html with the stylesheet and the page's
// script inlined (portal.js with rules.js folded in), so that a browser needs no request after the
// page itself to show the applications — on a busy machine each further request costs more than
// the bytes it saves from caches. The Content-Security-Policy allows exactly these two inline
// blocks (by their SHA-256), nothing else inline. samp.js and votable.js stay files, loaded later.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface FirstPage {
  /** The page up to where the per-request data block goes, and after it. */
  head: string;
  tail: string;
  /** The page's Content-Security-Policy (the inline blocks' hashes in it). */
  csp: string;
}

const sha = (s: string) => `'sha256-${createHash("sha256").update(s, "utf8").digest("base64")}'`;

/** rules.js as a block yielding its exports: `const { check, … } = (() => { …; return { check, … }; })();`. */
function foldModule(src: string, file: string): { code: string; names: string[] } {
  const names: string[] = [];
  const body = src.replace(/^export (function|const) (\w+)/gm, (_, kind: string, name: string) => {
    names.push(name);
    return `${kind} ${name}`;
  });
  if (!names.length || /^\s*(import|export)\b/m.test(body)) throw new Error(`portal/assets/${file}: expected top-level 'export function|const' only, no imports`);
  return { code: `const { ${names.join(", ")} } = (() => {\n${body}\nreturn { ${names.join(", ")} };\n})();\n`, names };
}

export function buildFirstPage(dir: string, csp: (inline: { script: string; style: string }) => string): FirstPage {
  const read = (f: string) => readFileSync(join(dir, f), "utf8");
  const html = read("index.html");
  const rules = foldModule(read("rules.js"), "rules.js");
  const IMPORT = /^import \{ ([\w, ]+) \} from "\.\/rules\.js";\n/m;
  const portal = read("portal.js");
  const imported = IMPORT.exec(portal)?.[1]?.split(/,\s*/);
  if (!imported || imported.some((n) => !rules.names.includes(n)) || /^import\s/m.test(portal.replace(IMPORT, "")))
    throw new Error("portal/assets/portal.js: expected one static import, from ./rules.js, of names rules.js exports");
  const script = `\n${rules.code}${portal.replace(IMPORT, "")}`;
  const style = `\n${read("portal.css")}`;
  const icon = `data:image/svg+xml;base64,${Buffer.from(read("icon.svg")).toString("base64")}`;
  const page = html
    .replace('<link rel="stylesheet" href="/portal/assets/portal.css">', () => `<style>${style}</style>`)
    .replace('<link rel="modulepreload" href="/portal/assets/rules.js">\n', "")
    .replace('<script type="module" src="/portal/assets/portal.js"></script>', () => `<script type="module">${script}</script>`)
    .replaceAll("/portal/assets/icon.svg", icon);
  if (!page.includes("<style>") || !page.includes('<script type="module">\n') || /(href|src)="\/portal\/assets\//.test(page) || (script + style).includes("</"))
    throw new Error("portal/assets/index.html: the stylesheet, the script or the icon could not be inlined");
  const [head, tail] = page.split("<!--boot-->");
  if (tail === undefined) throw new Error("portal/assets/index.html: no <!--boot--> placeholder");
  return { head: head!, tail, csp: csp({ script: sha(script), style: sha(style) }) };
}
