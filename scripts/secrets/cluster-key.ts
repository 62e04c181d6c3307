import { existsSync } from "node:fs";
import type { Cluster } from "../../stacks/model/index.js";
import { CliError, EXIT } from "../errors.js";
import { ensureSshKey } from "./index.js";
import type { ClusterState } from "../state/store.js";

export interface ClusterKey {
  privateKeyPath: string;
  /** Empty for an existing Nova keypair (its public half is already in the cloud). */
  publicKey: string;
}

/**
 * The key uws-cluster logs in with: the per-cluster generated key (keypair mode generate; kept in the
 * state dir, 0600), or the user's key file for an existing Nova keypair.
 */
export function clusterKey(cluster: Cluster, state: ClusterState): ClusterKey {
  if (cluster.keypair.mode === "existing") {
    const path = cluster.keypair.privateKeyFile.replace(/^~(?=\/)/, process.env.HOME ?? "~");
    if (!existsSync(path)) {
      throw new CliError(`access.keypair.privateKeyFile: ${path} does not exist; point it at the private key of Nova keypair "${cluster.keypair.name}"`, EXIT.usage, "spec");
    }
    return { privateKeyPath: path, publicKey: "" };
  }
  const k = ensureSshKey(state, `uws-cluster ${cluster.name} ${cluster.id}`);
  return { privateKeyPath: k.privateKeyFile, publicKey: k.publicKey };
}
