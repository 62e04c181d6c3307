// `tokens` mode: static bearer tokens mapped to owners (CI, small deployments). Tokens are kept
// as SHA-256 digests so a lookup compares digests, not the secrets themselves.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { AuthError, bearer, type Authenticator } from "./principal.js";

const digest = (t: string) => createHash("sha256").update(t).digest("hex");
const OWNER_RE = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

/** Parses TOKEN=OWNER entries (from --token flags or the lines of tokensFile). */
export function parseTokenEntries(entries: string[], source: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [i, raw] of entries.entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    const token = line.slice(0, eq).trim();
    const owner = line.slice(eq + 1).trim();
    if (eq <= 0 || !token || !OWNER_RE.test(owner))
      throw new Error(`${source} entry ${i + 1}: expected TOKEN=OWNER with OWNER matching [A-Za-z0-9][A-Za-z0-9._@+-]*`);
    out.set(digest(token), owner);
  }
  return out;
}

export function readTokensFile(file: string): Map<string, string> {
  return parseTokenEntries(readFileSync(file, "utf8").split("\n"), `tokensFile ${file}`);
}

export function tokensAuth(tokens: Map<string, string>, adminToken?: string): Authenticator {
  const adminDigest = adminToken ? digest(adminToken) : undefined;
  return async (header) => {
    const t = bearer(header);
    if (!t) throw new AuthError(401, "missing bearer token (Authorization: Bearer TOKEN)");
    const d = digest(t);
    if (adminDigest && d === adminDigest) return { owner: "admin", admin: true };
    const owner = tokens.get(d);
    if (!owner) throw new AuthError(401, "unknown token");
    return { owner, admin: false };
  };
}
