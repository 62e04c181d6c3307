/**
 * SSH to cluster nodes with ssh2, shared by every target: one connection per node, reused; host
 * keys checked against the keys we expect (no trust on first use); TCP_NODELAY on every socket
 * (without it each request after the first waits ~40 ms for a delayed ACK); optional jump host;
 * bounded parallelism across nodes. Knows addresses, a user, a key: nothing about clusters.
 */
import ssh2, { type ClientChannel, type ConnectConfig, type SFTPWrapper } from "ssh2";
import type { Duplex } from "node:stream";
import { CliError, EXIT } from "../errors.js";
import { shCommand, shq } from "./quote.js";

export interface SshHost {
  /** Name used in messages (the node name). */
  name: string;
  host: string;
  port?: number;
  /** The host public key the server must present, `ssh-ed25519 AAAA...` (OpenSSH format). */
  hostKey: string;
}

export interface SshPoolOptions {
  user: string;
  privateKey: string | Buffer;
  /** Reach the nodes through this host (e.g. the head's floating IP); it is verified like a node. */
  jump?: SshHost & { user?: string };
  /** Keep retrying refused/unreachable connections until this long after the first attempt. */
  connectRetryMs?: number;
  /** Handshake timeout per attempt. */
  readyTimeoutMs?: number;
  /** At most this many nodes at a time in forEach(). */
  concurrency?: number;
}

export interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

/** A file to place on a node: its content, mode (octal string) and owner (`user:group`). */
export interface PushFile {
  path: string;
  content: string | Buffer;
  mode: string;
  owner: string;
}

export class SshError extends CliError {
  constructor(readonly host: string, message: string) {
    super(`${host}: ${message}`, EXIT.failure, "ssh", { host });
  }
}

export function publicKeyBlob(openssh: string): Buffer {
  const k = ssh2.utils.parseKey(openssh.trim());
  if (k instanceof Error) throw new Error(`not an SSH public key: ${k.message}`);
  return (Array.isArray(k) ? k[0]! : k).getPublicSSH();
}

export class SshPool {
  private readonly conns = new Map<string, Promise<ssh2.Client>>();
  private jumpConn?: Promise<ssh2.Client>;

  constructor(private readonly opts: SshPoolOptions) {}

  /** The connection to a host (opened once, retried while the node's sshd is coming up). */
  connect(h: SshHost): Promise<ssh2.Client> {
    const key = `${h.host}:${h.port ?? 22}`;
    let c = this.conns.get(key);
    if (!c) {
      c = this.open(h, this.opts.user);
      this.conns.set(key, c);
      c.catch(() => this.conns.delete(key));
    }
    return c;
  }

  async exec(h: SshHost, command: string | string[], opts: { stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    const cmd = typeof command === "string" ? command : shCommand(command);
    const client = await this.connect(h);
    return new Promise((resolve, reject) => {
      client.exec(cmd, (err, ch) => {
        if (err) return reject(new SshError(h.name, `exec failed: ${err.message}`));
        const out: Buffer[] = [];
        const errb: Buffer[] = [];
        let timer: NodeJS.Timeout | undefined;
        if (opts.timeoutMs) timer = setTimeout(() => { ch.close(); reject(new SshError(h.name, `\`${cmd}\` timed out after ${opts.timeoutMs} ms`)); }, opts.timeoutMs);
        ch.on("data", (b: Buffer) => out.push(b));
        ch.stderr.on("data", (b: Buffer) => errb.push(b));
        ch.on("exit", (code: number | null, sig?: string) => { (ch as ClientChannel & { _uwsExit?: unknown })._uwsExit = { code, sig }; });
        ch.on("close", () => {
          if (timer) clearTimeout(timer);
          const ex = (ch as ClientChannel & { _uwsExit?: { code: number | null; sig?: string } })._uwsExit ?? { code: null };
          resolve({ code: ex.code, ...(ex.sig ? { signal: ex.sig } : {}), stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(errb).toString("utf8") });
        });
        if (opts.stdin !== undefined) ch.end(opts.stdin);
        else ch.end();
      });
    });
  }

  /** exec() that fails with the command's stderr unless it exits 0. */
  async run(h: SshHost, command: string | string[], opts: { stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(h, command, opts);
    if (r.code !== 0) {
      const cmd = typeof command === "string" ? command : shCommand(command);
      throw new SshError(h.name, `\`${cmd.length > 120 ? cmd.slice(0, 117) + "..." : cmd}\` exited ${r.code ?? r.signal}: ${(r.stderr || r.stdout).trim().slice(-500)}`);
    }
    return r.stdout;
  }

  /**
   * Places files over SFTP with their mode and owner: parent folders and owner ids in one exec,
   * then every file written to a temporary name, chowned, chmodded and renamed into place
   * (so a reader never sees half a file), all requests pipelined on one SFTP channel.
   */
  async push(h: SshHost, files: PushFile[]): Promise<void> {
    if (files.length === 0) return;
    const dirs = [...new Set(files.map((f) => f.path.slice(0, f.path.lastIndexOf("/")) || "/"))];
    const users = [...new Set(files.map((f) => f.owner.split(":")[0]!))];
    const groups = [...new Set(files.map((f) => f.owner.split(":")[1] ?? f.owner.split(":")[0]!))];
    const script = [
      `mkdir -p -- ${dirs.map(shq).join(" ")}`,
      ...users.map((u) => `id -u -- ${shq(u)}`),
      ...groups.map((g) => `getent group -- ${shq(g)} | cut -d: -f3 | grep .`),
    ].join(" && ");
    const ids = (await this.run(h, script)).trim().split("\n").map(Number);
    const uid = new Map(users.map((u, i) => [u, ids[i]!]));
    const gid = new Map(groups.map((g, i) => [g, ids[users.length + i]!]));
    const sftp = await this.sftp(h);
    try {
      await Promise.all(files.map(async (f) => {
        const [u, g] = [f.owner.split(":")[0]!, f.owner.split(":")[1] ?? f.owner.split(":")[0]!];
        const mode = parseInt(f.mode, 8);
        const tmp = `${f.path}.uws-push-${process.pid}`;
        const step = <T>(what: string, fn: (cb: (err?: Error | null, v?: T) => void) => void) => new Promise<T>((res, rej) =>
          fn((err, v) => (err ? rej(new SshError(h.name, `${what} ${f.path}: ${err.message}`)) : res(v as T))));
        await step("write", (cb) => sftp.writeFile(tmp, f.content, { mode }, (e) => cb(e)));
        await step("chown", (cb) => sftp.chown(tmp, uid.get(u)!, gid.get(g)!, (e) => cb(e)));
        await step("chmod", (cb) => sftp.chmod(tmp, mode, (e) => cb(e)));
        await step("rename", (cb) => sftp.ext_openssh_rename(tmp, f.path, (e) => cb(e)));
      }));
    } finally {
      sftp.end();
    }
  }

  /** Runs fn for each host with at most `concurrency` at a time; rejects with every failure named. */
  async forEach<H extends SshHost, T>(hosts: H[], fn: (h: H) => Promise<T>, concurrency = this.opts.concurrency ?? 8): Promise<T[]> {
    const results: T[] = new Array(hosts.length);
    const errors: Error[] = [];
    let next = 0;
    const worker = async () => {
      while (next < hosts.length) {
        const i = next++;
        try { results[i] = await fn(hosts[i]!); } catch (e) { errors.push(e as Error); }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, hosts.length) }, worker));
    if (errors.length === 1) throw errors[0];
    if (errors.length) throw new Error(errors.map((e) => e.message).join("; "));
    return results;
  }

