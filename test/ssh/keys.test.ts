// ssh2's ed25519 generator drops a leading zero byte of the public key about once in 280 keys; such a
// key cannot be loaded by ssh2 or OpenSSH. generateEd25519 must never hand one out.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { describe, expect, it } from "vitest";
import { generateEd25519 } from "../../scripts/ssh/keys.js";

const N = 3000; // P(no malformed key among N from the raw generator) ≈ (1 - 1/280)^N ≈ 2e-5

describe("ed25519 key generation", () => {
  it("the raw ssh2 generator does produce malformed keys (why the wrapper exists)", () => {
    let malformed = 0;
    for (let i = 0; i < N && malformed === 0; i++) {
      if (ssh2.utils.parseKey(ssh2.utils.generateKeyPairSync("ed25519").public) instanceof Error) malformed++;
    }
    expect(malformed).toBeGreaterThan(0);
  });

  it(`generateEd25519 gives ${N} keys that all load, and OpenSSH agrees on a sample`, () => {
    const dir = mkdtempSync(join(tmpdir(), "uwsc-keys-"));
    try {
      for (let i = 0; i < N; i++) {
        const k = generateEd25519(i % 2 ? "with comment" : undefined);
        expect(ssh2.utils.parseKey(k.public)).not.toBeInstanceOf(Error);
        expect(ssh2.utils.parseKey(k.private)).not.toBeInstanceOf(Error);
        if (i < 5) {
          writeFileSync(join(dir, "k"), k.private, { mode: 0o600 });
          const derived = execFileSync("ssh-keygen", ["-y", "-f", join(dir, "k")], { encoding: "utf8" });
          expect(derived.trim().split(" ").slice(0, 2).join(" ")).toBe(k.public.trim().split(" ").slice(0, 2).join(" "));
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
