import { DEFAULT_RETRY, emit, type EngineContext, type EngineName, type EngineStep, type RetryPolicy } from "./engine.js";

/**
 * Failures worth retrying: cloud API 5xx, rate limits, timeouts, dropped connections, and instances
 * that did not become ACTIVE (the next apply replaces the tainted instance). Matched against the
 * last lines of the tool's output.
 */
export const TRANSIENT_PATTERNS: RegExp[] = [
  /\b(500|502|503|504)\b[^\n]*(instead|error|status|response)|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out/i,
  /\b429\b|Too Many Requests|rate limit/i,
  /time(d)? ?out|deadline exceeded/i,
  /connection (reset|refused|closed)|broken pipe|unexpected EOF|no route to host|TLS handshake|temporary failure in name resolution|network is unreachable/i,
  /Error waiting for [^\n]* to become (ready|active|available)/i,
  /Failed to query available provider packages|could not connect to registry|failed to download/i,
  /resource monitor shut down|the current deployment has \d+ resource\(s\) with pending operations/i,
];

/** Failures no retry can fix, even when their text also mentions a timeout or an HTTP status. */
export const PERMANENT_PATTERNS: RegExp[] = [
  /quota exceeded|QuotaExceeded|over ?quota|exceeds? (the )?quota/i,
  /\b(401|403)\b|Unauthorized|Forbidden|authentication required|The request you have made requires authentication/i,
  /Unsupported argument|Missing required argument|Invalid reference|Reference to undeclared|Error: Invalid/i,
  /Error acquiring the state lock|the stack is currently locked|conflict: Another update is currently in progress/i,
];

export function isTransient(output: string): boolean {
  if (PERMANENT_PATTERNS.some((p) => p.test(output))) return false;
  return TRANSIENT_PATTERNS.some((p) => p.test(output));
}

function retryPolicy(ctx: Pick<EngineContext, "retry">): RetryPolicy {
  const r = ctx.retry ?? DEFAULT_RETRY;
  if (!Number.isInteger(r.retries) || r.retries < 0 || !(r.delayMs >= 0)) throw new Error(`retry policy: retries must be an integer ≥ 0 and delayMs ≥ 0, got ${JSON.stringify(r)}`);
  return r;
}

export interface AttemptFailure {
  transient: boolean;
  reason: string;
  /** Retry at once, without counting against the policy (a different way of running, not a repeat). */
  immediate?: boolean;
}

/**
 * Runs `attempt` until it succeeds, retrying transient failures with a growing pause.
 * `attempt` returns undefined on success or a failure description.
 */
export async function withRetries(
  ctx: Pick<EngineContext, "retry" | "onEvent" | "signal">, engine: EngineName, step: EngineStep,
  attempt: (n: number) => Promise<AttemptFailure | undefined>, onGiveUp: (f: AttemptFailure) => never,
): Promise<void> {
  const policy = retryPolicy(ctx);
  let retried = 0;
  for (let n = 1; ; n++) {
    const failure = await attempt(n);
    if (!failure) return;
    if (failure.immediate) {
      emit(ctx, { type: "retry", engine, step, attempt: n + 1, delayMs: 0, reason: failure.reason });
      continue;
    }
    if (!failure.transient || retried >= policy.retries) onGiveUp(failure);
    retried++;
    const delayMs = policy.delayMs * retried;
    emit(ctx, { type: "retry", engine, step, attempt: n + 1, delayMs, reason: failure.reason });
    await sleep(delayMs, ctx.signal);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error("aborted"));
    const t = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(signal!.reason ?? new Error("aborted")); };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The line that best explains a failure: the first `Error:` line, else the last non-empty line. */
export function reasonOf(output: string): string {
  const lines = output.split("\n").map((l) => l.trim()).filter(Boolean);
  return (lines.find((l) => /^(│\s*)?error[:\s]/i.test(l)) ?? lines.at(-1) ?? "no output").replace(/^│\s*/, "").slice(0, 300);
}
