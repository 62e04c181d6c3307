/**
 * The OpenStack power agent: runs on the head as SlurmUser (the only user that can read its secret
 * files), serves the power programs' protocol (serve.ts) on the head's loopback and drives the cloud
 * with the cluster's application credential (driver.ts); once a server is ACTIVE it configures the
 * node over SSH as `up` does (configure.ts), with the host key the server posted to the agent's
 * second listener on the head's private address (host-keys.ts). Its configuration is the model, the
 * on-demand nodes' user-data and rendered files, the applications' packages, the cloud ids new
 * servers are made from and the head's private address (no secret: POWER_FILES.agentConfig, written
 * by `up`); its secrets are the model's power.* files on the head.
 */
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import type { Cluster } from "../../../stacks/model/index.js";
import type { NodeBundle } from "../../render/index.js";
import { POWER_FILES } from "../../render/views.js";
import { OpenStackClient } from "../../targets/openstack/cloud/client.js";
import { registerSecret } from "../../targets/openstack/redact.js";
import { credentialLogin, type HeadCredential } from "./credential.js";
import { packagesRecordPath } from "../../deploy/apps.js";
import { configureOverSsh } from "./configure.js";
import { CloudPowerDriver, reasonOf, type AfterMachine, type CloudRefs } from "./driver.js";
import { HostKeyInbox, serveHostKeys } from "./host-keys.js";
import { servePower } from "../serve.js";

/** On the head: the agent's configuration, written by `up`. */
export const AGENT_CONFIG_FILE = POWER_FILES.agentConfig;

export interface AgentConfig {
  cluster: Cluster;
  /** User-data of each on-demand node, rendered by `up` from the model. */
  userData: Record<string, string>;
  /** The on-demand nodes' rendered files as `up` rendered them, without secret files (contents are text). */
  bundles: NodeBundle[];
  /** The applications' Debian packages, installed on every compute node. */
  packages: string[];
  /** Image, flavor, network, security group and server group ids, looked up by `up` (driver.ts lookupCloudRefs). */
  refs: CloudRefs;
  /** The head's private address as the cloud gave it: new servers post their host keys there (model port hostKeyPort). */
  headAddress: string;
}

/** The agent's configuration from `up`'s rendering: on-demand nodes only, no secret. */
export function agentConfigOf(cluster: Cluster, bundles: NodeBundle[], packages: string[], cloud: { refs: CloudRefs; headAddress: string }): AgentConfig {
  const e = cluster.elastic;
  if (!e) throw new Error(`cluster ${cluster.name} has no elastic compute nodes`);
  const mine = bundles.filter((b) => e.nodes.includes(b.node.name));
  return {
    cluster,
    userData: Object.fromEntries(mine.map((b) => [b.node.name, b.userData])),
    bundles: mine.map((b) => ({ ...b, userData: "", files: b.files.filter((f) => !f.secret).map((f) => ({ ...f, content: String(f.content) })) })),
    packages,
    refs: cloud.refs,
    headAddress: cloud.headAddress,
  };
}

/** The path of a model secret on the head. */
export function secretPath(cluster: Cluster, key: string): string {
  const ref = cluster.secrets.find((s) => s.key === key);
  if (!ref) throw new Error(`the cluster model has no secret ${key}: was it made for an elastic cluster on openstack?`);
  return ref.path;
}

export interface AgentOptions {
  config?: string;
  credential?: string;
  token?: string;
  /** The cluster's SSH key and the munge key (default: the model's power.node-* files). */
  sshKey?: string;
  mungeKey?: string;
  /** Override of the model's agent address (tests: another port on loopback); port 0 picks one. */
  listen?: { host: string; port: number };
  /** Override of where new servers post their host keys (default: the head's address, the model's hostKeyPort). */
  hostKeysListen?: { host: string; port: number };
  /**
   * `ssh` (default): once ACTIVE, the node is configured over SSH as `up` does. `active`: a named
   * stand-in for clouds without a data plane (the loopback test cloud) — the resume is done when
   * the server is ACTIVE.
   */
  afterMachine?: "ssh" | "active";
  log?: (s: string) => void;
}

