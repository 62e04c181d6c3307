/**
 * Per-cluster secrets: generated once and kept in the cluster's state dir (0600 files in a 0700
 * folder), or read from the user's environment/files at deploy time. Also the cluster's SSH client
 * key and the nodes' known host keys. Values never go to logs, config or user-data: only to the
 * nodes, over SSH (see scripts/deploy).
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { generateEd25519 } from "../ssh/keys.js";
import type { Cluster, ClusterNode, SecretRef } from "../../stacks/model/index.js";
import type { ClusterState } from "../state/store.js";

export type SecretValues = Map<string, Buffer>;

const secretFile = (key: string) => `secrets/${key}`;

/** Every secret of the cluster: generated ones created on first use, the others read now. */
export function ensureSecrets(cluster: Cluster, state: ClusterState, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): SecretValues {
  const values: SecretValues = new Map();
  // Secrets made while `up` runs (atUp) are the target's to add: they are never stored here.
  for (const s of cluster.secrets) if (!("atUp" in s.source)) values.set(s.key, secretValue(s, state, env, cwd));
  return values;
}

function secretValue(s: SecretRef, state: ClusterState, env: NodeJS.ProcessEnv, cwd: string): Buffer {
  const src = s.source;
  if ("generate" in src) {
    const p = state.path(secretFile(s.key));
    if (existsSync(p)) return readFileSync(p);
    const raw = randomBytes(src.generate.bytes);
    const value = src.generate.encoding === "binary" ? raw : Buffer.from(raw.toString("base64url"));
    state.writeFile(secretFile(s.key), value);
    return value;
  }
  if ("env" in src) {
    const v = env[src.env];
    if (!v) throw new Error(`secret ${s.key}: environment variable ${src.env} is not set; export it before running this command`);
    return Buffer.from(v);
  }
  if ("atUp" in src) throw new Error(`secret ${s.key}: ${src.atUp}; it exists only while up runs`);
  try {
    return readFileSync(resolve(cwd, src.file));
  } catch (e) {
    throw new Error(`secret ${s.key}: cannot read file ${src.file} (${(e as NodeJS.ErrnoException).code}); fix the path in the spec`);
  }
}

/** A stored secret as text (e.g. the job server admin token for `up`'s curl example). */
export function readSecret(state: ClusterState, key: string): string | undefined {
  const p = state.path(secretFile(key));
  return existsSync(p) ? readFileSync(p, "utf8").trim() : undefined;
}

/** The secrets a node receives: all-node secrets everywhere, head secrets on the head. */
export function secretsFor(cluster: Cluster, node: ClusterNode): SecretRef[] {
  return cluster.secrets.filter((s) => s.nodes === "all" || (s.nodes === "head" && node.role === "head"));
}

export interface SshKey {
  privateKey: string;
  publicKey: string;
  privateKeyFile: string;
}

/** The cluster's SSH client key (ed25519), generated on first use in the state dir. */
export function ensureSshKey(state: ClusterState, comment?: string): SshKey {
  const priv = "ssh/id_ed25519";
  if (!existsSync(state.path(priv))) {
    const k = generateEd25519(comment ?? `uws-cluster ${state.name}`);
    state.writeFile(priv, k.private);
    state.writeFile(`${priv}.pub`, k.public + "\n");
  }
  return { privateKey: readFileSync(state.path(priv), "utf8"), publicKey: readFileSync(state.path(`${priv}.pub`), "utf8").trim(), privateKeyFile: state.path(priv) };
}

export interface KnownHost {
  name: string;
  address: string;
  hostKey: string;
}

/** Records the nodes' host keys (JSON for our SSH module, known_hosts for the system ssh client). */
export function recordKnownHosts(state: ClusterState, hosts: KnownHost[]): void {
  state.writeJson("ssh/hosts.json", hosts);
  state.writeFile("ssh/known_hosts", hosts.map((h) => `${h.address} ${h.hostKey}\n`).join(""));
}

export function knownHosts(state: ClusterState): KnownHost[] {
  return state.readJson<KnownHost[]>("ssh/hosts.json") ?? [];
}
