/** Keystone calls beyond authentication: application credentials of the current user. */
import type { OpenStackClient } from "./client.js";

export interface ApplicationCredential { id: string; name: string; description?: string | null; project_id: string; expires_at?: string | null; secret?: string }

export async function listApplicationCredentials(c: OpenStackClient): Promise<ApplicationCredential[]> {
  return (await c.request("identity", "GET", `/users/${c.userId}/application_credentials`)).body.application_credentials;
}

export async function deleteApplicationCredential(c: OpenStackClient, id: string): Promise<boolean> {
  return (await c.request("identity", "DELETE", `/users/${c.userId}/application_credentials/${id}`, { ok: [404] })).status !== 404;
}
