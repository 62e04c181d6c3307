/** The system ssh client's argv into a cluster node, shared by the targets' `ssh` verb. */
import type { Cluster, ClusterNode } from "../../stacks/model/index.js";
import { CliError } from "../errors.js";
import { ensureSshKey, knownHosts } from "../secrets/index.js";
import { shCommand, shq } from "../ssh/index.js";
import type { ClusterState } from "../state/store.js";

/**
 * argv of the system ssh client into a node, with the cluster key and its recorded host keys;
 * `command` is an argv (each word quoted for the remote shell). Addresses are the ones recorded at
 * up; with `jumpThroughHead` compute nodes are reached through the head (ProxyCommand).
 */
export function systemSshArgv(cluster: Cluster, state: ClusterState, node: ClusterNode, command: string[], o: { jumpThroughHead: boolean }): string[] {
  const key = ensureSshKey(state);
  const recorded = knownHosts(state);
  if (node.power === "on-demand" && !recorded.some((h) => h.name === node.name)) {
    // The power agent on the head verified this node's host key when it made it; this machine never saw it.
    throw new CliError(`${node.name} is an on-demand node (Slurm powers it up when jobs wait) with no host key recorded on this machine: it is powered down, `
      + `or the head's power agent made it (on a cloud only the agent sees its host key). Reach it through Slurm from the head: uws-cluster ssh head --name ${cluster.name} -- srun -w ${node.name} hostname`);
  }
  const addressOf = (name: string) => recorded.find((h) => h.name === name)?.address ?? cluster.nodes.find((n) => n.name === name)?.privateIp;
  const address = addressOf(node.name);
  if (!address) throw new CliError(`no address recorded for ${node.name}: is cluster ${cluster.name} up? (uws-cluster status)`);
  const opts = ["-i", key.privateKeyFile, "-o", `UserKnownHostsFile=${state.path("ssh/known_hosts")}`, "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"];
  const jump = o.jumpThroughHead && node.role !== "head" ? ["-o", `ProxyCommand=ssh ${opts.map(shq).join(" ")} -W %h:%p ${cluster.sshUser}@${addressOf(cluster.head.name)}`] : [];
  return ["ssh", ...opts, ...jump, ...(command.length ? [] : ["-t"]), `${cluster.sshUser}@${address}`, ...(command.length ? ["--", shCommand(command)] : [])];
}
