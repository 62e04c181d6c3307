/**
 * SSH host keys of a new server, read from its console log: cloud-init prints the public host keys
 * between fixed markers at first boot. Reading them through the authenticated Nova API lets the
 * first SSH connection verify the host key (no trust on first use), without putting host private
 * keys into user-data.
 */
import { waitForHostKey } from "../../../deploy/booted.js";
import type { OpenStackClient } from "./client.js";

export async function consoleOutput(c: OpenStackClient, serverId: string): Promise<string> {
  // Reading the console has no side effect, so a lost answer may be retried.
  const r = await c.request<{ output?: string }>("compute", "POST", `/servers/${encodeURIComponent(serverId)}/action`, { body: { "os-getConsoleOutput": { length: -1 } }, retrySafe: true });
  return r.body?.output ?? "";
}

/** Polls a server's console (through the Nova API) until its host keys appear; throws naming the server after `timeoutMs`. */
export function waitForServerHostKey(c: OpenStackClient, server: { id: string; name: string }, opts: { timeoutMs: number; intervalMs?: number }): Promise<string> {
  return waitForHostKey(() => consoleOutput(c, server.id), server.name, opts);
}