export async function runOpenStackAgent(o: AgentOptions = {}): Promise<{ server: Server; url: string; driver: CloudPowerDriver }> {
  const log = o.log ?? ((s: string) => process.stdout.write(`${new Date().toISOString()} ${s}\n`));
  const cfg = JSON.parse(readFileSync(o.config ?? AGENT_CONFIG_FILE, "utf8")) as AgentConfig;
  const cluster = cfg.cluster;
  if (!cluster?.elastic) throw new Error(`${o.config ?? AGENT_CONFIG_FILE}: no elastic cluster model`);
  if (!cfg.refs || !cfg.headAddress) throw new Error(`${o.config ?? AGENT_CONFIG_FILE}: no cloud ids or head address (written by an older uws-cluster): run \`uws-cluster up\` again`);
  const cred = JSON.parse(readFileSync(o.credential ?? secretPath(cluster, "power.openstack-credential"), "utf8")) as HeadCredential;
  registerSecret(cred.secret);
  const tokenFile = o.token ?? secretPath(cluster, "power.agent-token");
  const token = readFileSync(tokenFile, "utf8").trim();
  // Few retries: a resume must answer within ResumeTimeout, and a refused call is a reason, not a storm.
  const client = new OpenStackClient(credentialLogin(cred), { retries: 2, timeoutMs: 30_000 });
  try {
    await client.authenticate();
  } catch (e) {
    // The agent still serves, so each resume answers with the reason (Slurm shows it on the node).
    log(`cannot log in: ${reasonOf(e, cred.expiresAt ?? cluster.expiresAt)}`);
  }
  let afterMachine: AfterMachine | undefined; // `active`: ACTIVE is checked by the driver itself
  let hostKeys: HostKeyInbox | undefined;
  let keyServer: Server | undefined;
  if ((o.afterMachine ?? "ssh") === "ssh") {
    const at = o.hostKeysListen ?? { host: cfg.headAddress, port: cluster.elastic.hostKeyPort! };
    // The posted URL names the address the nodes reach (the head's); a test's port 0 becomes the one bound.
    let port = at.port;
    hostKeys = new HostKeyInbox({ address: cfg.headAddress, port: () => port, log });
    keyServer = await serveHostKeys(hostKeys, { ...at, log });
    const bound = keyServer.address();
    if (typeof bound === "object" && bound) port = bound.port;
    afterMachine = configureOverSsh({
      cluster, bundles: cfg.bundles, packages: cfg.packages, packagesFile: packagesRecordPath(cluster), log,
      secrets: new Map([["munge.key", readFileSync(o.mungeKey ?? secretPath(cluster, "power.node-munge-key"))]]),
      sshKey: readFileSync(o.sshKey ?? secretPath(cluster, "power.node-ssh-key")),
      bootMs: cluster.elastic.resumeTimeoutSeconds * 1000,
    });
  }
  const driver = new CloudPowerDriver({ client, cluster, userData: cfg.userData, refs: cfg.refs, log, credentialExpiresAt: cred.expiresAt ?? cluster.expiresAt, ...(afterMachine ? { afterMachine, hostKeys } : {}) });
  const listen = o.listen ?? { host: cluster.elastic.agent.host, port: cluster.elastic.agent.port };
  const server = await servePower(driver, { ...listen, token, log });
  const addr = server.address();
  const url = `http://${listen.host}:${typeof addr === "object" && addr ? addr.port : listen.port}`;
  if (keyServer) server.on("close", () => keyServer!.close());
  log(`OpenStack power agent of ${cluster.name} (${cluster.id}) listening on ${url}${keyServer ? ` (host keys on ${cfg.headAddress}:${(keyServer.address() as { port: number }).port})` : ""}: nodes ${cluster.elastic.nodes.join(", ")}, at most ${cluster.elastic.max} compute servers, credential ${cred.id}`);
  return { server, url, driver };
}
