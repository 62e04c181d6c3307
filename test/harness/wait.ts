/** Waiting in tests: a plain sleep and a bounded poll that names what it waited for. */
import { setTimeout as sleepFor } from "node:timers/promises";

export function sleep(ms: number): Promise<void> {
  return sleepFor(ms);
}

export interface PollOptions {
  timeoutMs: number;
  /** Pause between probes; default 50 ms. */
  intervalMs?: number;
  /** What was awaited, for the timeout error (a function when it must read state at that moment). */
  what: string | (() => string);
}

/**
 * Calls `probe` until it returns a truthy value (which is returned) or `timeoutMs` passes (which
 * throws naming `what`). A probe that throws ends the wait at once with its error, so a probe can
 * fail fast (e.g. when the daemon it waits for has exited).
 */
export async function waitFor<T>(probe: () => T | Promise<T>, opts: PollOptions): Promise<NonNullable<T>> {
  const end = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${opts.timeoutMs} ms: ${typeof opts.what === "function" ? opts.what() : opts.what}`);
    await sleep(opts.intervalMs ?? 50);
  }
}
