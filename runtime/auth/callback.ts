// Per-job callback secrets: HMAC-SHA256(server key, job id). A running job proves who it is with
// its secret; source addresses and forwarded headers are never trusted.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export function loadOrCreateKey(file: string): Buffer {
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString("hex") + "\n", { mode: 0o400, flag: "wx" });
  const text = readFileSync(file, "utf8").trim();
  if (text.length < 32) throw new Error(`jobSecretFile ${file}: the key must hold at least 32 characters`);
  return Buffer.from(text);
}

export function jobSecret(key: Buffer, jobId: string): string {
  return createHmac("sha256", key).update(`uws-job-callback:${jobId}`).digest("base64url");
}

export function checkJobSecret(key: Buffer, jobId: string, presented: string | undefined): boolean {
  if (!presented) return false;
  const want = Buffer.from(jobSecret(key, jobId));
  const got = Buffer.from(presented);
  return got.length === want.length && timingSafeEqual(got, want);
}
