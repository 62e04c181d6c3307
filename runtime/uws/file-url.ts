// A file parameter given by reference: UWS lets a client pass a URL instead of uploading the file
// (the parameter is then byReference). The server fetches it once, when the job is created or its
// parameters change, into the same place an upload lands, so the job sees a local file either way.
//
// The server fetches on a user's behalf, so it refuses what would turn it into a window onto its
// own network: only http(s), every address a name resolves to is checked (each redirect too), and
// loopback, private, link-local (the clouds' metadata service), CGNAT, multicast and reserved
// addresses are refused unless the host is listed in fileUrlHosts (--file-url-host). The size limit
// is the upload limit; the time limit covers the whole transfer.
import { createWriteStream } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { lookup } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";

const BLOCKED = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const)
  BLOCKED.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8], ["64:ff9b::", 96], ["::ffff:0:0", 96]] as const)
  BLOCKED.addSubnet(net, bits, "ipv6");

export class FileUrlError extends Error {}

export interface FetchLimits {
  maxBytes: number;
  /** Host names (or addresses) allowed although they resolve to a refused address. */
  hosts: string[];
  timeoutMs: number;
}

const unbracket = (h: string) => h.replace(/^\[(.*)\]$/, "$1");

/** A lookup that only hands out addresses the server may connect to. */
function guardedLookup(host: string, hosts: string[]): LookupFunction {
  const allowed = hosts.some((h) => unbracket(h).toLowerCase() === host.toLowerCase());
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, addrs) => {
      if (err) return callback(err, "", 4);
      const list = addrs as Array<{ address: string; family: number }>;
      const bad = list.find((a) => BLOCKED.check(a.address, a.family === 6 ? "ipv6" : "ipv4"));
      if (bad && !allowed) return callback(Object.assign(new FileUrlError(`${hostname} is a loopback, private or link-local address (${bad.address}); the server fetches only public addresses unless the host is listed in fileUrlHosts (--file-url-host)`), { code: "EREFUSEDHOST" }), "", 4);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

function get(url: URL, limits: FetchLimits, signal: AbortSignal): Promise<IncomingMessage> {
  const host = unbracket(url.hostname);
  // A literal address never passes through lookup: check it here.
  if (isIP(host) && BLOCKED.check(host, isIP(host) === 6 ? "ipv6" : "ipv4") && !limits.hosts.some((h) => unbracket(h) === host))
    return Promise.reject(new FileUrlError(`${host} is a loopback, private or link-local address; the server fetches only public addresses unless the host is listed in fileUrlHosts (--file-url-host)`));
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", headers: { accept: "*/*", "user-agent": "uws-cluster job server" }, lookup: guardedLookup(host, limits.hosts), signal }, resolve);
    req.on("error", reject);
    req.end();
  });
}

/**
 * Fetches `raw` (already checked to be an absolute http(s) URL) into `dest`, following at most 5
 * redirects. Throws FileUrlError with a reason fit for the client.
 */
export async function fetchFileUrl(raw: string, dest: string, limits: FetchLimits): Promise<void> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let url = new URL(raw);
  try {
    for (let hop = 0; ; hop++) {
      const res = await get(url, limits, signal);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (hop >= 5) throw new FileUrlError("more than 5 redirects");
        const next = new URL(res.headers.location, url);
        if (next.protocol !== "http:" && next.protocol !== "https:") throw new FileUrlError(`redirected to a ${next.protocol} URL; only http and https are fetched`);
        url = next;
        continue;
      }
      if (status !== 200) {
        res.resume();
        throw new FileUrlError(`${url.host} answered HTTP ${status}`);
      }
      const declared = Number(res.headers["content-length"]);
      if (declared > limits.maxBytes) {
        res.destroy();
        throw new FileUrlError(`the file is ${declared} bytes, over the server's upload limit of ${limits.maxBytes / 1048576} MB (uploadLimitMb / --upload-limit-mb)`);
      }
      let n = 0;
      const cap = new Transform({
        transform(chunk: Buffer, _enc, done) {
          n += chunk.length;
          if (n > limits.maxBytes) done(new FileUrlError(`the file is over the server's upload limit of ${limits.maxBytes / 1048576} MB (uploadLimitMb / --upload-limit-mb)`));
          else done(null, chunk);
        },
      });
      await pipeline(res, cap, createWriteStream(dest, { mode: 0o644 }));
      return;
    }
  } catch (e) {
    if (e instanceof FileUrlError) throw e;
    if (signal.aborted) throw new FileUrlError(`no complete answer within ${limits.timeoutMs / 1000} s`);
    const err = e as NodeJS.ErrnoException;
    if (err.code === "EREFUSEDHOST") throw new FileUrlError(err.message);
    throw new FileUrlError(`${url.host}: ${err.code ?? err.message}`);
  }
}
