/**
 * Keeps credentials out of logs, errors and --json output. Two layers: values under secret-looking
 * keys are replaced wherever they appear in an object, and known secret strings (the ones this
 * process loaded) are replaced wherever they appear in text, e.g. an API error body echoing a token.
 */

export const REDACTED = "[redacted]";

/** Keys whose values are secrets: passwords, application credential secrets, tokens of any kind. */
const SECRET_KEY = /(^|[_-])(password|passwd|secret|token|access[_-]?token|refresh[_-]?token|id[_-]?token|client[_-]?secret|private[_-]?key|credential[_-]?secret)$|^x-auth-token$|^x-subject-token$|^authorization$|^cookie$|^set-cookie$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** Deep copy with every secret-keyed value replaced. */
export function redact<T>(value: T): T {
  return walk(value, new WeakSet()) as T;
}

function walk(v: unknown, seen: WeakSet<object>): unknown {
  if (v === null || typeof v !== "object") return typeof v === "string" ? redactText(v) : v;
  if (seen.has(v)) return "[circular]";
  seen.add(v);
  if (Array.isArray(v)) return v.map((x) => walk(x, seen));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    out[k] = isSecretKey(k) && x !== undefined && x !== null && x !== "" ? REDACTED : walk(x, seen);
  }
  return out;
}

const known = new Set<string>();

/** Registers a secret value (a password, token, app credential secret) so redactText() hides it everywhere. */
export function registerSecret(value: string | undefined | null): void {
  // Very short values would turn ordinary words into "[redacted]": such secrets are weak anyway.
  if (value && value.length >= 6) known.add(value);
}

/** Replaces every registered secret and every `X-Auth-Token: ...`/`Bearer ...` pattern in free text. */
export function redactText(text: string): string {
  let out = text;
  for (const s of known) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out
    .replace(/(x-(?:auth|subject)-token["']?\s*[:=]\s*["']?)[^\s"',}]+/gi, `$1${REDACTED}`)
    .replace(/(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1${REDACTED}`)
    .replace(/("(?:password|secret|token|access_token|id)"\s*:\s*")[^"]*(")/gi, (m, a: string, b: string) =>
      /"id"/i.test(a) ? m : `${a}${REDACTED}${b}`);
}
