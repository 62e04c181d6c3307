/**
 * What `up` adds for an elastic cluster on OpenStack (compute.min < compute.max): the engines created
 * the head and the `min` compute servers only (stacks/model createdByUp); the on-demand nodes are
 * Slurm State=CLOUD nodes the head's power agent creates when Slurm asks.
 *
 * - the per-cluster application credential, made through Keystone (never through an engine: its
 *   state would keep the secret in plain text); its record (no secret) goes to the state dir, its
 *   secret only into the in-memory secrets `up` pushes to the head (model secret
 *   power.openstack-credential, 0400 slurm:slurm);
 * - the agent's other head secrets (model: power.node-ssh-key, power.node-munge-key): copies the
 *   agent, running as SlurmUser, reads to configure a new node as `up` does;
 * - the agent's bundle and configuration (the model, the on-demand nodes' user-data and their
 *   rendered files, the cloud ids new servers are made from, looked up with the user's credentials;
 *   no secret), pushed in the head's preparation; its systemd unit is a rendered
 *   file (templates/slurm/power/uws-power-agent.service.hbs) started from the service table.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Cluster } from "../../../stacks/model/index.js";
import { REPO_ROOT } from "../../deploy/bundle.js";
import { agentConfigOf, type AgentConfig } from "../../elastic/openstack/agent.js";
import { createClusterCredential, describeCredential, type CredentialRecord } from "../../elastic/openstack/credential.js";
import type { CloudRefs } from "../../elastic/openstack/driver.js";
import type { Progress } from "../../progress/index.js";
import { renderCluster, type RenderOptions } from "../../render/index.js";
import { POWER_FILES } from "../../render/views.js";
import type { SecretValues } from "../../secrets/index.js";
import type { PushFile } from "../../ssh/index.js";
import type { ClusterState } from "../../state/store.js";
import type { OpenStackClient } from "./cloud/client.js";

/** The credential as `up` made it (no secret), kept in the state dir for `status` and for the record. */
export const CREDENTIAL_RECORD_FILE = "power-credential.json";

/** The agent as the head runs it: one file, its dependencies inlined (scripts/build.mjs). */
export const HEAD_AGENT_BUNDLE = join(REPO_ROOT, "dist/cli/head/uws-power-agent.mjs");

/**
 * Makes the cluster's credential and puts the agent's head secrets into `secrets` (memory only).
 * A re-run of `up` replaces the credential (Keystone shows a secret once).
 */
export async function makePowerCredential(client: OpenStackClient, cluster: Cluster, state: ClusterState, secrets: SecretValues, sshPrivateKey: Buffer, progress: Progress): Promise<CredentialRecord> {
  const { record, head } = await progress.step("Creating the power agent's application credential", () => createClusterCredential(client, cluster));
  state.writeJson(CREDENTIAL_RECORD_FILE, record);
  progress.info(`  ${describeCredential(record)} (${record.detail})`);
  secrets.set("power.openstack-credential", Buffer.from(JSON.stringify(head)));
  secrets.set("power.node-ssh-key", sshPrivateKey);
  const munge = secrets.get("munge.key");
  if (!munge) throw new Error("the munge key has no value: the power agent could not configure new nodes");
  secrets.set("power.node-munge-key", munge);
  return record;
}

/** The agent's bundle and configuration for the head (no secret in either). */
export function powerAgentFiles(cluster: Cluster, render: RenderOptions, packages: string[], refs: CloudRefs): PushFile[] {
  if (!existsSync(HEAD_AGENT_BUNDLE)) throw new Error(`the power agent bundle ${HEAD_AGENT_BUNDLE} is missing: run npm run build (or reinstall uws-cluster)`);
  const headAddress = render.addresses?.[cluster.head.name] ?? cluster.head.privateIp;
  if (!headAddress) throw new Error(`the head's private address is not known: the power agent's configuration needs it (new nodes post their host keys there)`);
  const config: AgentConfig = agentConfigOf(cluster, renderCluster(cluster, render), packages, { refs, headAddress });
  return [
    { path: POWER_FILES.agentBundle, content: readFileSync(HEAD_AGENT_BUNDLE), mode: "0644", owner: "root:root" },
    { path: POWER_FILES.agentConfig, content: JSON.stringify(config), mode: "0640", owner: "root:slurm" },
  ];
}
