/**
 * The power agents' HTTP protocol, as the head's power programs (templates/slurm/power) speak it
 * (bearer token, one node per line, one answer line per node), served by both agents: local
 * (local-agent.ts) and OpenStack (openstack/agent.ts).
 *
 *   GET  /health                              → ok
 *   POST /resume   body: NODE per line        → NODE ok WHAT-WAS-CREATED | NODE failed REASON
 *   POST /suspend  body: NODE RECORD per line → NODE ok removed | NODE ok already gone | NODE failed REASON
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";

export interface PowerHandlers {
  resume(node: string): Promise<string>;
  /** `record` is what resume answered for the node (the rest of its line). */
  suspend(node: string, record: string): Promise<string>;
}

const oneLine = (s: string) => s.replace(/\s+/g, " ").trim().slice(0, 300);

/** Serves `h` on host:port (port 0: any free port) until the server is closed. */
export async function servePower(h: PowerHandlers, o: { host: string; port: number; token: string; log: (s: string) => void }): Promise<Server> {
  const token = Buffer.from(o.token);
  const authorized = (header: string | undefined): boolean => {
    const given = Buffer.from(/^Bearer (\S+)$/.exec(header ?? "")?.[1] ?? "");
    return given.length === token.length && timingSafeEqual(given, token);
  };
  const server = createServer((req, res) => {
    if (!authorized(req.headers.authorization)) {
      o.log(`refused ${req.method} ${req.url} from ${req.socket.remoteAddress}: no valid token`);
      res.writeHead(401, { "content-type": "text/plain" }).end("a valid power agent token is required\n");
      return;
    }
    if (req.method === "GET" && req.url === "/health") { res.end("ok\n"); return; }
    if (req.method !== "POST" || (req.url !== "/resume" && req.url !== "/suspend")) { res.writeHead(404).end("POST /resume or /suspend\n"); return; }
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => { body += c; if (body.length > 65_536) req.destroy(); });
    req.on("end", () => {
      const lines = body.split("\n").map((l) => l.trim().split(/\s+/)).filter((l) => l[0]);
      o.log(`${req.url} ${lines.map((l) => l.join(" ")).join(", ")} (from ${req.socket.remoteAddress})`);
      const op = req.url === "/resume" ? (l: string[]) => h.resume(l[0]!) : (l: string[]) => h.suspend(l[0]!, l.slice(1).join(" "));
      Promise.all(lines.map(op)).then(
        (out) => res.writeHead(200, { "content-type": "text/plain" }).end(out.join("\n") + "\n"),
        (err) => res.writeHead(500, { "content-type": "text/plain" }).end(`${oneLine(String(err))}\n`),
      );
    });
  });
  await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(o.port, o.host, resolve); });
  return server;
}
