// Who is calling. Owners see and act on their own jobs only; admins see every job.
export interface Principal {
  /** null only in auth mode `none` (then ownerId is written as xsi:nil). */
  owner: string | null;
  admin: boolean;
}

export class AuthError extends Error {
  constructor(readonly status: 401 | 403, message: string) {
    super(message);
  }
}

export type Authenticator = (authorization: string | undefined) => Promise<Principal>;

export function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}
