/** SSH to nodes (shared by the local and cloud targets): see pool.ts. */
export { SshPool, type SshHost, type SshPoolOptions, type ExecResult, type PushFile } from "./pool.js";
export { shq, shCommand } from "./quote.js";
export { openTunnel, type Tunnel } from "./tunnel.js";
export { generateEd25519, type KeyPair } from "./keys.js";