  close(): void {
    for (const c of this.conns.values()) c.then((cl) => cl.end(), () => {});
    this.conns.clear();
    this.jumpConn?.then((cl) => cl.end(), () => {});
    this.jumpConn = undefined;
  }

  private async sftp(h: SshHost): Promise<SFTPWrapper> {
    const client = await this.connect(h);
    return new Promise((res, rej) => client.sftp((err, s) => (err ? rej(new SshError(h.name, `sftp: ${err.message}`)) : res(s))));
  }

  private async open(h: SshHost, user: string): Promise<ssh2.Client> {
    const deadline = Date.now() + (this.opts.connectRetryMs ?? 30_000);
    let wait = 20;
    for (;;) {
      try {
        return await this.attempt(h, user);
      } catch (e) {
        const err = e as NodeJS.ErrnoException & { level?: string };
        const transient = ["ECONNREFUSED", "EHOSTUNREACH", "ECONNRESET", "ETIMEDOUT", "ENETUNREACH"].includes(err.code ?? "") || err.level === "client-timeout" || /Timed out|ECONNREFUSED|ECONNRESET/.test(err.message);
        if (!transient || Date.now() + wait > deadline) throw e instanceof SshError ? e : new SshError(h.name, `cannot connect to ${h.host}:${h.port ?? 22} as ${user}: ${err.message}`);
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 1000);
      }
    }
  }

  private async attempt(h: SshHost, user: string): Promise<ssh2.Client> {
    const expected = publicKeyBlob(h.hostKey);
    const sock = this.opts.jump && h.host !== this.opts.jump.host ? await this.forward(h) : undefined;
    return new Promise((resolve, reject) => {
      const c = new ssh2.Client();
      let mismatch = false;
      const cfg: ConnectConfig = {
        host: h.host, port: h.port ?? 22, username: user, privateKey: this.opts.privateKey,
        readyTimeout: this.opts.readyTimeoutMs ?? 10_000,
        keepaliveInterval: 15_000,
        hostVerifier: (key: Buffer) => { mismatch = !key.equals(expected); return !mismatch; },
        ...(sock ? { sock } : {}),
      };
      c.once("ready", () => {
        // Under a jump host the socket is a channel (no Nagle to turn off); direct: set TCP_NODELAY.
        if (!sock) c.setNoDelay(true);
        c.removeAllListeners("error");
        c.on("error", () => {}); // a dropped connection surfaces on the next request
        resolve(c);
      });
      c.once("error", (e) => {
        c.end();
        reject(mismatch ? new SshError(h.name, `host key of ${h.host} does not match the recorded key: refusing to connect (possible man-in-the-middle, or the node was re-created; re-run up)`) : e);
      });
      c.connect(cfg);
    });
  }

  private async forward(h: SshHost): Promise<Duplex> {
    const j = this.opts.jump!;
    if (!this.jumpConn) {
      this.jumpConn = this.open(j, j.user ?? this.opts.user);
      this.jumpConn.catch(() => { this.jumpConn = undefined; });
    }
    const jc = await this.jumpConn;
    return new Promise((res, rej) => jc.forwardOut("127.0.0.1", 0, h.host, h.port ?? 22, (err, ch) => (err ? rej(Object.assign(err, { code: /refused/i.test(err.message) ? "ECONNREFUSED" : undefined })) : res(ch))));
  }
}
