/**
 * The OpenStack power agent: runs on the head as SlurmUser (the only user that can read the
 * credential file), serves the power programs' protocol (serve.ts) on the head's loopback and drives
 * the cloud with the cluster's application credential (driver.ts). Its configuration is the model
 * and the on-demand nodes' user-data (no secret: AGENT_CONFIG_FILE); the credential comes from
 * HEAD_CREDENTIAL_FILE and the programs' token from the model's power.agent-token path.
 */
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import type { Cluster } from "../../../stacks/model/index.js";
import { OpenStackClient } from "../../targets/openstack/cloud/client.js";
import { registerSecret } from "../../targets/openstack/redact.js";
import { credentialLogin, HEAD_CREDENTIAL_FILE, type HeadCredential } from "./credential.js";
import { CloudPowerDriver, reasonOf, type AfterMachine } from "./driver.js";
import { servePower } from "../serve.js";

/** On the head: the agent's configuration (model + user-data), written by `up`. */
export const AGENT_CONFIG_FILE = "/etc/slurm/uws-power-agent.json";

export interface AgentConfig {
  cluster: Cluster;
  /** User-data of each on-demand node, rendered by `up` from the model. */
  userData: Record<string, string>;
}

export interface AgentOptions {
  config?: string;
  credential?: string;
  token?: string;
  /** Override of the model's agent address (tests: another port on loopback); port 0 picks one. */
  listen?: { host: string; port: number };
  /**
   * `active`: a resume is done when the server is ACTIVE. This is the only after-machine step that
   * exists without a data plane (the loopback cloud); configuring the node over SSH from the head
   * is not wired yet on OpenStack.
   */
  afterMachine?: "active";
  log?: (s: string) => void;
}

export async function runOpenStackAgent(o: AgentOptions = {}): Promise<{ server: Server; url: string; driver: CloudPowerDriver }> {
  const log = o.log ?? ((s: string) => process.stdout.write(`${new Date().toISOString()} ${s}\n`));
  const cfg = JSON.parse(readFileSync(o.config ?? AGENT_CONFIG_FILE, "utf8")) as AgentConfig;
  const cluster = cfg.cluster;
  if (!cluster?.elastic) throw new Error(`${o.config ?? AGENT_CONFIG_FILE}: no elastic cluster model`);
  const cred = JSON.parse(readFileSync(o.credential ?? HEAD_CREDENTIAL_FILE, "utf8")) as HeadCredential;
  registerSecret(cred.secret);
  const tokenFile = o.token ?? cluster.secrets.find((s) => s.key === "power.agent-token")!.path;
  const token = readFileSync(tokenFile, "utf8").trim();
  // Few retries: a resume must answer within ResumeTimeout, and a refused call is a reason, not a storm.
  const client = new OpenStackClient(credentialLogin(cred), { retries: 2, timeoutMs: 30_000 });
  try {
    await client.authenticate();
  } catch (e) {
    // The agent still serves, so each resume answers with the reason (Slurm shows it on the node).
    log(`cannot log in: ${reasonOf(e, cred.expiresAt ?? cluster.expiresAt)}`);
  }
  if (o.afterMachine !== "active") {
    throw new Error("configuring a new node over SSH from the head is not wired on OpenStack yet; "
      + "--after-machine active accepts a server once it is ACTIVE (what the loopback test cloud can show)");
  }
  const afterMachine: AfterMachine | undefined = undefined; // ACTIVE is checked by the driver itself
  const driver = new CloudPowerDriver({ client, cluster, userData: cfg.userData, log, credentialExpiresAt: cred.expiresAt ?? cluster.expiresAt, ...(afterMachine ? { afterMachine } : {}) });
  const listen = o.listen ?? { host: cluster.elastic.agent.host, port: cluster.elastic.agent.port };
  const server = await servePower(driver, { ...listen, token, log });
  const addr = server.address();
  const url = `http://${listen.host}:${typeof addr === "object" && addr ? addr.port : listen.port}`;
  log(`OpenStack power agent of ${cluster.name} (${cluster.id}) listening on ${url}: nodes ${cluster.elastic.nodes.join(", ")}, at most ${cluster.elastic.max} compute servers, credential ${cred.id}`);
  return { server, url, driver };
}
