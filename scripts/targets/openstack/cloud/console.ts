/**
 * SSH host keys of a new server, read from its console log: cloud-init prints the public host keys
 * between fixed markers at first boot. Reading them through the authenticated Nova API lets the
 * first SSH connection verify the host key (no trust on first use), without putting host private
 * keys into user-data.
 */
import type { OpenStackClient } from "./client.js";

const BEGIN = "-----BEGIN SSH HOST KEY KEYS-----";
const END = "-----END SSH HOST KEY KEYS-----";

/** The host public keys in a console log, preferring ed25519; empty until cloud-init has printed them. */
export function hostKeysFromConsole(log: string): string[] {
  const start = log.lastIndexOf(BEGIN);
  if (start === -1) return [];
  const end = log.indexOf(END, start);
  if (end === -1) return [];
  const keys = log.slice(start + BEGIN.length, end).split(/\r?\n/)
    // Console lines may carry a kernel timestamp or a "ci-info:" style prefix before the key type.
    .map((l) => /(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) ([A-Za-z0-9+/=]+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]}`);
  const rank = (k: string) => (k.startsWith("ssh-ed25519") ? 0 : k.startsWith("ecdsa") ? 1 : 2);
  return keys.sort((a, b) => rank(a) - rank(b));
}

export async function consoleOutput(c: OpenStackClient, serverId: string): Promise<string> {
  // Reading the console has no side effect, so a lost answer may be retried.
  const r = await c.request<{ output?: string }>("compute", "POST", `/servers/${encodeURIComponent(serverId)}/action`, { body: { "os-getConsoleOutput": { length: -1 } }, retrySafe: true });
  return r.body?.output ?? "";
}

/** Polls a server's console until its host keys appear; throws naming the server after `timeoutMs`. */
export async function waitForHostKey(c: OpenStackClient, server: { id: string; name: string }, opts: { timeoutMs: number; intervalMs?: number }): Promise<string> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const keys = hostKeysFromConsole(await consoleOutput(c, server.id));
    if (keys.length) return keys[0]!;
    if (Date.now() > deadline) {
      throw new Error(`${server.name}: no SSH host keys in the console log after ${Math.round(opts.timeoutMs / 1000)} s (cloud-init prints them at first boot; check the image runs cloud-init and its console)`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 5000));
  }
}
