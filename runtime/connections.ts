// Connection bounds of the HTTP server. Node bounds the time to receive headers (headersTimeout)
// and a whole request (requestTimeout) once a request has begun, and idle keep-alive connections
// (keepAliveTimeout). What it leaves open is closed here:
//   - a connection that sends nothing at all (closed after headersTimeout);
//   - a body that stops arriving (no byte for bodyTimeout);
//   - too many connections: at maxConnections, a new connection evicts the connection idle the
//     longest (one not inside a request: idle keep-alive, or headers still arriving); only when
//     every connection is inside a request (WAITs, uploads) is the new one refused. A flood of idle
//     or slow sockets thus never keeps legitimate clients out.
// A WAIT, a response being written, is never cut: its connection is inside a request.
import { readFileSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";

export interface ConnectionLimits {
  /** Seconds to receive a request's headers, and the longest a silent new connection stays open. */
  headersTimeout: number;
  /** Seconds to receive a whole request (headers and body). */
  requestTimeout: number;
  /** Seconds an idle keep-alive connection stays open. */
  keepAliveTimeout: number;
  /** Seconds without a byte of a request body before the connection is closed. */
  bodyTimeout: number;
  /** Open connections at most; 0 = derived from the open-files limit (see defaultMaxConnections). */
  maxConnections: number;
}

interface Conn {
  /** Requests being received or answered on this connection. */
  busy: number;
  /** When it last became idle (or connected). */
  idleSince: number;
}

/** The soft open-files limit minus room for the database, job files and the launcher; ≤ 16,384. */
export function defaultMaxConnections(): number {
  let soft = 1024;
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (m) soft = m[1] === "unlimited" ? 1 << 20 : Number(m[1]);
  } catch {
    /* not Linux: assume 1024 */
  }
  return Math.max(16, Math.min(16_384, soft - 128));
}

/** Options for http.createServer (Fastify's `http` option). */
export function httpServerOptions(l: ConnectionLimits) {
  return {
    headersTimeout: Math.max(1, Math.round(l.headersTimeout * 1000)),
    requestTimeout: Math.max(1, Math.round(l.requestTimeout * 1000)),
    keepAliveTimeout: Math.max(1, Math.round(l.keepAliveTimeout * 1000)),
    // How often Node checks the two timeouts above: a tenth of the shorter one, 100 ms – 1 s.
    connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.round(Math.min(l.headersTimeout, l.requestTimeout) * 100))),
  };
}

export interface ConnectionGuard {
  open(): number;
  /** Connections closed because of the bounds (silent, slow body, evicted, refused). */
  closed(): { silent: number; slowBody: number; evicted: number; refused: number };
}

export function guardConnections(server: Server, l: ConnectionLimits): ConnectionGuard {
  const max = l.maxConnections > 0 ? l.maxConnections : defaultMaxConnections();
  const headersMs = Math.max(1, Math.round(l.headersTimeout * 1000));
  const bodyMs = Math.max(1, Math.round(l.bodyTimeout * 1000));
  const conns = new Map<Socket, Conn>();
  const counts = { silent: 0, slowBody: 0, evicted: 0, refused: 0 };

  const evictOne = (): boolean => {
    let victim: Socket | undefined;
    let since = Infinity;
    for (const [s, c] of conns) if (c.busy === 0 && c.idleSince < since) (victim = s), (since = c.idleSince);
    if (!victim) return false;
    conns.delete(victim);
    victim.destroy();
    counts.evicted++;
    return true;
  };

  server.on("connection", (socket: Socket) => {
    if (conns.size >= max && !evictOne()) {
      counts.refused++;
      socket.destroy();
      return;
    }
    conns.set(socket, { busy: 0, idleSince: Date.now() });
    // Silent connection: no request within headersTimeout. Node re-arms the socket timeout for
    // keep-alive after each response; a request in progress sets it to 0 (see below).
    socket.setTimeout(headersMs);
    socket.on("timeout", () => {
      const c = conns.get(socket);
      if (c && c.busy === 0) counts.silent++;
      socket.destroy();
    });
    socket.once("close", () => conns.delete(socket));
  });

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const c = conns.get(socket);
    if (c) c.busy++;
    const hasBody = req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
    if (hasBody) {
      // A body must keep arriving; the timer restarts at every chunk (socket activity).
      socket.setTimeout(bodyMs);
      const slow = () => {
        if (!req.complete) counts.slowBody++;
      };
      socket.once("timeout", slow);
      req.once("end", () => {
        socket.off("timeout", slow);
        socket.setTimeout(0);
      });
    } else socket.setTimeout(0);
    res.once("close", () => {
      if (c) {
        c.busy--;
        c.idleSince = Date.now();
      }
    });
  });

  return { open: () => conns.size, closed: () => ({ ...counts }) };
}
