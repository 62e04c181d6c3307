import { existsSync, readFileSync } from "node:fs";
import ssh2 from "ssh2";
import type { Cluster } from "../../stacks/model/index.js";
import type { ClusterState } from "./store.js";

export interface ClusterKey {
  privateKeyPath: string;
  publicKey: string;
}

/**
 * The cluster's SSH key: generated once per cluster (ed25519, OpenSSH format) and kept in the state
 * dir with mode 0600 (keypair mode generate), or the user's existing key file (mode existing; its
 * public half is not needed because the Nova keypair already exists).
 */
export function clusterKey(cluster: Cluster, state: ClusterState): ClusterKey {
  if (cluster.keypair.mode === "existing") {
    const path = cluster.keypair.privateKeyFile.replace(/^~(?=\/)/, process.env.HOME ?? "~");
    if (!existsSync(path)) {
      throw Object.assign(new Error(`access.keypair.privateKeyFile: ${path} does not exist; point it at the private key of Nova keypair "${cluster.keypair.name}"`), { exitCode: 2 });
    }
    return { privateKeyPath: path, publicKey: "" };
  }
  const priv = state.path("ssh", "id_ed25519");
  const pub = `${priv}.pub`;
  if (!existsSync(priv) || !existsSync(pub)) {
    const pair = ssh2.utils.generateKeyPairSync("ed25519", { comment: `uws-cluster ${cluster.name} ${cluster.id}` });
    state.writeFile("ssh/id_ed25519", pair.private);
    state.writeFile("ssh/id_ed25519.pub", pair.public + "\n");
  }
  return { privateKeyPath: priv, publicKey: readFileSync(pub, "utf8").trim() };
}
