/**
 * Keeps credentials out of logs, errors, engine output and --json. Three layers:
 * - values under secret-looking keys are replaced wherever they appear in an object (`redact`);
 * - secrets this process learned (passwords, tokens, application credential secrets: `registerSecret`)
 *   and credential-like patterns (`X-Auth-Token: …`, `Bearer …`, `"password": "…"`) are replaced in
 *   free text (`redactText`), e.g. an API error body echoing a token;
 * - for the engines' output, also the values of the credential variables of the environment they run
 *   with (OS_PASSWORD, AWS_SECRET_ACCESS_KEY, …: `redactorFor`), and a last guard before a file is
 *   written (`assertNoSecrets`).
 */

export const REDACTED = "[redacted]";

/** Keys whose values are secrets: passwords, application credential secrets, tokens of any kind. */
const SECRET_KEY = /(^|[_-])(password|passwd|secret|token|access[_-]?token|refresh[_-]?token|id[_-]?token|client[_-]?secret|private[_-]?key|credential[_-]?secret)$|^x-auth-token$|^x-subject-token$|^authorization$|^cookie$|^set-cookie$/i;

/** Names of environment variables holding credentials. */
const SECRET_VARIABLE = /PASSWORD|PASSWD|SECRET|TOKEN|PASSPHRASE|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL|API_KEY|AUTH_KEY/i;

/** Very short values would turn ordinary words into "[redacted]": such secrets are weak anyway. */
const MIN_SECRET_LENGTH = 6;

function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** Deep copy with every secret-keyed value replaced (and every string passed through redactText). */
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
  if (value && value.length >= MIN_SECRET_LENGTH) known.add(value);
}

function replaceAll(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** Replaces every registered secret and every `X-Auth-Token: ...`/`Bearer ...`/`"password": "..."` in free text. */
export function redactText(text: string): string {
  return replaceAll(text, known)
    .replace(/(x-(?:auth|subject)-token["']?\s*[:=]\s*["']?)[^\s"',}]+/gi, `$1${REDACTED}`)
    .replace(/(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1${REDACTED}`)
    .replace(/("(?:password|secret|token|access_token|id)"\s*:\s*")[^"]*(")/gi, (m, a: string, b: string) =>
      /"id"/i.test(a) ? m : `${a}${REDACTED}${b}`);
}

/** Values of the credential-like variables of `env` (e.g. OS_PASSWORD, OS_APPLICATION_CREDENTIAL_SECRET, AWS_SECRET_ACCESS_KEY), longest first. */
function secretValues(env: NodeJS.ProcessEnv): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(env)) {
    if (!v || v.length < MIN_SECRET_LENGTH || !SECRET_VARIABLE.test(k) || /_FILE$/.test(k)) continue;
    out.add(v);
  }
  return [...out].sort((a, b) => b.length - a.length);
}

export type Redactor = (text: string) => string;

/**
 * The redactor of an engine's output: the tools never print credentials on purpose, but a provider
 * error can echo a request, so every line loses the credential values of `env`, then passes redactText.
 */
export function redactorFor(env: NodeJS.ProcessEnv): Redactor {
  const secrets = secretValues(env);
  return (text) => redactText(replaceAll(text, secrets));
}

/** Throws when any credential value of `env` appears in `text` (a last guard before a file is written). */
export function assertNoSecrets(text: string, env: NodeJS.ProcessEnv, what: string): void {
  for (const s of secretValues(env)) {
    if (text.includes(s)) throw new Error(`refusing to write ${what}: it would contain the value of a credential variable from the environment`);
  }
}
