// A SAMP Web Profile client (SAMP 1.3 §5): XML-RPC over HTTP POST to the hub on this machine, methods
// samp.webhub.*. Only what "Send to VO tools" needs: ping (hub present?), register (the hub asks the
// desktop user to approve), declareMetadata, notifyAll, unregister. Written here rather than bundling
// sampjs (≈ 40 KB, mostly callback machinery this page does not use).
export const HUB = "http://127.0.0.1:21012/";

const esc = (s) => String(s).replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]);
function encode(v) {
  if (Array.isArray(v)) return `<array><data>${v.map((x) => `<value>${encode(x)}</value>`).join("")}</data></array>`;
  if (v && typeof v === "object") return `<struct>${Object.entries(v).map(([k, x]) => `<member><name>${esc(k)}</name><value>${encode(x)}</value></member>`).join("")}</struct>`;
  return `<string>${esc(v)}</string>`;
}
function decode(el) {
  const c = el.firstElementChild;
  if (!c) return el.textContent;
  switch (c.tagName) {
    case "struct":
      return Object.fromEntries([...c.children].map((m) => [m.querySelector("name").textContent, decode(m.querySelector("value"))]));
    case "array":
      return [...c.querySelector("data").children].map(decode);
    default:
      return c.textContent;
  }
}

export class SampError extends Error {}

async function rpc(method, params, timeoutMs = 120000) {
  const body = `<?xml version="1.0"?><methodCall><methodName>samp.webhub.${method}</methodName><params>${params.map((p) => `<param><value>${encode(p)}</value></param>`).join("")}</params></methodCall>`;
  const res = await fetch(HUB, { method: "POST", headers: { "content-type": "text/xml" }, body, signal: AbortSignal.timeout(timeoutMs) });
  const doc = new DOMParser().parseFromString(await res.text(), "text/xml");
  const fault = doc.querySelector("fault > value");
  if (fault) {
    const f = decode(fault);
    throw new SampError(`hub: ${f.faultString ?? JSON.stringify(f)}`);
  }
  const v = doc.querySelector("params > param > value");
  return v ? decode(v) : null;
}

/** true when a hub with the Web Profile answers on this machine. */
export async function ping() {
  try {
    await rpc("ping", [], 1500);
    return true;
  } catch {
    return false;
  }
}

/** MTypes that fit a result's MIME type (none: no button). */
export function mtypesFor(mime) {
  const m = mime.toLowerCase();
  if (m.includes("votable")) return ["table.load.votable", "spectrum.load.ssa-generic"];
  if (m === "application/fits" || m === "image/fits") return ["image.load.fits", "table.load.fits"];
  return [];
}

export class Samp {
  constructor(name) {
    this.name = name;
    this.key = null;
  }

  async connect() {
    if (this.key) return;
    const r = await rpc("register", [{ "samp.name": this.name }]);
    this.key = r["samp.private-key"];
    await rpc("declareMetadata", [this.key, { "samp.name": this.name, "samp.description.text": "UWS job server portal: results of your jobs", "author.name": "uws-cluster" }]);
    addEventListener("pagehide", () => this.close(), { once: true });
  }

  /** Sends one result; returns the ids of the clients it reached. */
  async send(mtype, url, name, mime) {
    await this.connect();
    const params = { url, name };
    if (mtype === "table.load.votable" || mtype === "table.load.fits") params["table-id"] = url;
    if (mtype === "image.load.fits") params["image-id"] = url;
    if (mtype === "spectrum.load.ssa-generic") {
      params["spectrum-id"] = url;
      params.meta = { "Access.Format": mime };
    }
    try {
      return await rpc("notifyAll", [this.key, { "samp.mtype": mtype, "samp.params": params }]);
    } catch (e) {
      this.key = null; // the hub may have restarted: register again next time
      throw e;
    }
  }

  close() {
    if (this.key) {
      const k = this.key;
      this.key = null;
      rpc("unregister", [k], 2000).catch(() => {});
    }
  }
}
