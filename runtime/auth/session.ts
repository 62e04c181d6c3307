// Browser sessions of the portal, server-side in SQLite (<data>/portal.sqlite): the cookie holds a
// random id, the table holds only its SHA-256 (a copy of the file grants no session). Each session
// carries the principal decided at login (the same rules as bearer tokens), a CSRF token that every
// state-changing request must echo, and the ID token (for the IdP's end-session). Login attempts
// (OIDC state, PKCE verifier, nonce) live in a second table for a few minutes.
import Database from "better-sqlite3";
import { createHash, randomBytes } from "node:crypto";
import type { Principal } from "./principal.js";

export interface Session {
  principal: Principal;
  /** Shown in the page (the IdP's name claim, else the owner id). */
  name: string;
  csrf: string;
  idToken: string | null;
  expires: number;
}

export interface LoginAttempt {
  verifier: string;
  nonce: string;
  returnTo: string;
}

const hash = (s: string) => createHash("sha256").update(s).digest("base64url");
export const randomToken = (bytes = 32) => randomBytes(bytes).toString("base64url");

export class SessionStore {
  private readonly db: Database.Database;
  private readonly st;

  constructor(file: string, readonly lifetimeMs = 8 * 3600_000) {
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, owner TEXT, admin INTEGER NOT NULL, name TEXT NOT NULL,
        csrf TEXT NOT NULL, id_token TEXT, expires INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS logins (state TEXT PRIMARY KEY, verifier TEXT NOT NULL, nonce TEXT NOT NULL,
        return_to TEXT NOT NULL, expires INTEGER NOT NULL);`);
    this.st = {
      insert: this.db.prepare("INSERT INTO sessions (id, owner, admin, name, csrf, id_token, expires) VALUES (?, ?, ?, ?, ?, ?, ?)"),
      get: this.db.prepare("SELECT owner, admin, name, csrf, id_token, expires FROM sessions WHERE id = ?"),
      del: this.db.prepare("DELETE FROM sessions WHERE id = ?"),
      purge: this.db.prepare("DELETE FROM sessions WHERE expires < ?"),
      loginIns: this.db.prepare("INSERT INTO logins (state, verifier, nonce, return_to, expires) VALUES (?, ?, ?, ?, ?)"),
      loginTake: this.db.prepare("DELETE FROM logins WHERE state = ? RETURNING verifier, nonce, return_to, expires"),
      loginPurge: this.db.prepare("DELETE FROM logins WHERE expires < ?"),
    };
  }

  /** A new session; returns the cookie value (never stored as such). */
  create(principal: Principal, name: string, idToken: string | null = null, now = Date.now()): { id: string; session: Session } {
    this.st.purge.run(now);
    const id = randomToken();
    const session: Session = { principal, name, csrf: randomToken(24), idToken, expires: now + this.lifetimeMs };
    this.st.insert.run(hash(id), principal.owner, principal.admin ? 1 : 0, name, session.csrf, idToken, session.expires);
    return { id, session };
  }

  get(id: string | undefined, now = Date.now()): Session | undefined {
    if (!id || id.length > 100) return undefined;
    const r = this.st.get.get(hash(id)) as { owner: string | null; admin: number; name: string; csrf: string; id_token: string | null; expires: number } | undefined;
    if (!r || r.expires < now) return undefined;
    return { principal: { owner: r.owner, admin: r.admin === 1 }, name: r.name, csrf: r.csrf, idToken: r.id_token, expires: r.expires };
  }

  delete(id: string | undefined): void {
    if (id) this.st.del.run(hash(id));
  }

  /** Remembers a login attempt for 10 minutes; returns its state. */
  startLogin(a: LoginAttempt, now = Date.now()): string {
    this.st.loginPurge.run(now);
    const state = randomToken();
    this.st.loginIns.run(hash(state), a.verifier, a.nonce, a.returnTo, now + 600_000);
    return state;
  }

  /** The attempt of a state, once: a state is consumed by its first use. */
  takeLogin(state: string | undefined, now = Date.now()): LoginAttempt | undefined {
    if (!state || state.length > 100) return undefined;
    const r = this.st.loginTake.get(hash(state)) as { verifier: string; nonce: string; return_to: string; expires: number } | undefined;
    if (!r || r.expires < now) return undefined;
    return { verifier: r.verifier, nonce: r.nonce, returnTo: r.return_to };
  }

  close(): void {
    this.db.close();
  }
}
