/**
 * Engines stream the tools' output to the user and into errors. The tools never print credentials on
 * purpose, but a provider error can echo a request; every line is passed through this first.
 */
const SECRET_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|PASSPHRASE|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL|API_KEY|AUTH_KEY/i;
export const REDACTED = "[redacted]";

/** Values of the credential-like variables of `env` (e.g. OS_PASSWORD, OS_APPLICATION_CREDENTIAL_SECRET, AWS_SECRET_ACCESS_KEY). */
export function secretValues(env: NodeJS.ProcessEnv): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(env)) {
    if (!v || v.length < 6 || !SECRET_NAME.test(k) || /_FILE$/.test(k)) continue;
    out.add(v);
  }
  return [...out].sort((a, b) => b.length - a.length);
}

export type Redactor = (text: string) => string;

export function redactorFor(env: NodeJS.ProcessEnv): Redactor {
  const secrets = secretValues(env);
  return (text) => {
    let out = text;
    for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out.replace(/(x-(?:auth|subject)-token["']?\s*[:=]\s*["']?)[^\s"',}]+/gi, `$1${REDACTED}`)
      .replace(/(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1${REDACTED}`);
  };
}

/** Throws when any credential value of `env` appears in `text` (a last guard before a file is written). */
export function assertNoSecrets(text: string, env: NodeJS.ProcessEnv, what: string): void {
  for (const s of secretValues(env)) {
    if (text.includes(s)) throw new Error(`refusing to write ${what}: it would contain the value of a credential variable from the environment`);
  }
}
