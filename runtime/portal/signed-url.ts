// Short-lived signed result URLs, for desktop VO tools that fetch a result themselves (SAMP) and carry
// no credentials: /uws/{def}/{id}/results/{rid}?uws-exp=<unix s>&uws-sig=<HMAC-SHA256>. The MAC binds
// the definition, the job, the result and the expiry; it is accepted on GET/HEAD of exactly that
// result and nothing else. The key is derived from the server's job-secret key with its own label.
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIG = "uws-sig";
export const EXP = "uws-exp";
const RESULT_PATH = /^\/uws\/([^/?]+)\/([^/?]+)\/results\/([^/?]+)$/;

export interface SignedTarget {
  def: string;
  id: string;
  rid: string;
}

export class ResultSigner {
  private readonly key: Buffer;

  constructor(serverKey: Buffer, readonly ttlSec = 600) {
    this.key = createHmac("sha256", serverKey).update("uws-portal-signed-result-url").digest();
  }

  private mac(t: SignedTarget, exp: number): string {
    return createHmac("sha256", this.key).update(`${t.def}\n${t.id}\n${t.rid}\n${exp}`).digest("base64url");
  }

  /** The path + query of a signed URL for one result (append to the base URL). */
  sign(t: SignedTarget, now = Date.now()): { path: string; expires: number } {
    const exp = Math.floor(now / 1000) + this.ttlSec;
    const path = `/uws/${encodeURIComponent(t.def)}/${encodeURIComponent(t.id)}/results/${encodeURIComponent(t.rid)}`;
    return { path: `${path}?${EXP}=${exp}&${SIG}=${this.mac(t, exp)}`, expires: exp * 1000 };
  }

  /**
   * For a request carrying a signature: the result it grants, or a reason to refuse. undefined when
   * the request carries no signature at all.
   */
  check(method: string, url: string, now = Date.now()): { ok: SignedTarget } | { refused: string } | undefined {
    const q = url.indexOf("?");
    if (q < 0) return undefined;
    const params = new URLSearchParams(url.slice(q + 1));
    const sig = params.get(SIG);
    const expRaw = params.get(EXP);
    if (sig === null && expRaw === null) return undefined;
    const m = RESULT_PATH.exec(url.slice(0, q));
    if (!m || (method !== "GET" && method !== "HEAD")) return { refused: "a signed URL grants GET of one job result only" };
    let t: SignedTarget;
    try {
      t = { def: decodeURIComponent(m[1]!), id: decodeURIComponent(m[2]!), rid: decodeURIComponent(m[3]!) };
    } catch {
      return { refused: "signed URL: malformed path" };
    }
    if (!sig || !expRaw || !/^\d{1,12}$/.test(expRaw)) return { refused: `signed URL: ${SIG} and ${EXP} are both required` };
    const exp = Number(expRaw);
    const want = Buffer.from(this.mac(t, exp));
    const got = Buffer.from(sig);
    if (got.length !== want.length || !timingSafeEqual(got, want)) return { refused: "signed URL: bad signature" };
    if (exp * 1000 < now) return { refused: "signed URL: expired; ask the portal for a new one" };
    return { ok: t };
  }
}
