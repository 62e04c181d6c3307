/**
 * How the head's power agent learns a new server's SSH host key without reading its console log
 * (Nova's os-getConsoleOutput is a server action: an access rule allowing it allows every action on
 * every server of the project, reboot and rebuild included).
 *
 * Each resume writes a fresh one-time nonce into that server's copy of the on-demand user-data
 * (cloud-init `phone_home`, templates/cloud-init/user-data.hbs). Only that server reads its
 * user-data from the metadata service; at the end of its first boot cloud-init posts the host
 * public keys to `http://HEAD:PORT/host-keys/NONCE`. The agent accepts one post per nonce, for the
 * server it created (instance id), and nothing else: no trust by source address, no first use.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { isDeepStrictEqual } from "node:util";
import { parse as parseYaml, parseDocument } from "yaml";
import { HOST_KEY_NONCE_HEX, hostKeyUrl } from "../../../stacks/model/index.js";

/** The user-data `up` rendered for an on-demand node, with this resume's phone-home URL. */
export function withPhoneHome(userData: string, url: string, node: string): string {
  const doc = parseDocument(userData);
  if (typeof doc.getIn(["phone_home", "url"]) !== "string") {
    throw new Error(`the user-data of ${node} has no phone_home url: it was rendered by an older uws-cluster; run \`uws-cluster up\` again`);
  }
  doc.setIn(["phone_home", "url"], url);
  const text = doc.toString({ lineWidth: 0 });
  // Only the URL may differ (the node's files are carried byte for byte).
  const before = parseYaml(userData) as Record<string, unknown>, after = parseYaml(text) as Record<string, unknown>;
  if (!text.startsWith("#cloud-config\n") || !isDeepStrictEqual({ ...after, phone_home: { ...(after.phone_home as object), url: "" } }, { ...before, phone_home: { ...(before.phone_home as object), url: "" } })) {
    throw new Error(`the user-data of ${node} changed beyond its phone_home url when the nonce was set`);
  }
  return text;
}

const KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)|ssh-rsa) ([A-Za-z0-9+/]+={0,2})(?:\s|$)/;

/** The posted host keys, ed25519 first (`type base64`), from cloud-init's form fields. */
export function postedHostKeys(form: URLSearchParams): string[] {
  const keys: string[] = [];
  for (const field of ["pub_key_ed25519", "pub_key_ecdsa", "pub_key_rsa"]) {
    const m = KEY.exec((form.get(field) ?? "").trim());
    if (m) keys.push(`${m[1]} ${m[2]}`);
  }
  return keys;
}

interface Waiting {
  node: string;
  /** The server id the node must report (set once Nova answered the create). */
  instanceId?: string;
  key?: string;
  resolve?: (key: string) => void;
}

/** One resume's expectation: the URL to put in the server's user-data, then its host key. */
export interface HostKeyTicket {
  nonce: string;
  url: string;
  /** The server Nova created for this resume: the post must name it. */
  bind(instanceId: string): void;
  /** The host key the server posted; throws after `timeoutMs`. */
  wait(timeoutMs: number): Promise<string>;
  /** Forget the nonce (the resume ended either way). */
  close(): void;
}

/** The nonces of resumes in flight and the keys posted for them. */
export class HostKeyInbox {
  private readonly open = new Map<string, Waiting>();

  /** `address`/`port`: where the nodes reach the listener (the port asked when the server is bound: a test's port 0). */
  constructor(private readonly o: { address: string; port: () => number; log: (s: string) => void }) {}

  expect(node: string): HostKeyTicket {
    const nonce = randomBytes(HOST_KEY_NONCE_HEX / 2).toString("hex");
    const w: Waiting = { node };
    this.open.set(nonce, w);
    return {
      nonce,
      url: hostKeyUrl(this.o.address, this.o.port(), nonce),
      bind: (id) => { w.instanceId = id; },
      wait: (timeoutMs) => new Promise<string>((resolve, reject) => {
        if (w.key) { resolve(w.key); return; }
        const t = setTimeout(() => reject(new Error(`${node}: its host keys were not posted to the power agent within ${Math.round(timeoutMs / 1000)} s `
          + `(cloud-init's phone_home at the end of first boot, to ${this.o.address}:${this.o.port()}: check the image runs cloud-init and the node reaches the head)`)), timeoutMs);
        w.resolve = (k) => { clearTimeout(t); resolve(k); };
      }),
      close: () => { this.open.delete(nonce); },
    };
  }

  /** A post: the status to answer and why. Accepted once per nonce, for the server the nonce was given to. */
  receive(nonce: string, form: URLSearchParams): { status: number; why: string } {
    const w = this.open.get(nonce);
    if (!w) return { status: 404, why: "no resume waits for this nonce" };
    if (w.key) return { status: 409, why: `${w.node}: its host keys were posted already` };
    const instance = form.get("instance_id") ?? "";
    if (!w.instanceId || instance !== w.instanceId) return { status: 403, why: `${w.node}: posted by instance ${JSON.stringify(instance.slice(0, 64))}, not server ${w.instanceId ?? "(not created yet)"}` };
    const keys = postedHostKeys(form);
    if (!keys.length) return { status: 400, why: `${w.node}: no ssh-ed25519, ecdsa or rsa public key in the post` };
    w.key = keys[0]!;
    w.resolve?.(w.key);
    return { status: 204, why: `${w.node}: host key ${w.key.split(" ")[0]} received` };
  }
}

const NONCE_PATH = new RegExp(`^/host-keys/([0-9a-f]{${HOST_KEY_NONCE_HEX}})$`);

/** Serves the inbox on host:port (port 0: any free port) until closed. */
export async function serveHostKeys(inbox: HostKeyInbox, o: { host: string; port: number; log: (s: string) => void }): Promise<Server> {
  const server = createServer((req, res) => {
    const nonce = NONCE_PATH.exec(req.url ?? "")?.[1];
    if (req.method !== "POST" || !nonce) { res.writeHead(404, { "content-type": "text/plain" }).end("POST /host-keys/NONCE\n"); return; }
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => { body += c; if (body.length > 16_384) req.destroy(); });
    req.on("end", () => {
      const r = inbox.receive(nonce, new URLSearchParams(body));
      o.log(`host keys: ${r.status === 204 ? "" : `refused (${r.status}) `}${r.why} (from ${req.socket.remoteAddress})`);
      res.writeHead(r.status, { "content-type": "text/plain" }).end(r.status === 204 ? undefined : `${r.why}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(o.port, o.host, resolve); });
  return server;
}
