import ssh2 from "ssh2";

export interface KeyPair {
  /** OpenSSH private key (PEM-like "BEGIN OPENSSH PRIVATE KEY"). */
  private: string;
  /** `ssh-ed25519 AAAA... [comment]` */
  public: string;
}

/**
 * A new ed25519 key pair in OpenSSH format. ssh2's generator (1.17) drops a leading zero byte of the
 * 32-byte public key, as if it were an integer: about 1 key in 280 comes out malformed, and neither
 * ssh2 nor OpenSSH can load it (an `up` then failed at random when connecting). Keys are generated
 * again until both halves parse.
 */
export function generateEd25519(comment?: string): KeyPair {
  for (let attempt = 0; attempt < 50; attempt++) {
    const k = ssh2.utils.generateKeyPairSync("ed25519", comment ? { comment } : {});
    if (!(ssh2.utils.parseKey(k.public) instanceof Error) && !(ssh2.utils.parseKey(k.private) instanceof Error)) return k;
  }
  throw new Error("could not generate a well-formed ed25519 key pair");
}
