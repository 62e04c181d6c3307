/**
 * The template engine: every `templates/<concern>/<name>.hbs` compiled once with Handlebars in strict
 * mode and registered as a partial under `<concern>/<name>`. Code hands templates a plain view object;
 * the text lives in the templates. A missing value fails with the template file and the variable.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import Handlebars from "handlebars";
import { CliError, EXIT } from "../errors.js";
import { TEMPLATES_DIR } from "../package-root.js";


/** A template could not be rendered: names the template file and the missing or bad variable. */
export class TemplateError extends CliError {
  constructor(readonly template: string, readonly variable: string | undefined, detail: string) {
    super(variable ? `template ${template}: missing variable "${variable}" (${detail})` : `template ${template}: ${detail}`, EXIT.failure, "template", { template, ...(variable ? { variable } : {}) });
  }
}

/** Raised by the strict view when a template (or a helper argument) reads a field the view lacks. */
class MissingVariable extends Error {
  constructor(readonly path: string) {
    super(`"${path}" not defined`);
  }
}

// Properties JavaScript itself probes on objects (JSON.stringify, await); absent is not an error there.
const PROBED = new Set(["toJSON", "then"]);

/**
 * Handlebars' strict mode does not check helper arguments (`{{#if x}}`, `{{json x}}`); this proxy
 * makes every read of an absent field an error too, with its dotted path. Optional values are
 * therefore explicit `null`/`false` in views.
 */
function strictView<T>(value: T, path = ""): T {
  if (value === null || typeof value !== "object" || Buffer.isBuffer(value)) return value;
  return new Proxy(value as object, {
    // Handlebars' strict check asks `name in context`: answer absent fields with the full path.
    has(target, key) {
      if (typeof key === "string" && !(key in target) && !PROBED.has(key)) throw new MissingVariable(path + key);
      return key in target;
    },
    get(target, key, receiver) {
      if (typeof key === "string" && !(key in target) && !PROBED.has(key)) throw new MissingVariable(path + key);
      const v = Reflect.get(target, key, receiver);
      return typeof key === "string" ? strictView(v, Array.isArray(target) ? `${path}[${key}].` : `${path}${key}.`) : v;
    },
  }) as T;
}

function toTemplateError(template: string, e: unknown): TemplateError {
  if (e instanceof TemplateError) return e;
  if (e instanceof MissingVariable) return new TemplateError(template, e.path, "not in the view");
  const msg = e instanceof Error ? e.message : String(e);
  const m = /^"([^"]+)" not defined in .*? - (\d+:\d+)/.exec(msg);
  if (m) return new TemplateError(template, m[1], `line:column ${m[2]}`);
  return new TemplateError(template, undefined, msg);
}

/** Renders `content` as a YAML scalar placed after `key: ` at `indent` spaces: a literal block when that is exact, else JSON. */
export function yamlScalar(content: string, indent: number): string {
  const blockSafe = content.length > 0 && !/^[ \t\n]/.test(content) && !/[^\t\n\x20-\x7e\u00a0-\ud7ff\ue000-\ufffd]/.test(content)
    && !/[ \t]$/m.test(content);
  if (!blockSafe) return JSON.stringify(content);
  const trailing = /\n*$/.exec(content)![0].length;
  const chomp = trailing === 0 ? "-" : trailing === 1 ? "" : "+";
  const body = content.slice(0, content.length - trailing);
  const pad = " ".repeat(indent);
  const lines = body.split("\n").map((l) => (l === "" ? "" : pad + l));
  return `|${chomp}\n${lines.join("\n")}${"\n".repeat(Math.max(0, trailing - 1))}`;
}

/** POSIX shell single-quoting, for values templates place in scripts. */
export function shellQuote(v: unknown): string {
  const s = String(v);
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function needDefined(helper: string, v: unknown): void {
  if (v === undefined) throw new Error(`helper ${helper} got an undefined value`);
}

export class TemplateSet {
  private readonly hb = Handlebars.create();
  private readonly compiled = new Map<string, Handlebars.TemplateDelegate>();

  constructor(readonly dir: string = TEMPLATES_DIR) {
    this.hb.registerHelper("json", (v: unknown) => { needDefined("json", v); return JSON.stringify(v); });
    this.hb.registerHelper("yaml", (v: unknown, indent: unknown) => { needDefined("yaml", v); return yamlScalar(String(v), Number(indent)); });
    this.hb.registerHelper("sh", (v: unknown) => { needDefined("sh", v); return shellQuote(v); });
    this.hb.registerHelper("eq", (a: unknown, b: unknown) => a === b);
    for (const file of walk(dir)) {
      const name = relative(dir, file).replace(/\\/g, "/").replace(/\.hbs$/, "");
      const src = readFileSync(file, "utf8");
      try {
        this.hb.parse(src); // syntax errors surface at load, naming the file
      } catch (e) {
        throw toTemplateError(`${name}.hbs`, e);
      }
      const fn = this.hb.compile(src, { strict: true, noEscape: true });
      this.compiled.set(name, fn);
      // A partial failing inside another template still names its own file.
      this.hb.registerPartial(name, ((ctx: unknown, options: unknown) => {
        try {
          return (fn as (c: unknown, o: unknown) => string)(ctx, options);
        } catch (e) {
          throw toTemplateError(`${name}.hbs`, e);
        }
      }) as unknown as Handlebars.TemplateDelegate);
    }
  }

  has(name: string): boolean {
    return this.compiled.has(name);
  }

  /** Renders `templates/<name>.hbs` with `view`; throws TemplateError naming the file and the variable. */
  render(name: string, view: object): string {
    const fn = this.compiled.get(name);
    if (!fn) throw new TemplateError(`${name}.hbs`, undefined, `no such template under ${this.dir}`);
    try {
      return fn(strictView(view));
    } catch (e) {
      throw toTemplateError(`${name}.hbs`, e);
    }
  }
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.name.endsWith(".hbs")) out.push(p);
  }
  return out.sort();
}

let shared: TemplateSet | undefined;
/** The project's templates, loaded once per process. */
export function templates(): TemplateSet {
  return (shared ??= new TemplateSet());
}
