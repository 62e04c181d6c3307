import type { SpecIssue } from "./errors.js";

/**
 * A tiny field-path aware reader over untyped input. Each getter records an issue (instead of
 * throwing) so that validation reports every problem at once, and returns undefined on failure.
 */
export class Reader {
  constructor(readonly issues: SpecIssue[] = []) {}

  fail(field: string, message: string): undefined {
    this.issues.push({ field, message });
    return undefined;
  }

  /** Reports keys not in `known`: a typo must not be silently ignored. */
  noUnknownKeys(obj: Record<string, unknown>, path: string, known: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!known.includes(key)) {
        const where = path ? `${path}.${key}` : key;
        this.fail(where, `unknown field; allowed here: ${known.join(", ")}`);
      }
    }
  }

  object(value: unknown, path: string): Record<string, unknown> | undefined {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return this.fail(path, `must be a mapping (key: value), got ${describe(value)}`);
    }
    return value as Record<string, unknown>;
  }

  string(value: unknown, path: string, opts: { pattern?: RegExp; hint?: string; max?: number } = {}): string | undefined {
    if (typeof value !== "string" || value.length === 0) {
      return this.fail(path, `must be a non-empty string${opts.hint ? ` (${opts.hint})` : ""}, got ${describe(value)}`);
    }
    if (opts.max !== undefined && value.length > opts.max) {
      return this.fail(path, `must be at most ${opts.max} characters, got ${value.length}`);
    }
    if (opts.pattern && !opts.pattern.test(value)) {
      return this.fail(path, `must match ${opts.pattern.source}${opts.hint ? ` (${opts.hint})` : ""}, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  int(value: unknown, path: string, min: number, max: number): number | undefined {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      return this.fail(path, `must be an integer from ${min} to ${max}, got ${describe(value)}`);
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T | undefined {
    if (typeof value !== "string" || !allowed.includes(value as T)) {
      return this.fail(path, `must be one of ${allowed.join(", ")}, got ${describe(value)}`);
    }
    return value as T;
  }

  stringList(value: unknown, path: string, check?: (s: string, p: string) => string | undefined): string[] | undefined {
    if (!Array.isArray(value)) return this.fail(path, `must be a list of strings, got ${describe(value)}`);
    const out: string[] = [];
    value.forEach((item, i) => {
      const s = check ? check(item as string, `${path}[${i}]`) : this.string(item, `${path}[${i}]`);
      if (s !== undefined) out.push(s);
    });
    return out.length === value.length ? out : undefined;
  }
}

export function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return JSON.stringify(value);
}
