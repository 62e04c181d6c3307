/** Keystone calls beyond authentication: application credentials of the current user. */
import type { OpenStackClient } from "./client.js";
import { registerSecret } from "../redact.js";

export interface ApplicationCredential { id: string; name: string; description?: string | null; project_id: string; expires_at?: string | null; secret?: string }

export async function listApplicationCredentials(c: OpenStackClient): Promise<ApplicationCredential[]> {
  return (await c.request("identity", "GET", `/users/${c.userId}/application_credentials`)).body.application_credentials;
}

/** Creates one; the secret is shown once by Keystone and registered with the redactor at once. */
export async function createApplicationCredential(c: OpenStackClient, a: { name: string; description?: string; expiresAt?: string | null; roles?: string[] }): Promise<ApplicationCredential> {
  const body = { application_credential: { name: a.name, description: a.description, expires_at: a.expiresAt ?? null, ...(a.roles ? { roles: a.roles.map((name) => ({ name })) } : {}) } };
  const ac = (await c.request("identity", "POST", `/users/${c.userId}/application_credentials`, { body })).body.application_credential as ApplicationCredential;
  registerSecret(ac.secret);
  return ac;
}

export async function deleteApplicationCredential(c: OpenStackClient, id: string): Promise<boolean> {
  return (await c.request("identity", "DELETE", `/users/${c.userId}/application_credentials/${id}`, { ok: [404] })).status !== 404;
}
