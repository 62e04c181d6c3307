/**
 * A local TCP port forwarded over an SSH connection to a port on a node (ssh -L): the readiness gate
 * and the canary reach the job server on the head's loopback through SSH, so they need neither the
 * HTTPS port open to this machine nor trust in a self-signed certificate.
 */
import { createServer, type AddressInfo, type Socket } from "node:net";
import type { SshHost, SshPool } from "./pool.js";

export interface Tunnel {
  /** http://127.0.0.1:<local port> */
  url: string;
  close(): Promise<void>;
}

export async function openTunnel(pool: SshPool, host: SshHost, remotePort: number, remoteHost = "127.0.0.1"): Promise<Tunnel> {
  const client = await pool.connect(host);
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.setNoDelay(true);
    client.forwardOut("127.0.0.1", 0, remoteHost, remotePort, (err, ch) => {
      if (err) { sock.destroy(); return; }
      sock.pipe(ch).pipe(sock);
      ch.on("close", () => sock.destroy());
      sock.on("error", () => ch.close());
    });
  });
  await new Promise<void>((res, rej) => server.listen(0, "127.0.0.1", () => res()).once("error", rej));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((res) => { for (const s of sockets) s.destroy(); server.close(() => res()); }),
  };
}
