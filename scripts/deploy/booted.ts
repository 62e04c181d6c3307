/**
 * The cloud path after the machines exist, shared by every target whose nodes are booted machines
 * (openstack: VMs after the engine's apply; machines: systemd-nspawn nodes on this host). Only how
 * machines are created, deleted and how a console is read differ between them; from here on it is
 * one code path:
 *
 *   host keys from each node's console (cloud-init prints them at first boot: no trust on first use)
 *   → SSH as root with the cluster key, compute nodes through the head
 *   → `cloud-init status --wait` on every node → job server installed on the head
 *   → (shared deploy pipeline: pushes, systemd services from the service table, readiness gate
 *      through an SSH tunnel to the job server on the head).
 */
import { createdByUp, type Cluster } from "../../stacks/model/index.js";
import { CliError } from "../errors.js";
import type { Progress } from "../progress/index.js";
import { knownHosts } from "../secrets/index.js";
import { openTunnel, type SshHost } from "../ssh/index.js";
import type { ClusterState } from "../state/store.js";
import type { Door, Machines } from "../targets/target.js";
import { aptInstall } from "./apps.js";
import { installJobServer, systemdStart, waitCloudInit } from "./vm.js";

const BEGIN = "-----BEGIN SSH HOST KEY KEYS-----";
const END = "-----END SSH HOST KEY KEYS-----";

/** The host public keys in a console log, preferring ed25519; empty until cloud-init has printed them. */
export function hostKeysFromConsole(log: string): string[] {
  const start = log.lastIndexOf(BEGIN);
  if (start === -1) return [];
  const end = log.indexOf(END, start);
  if (end === -1) return [];
  const keys = log.slice(start + BEGIN.length, end).split(/\r?\n/)
    // Console lines may carry a kernel timestamp, a "ci-info:" style prefix or colour codes before the key type.
    .map((l) => /(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) ([A-Za-z0-9+/=]+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]}`);
  const rank = (k: string) => (k.startsWith("ssh-ed25519") ? 0 : k.startsWith("ecdsa") ? 1 : 2);
  return keys.sort((a, b) => rank(a) - rank(b));
}

/** Polls a node's console until its host keys appear; throws naming the node after `timeoutMs`. */
export async function waitForHostKey(readConsole: () => Promise<string>, name: string, opts: { timeoutMs: number; intervalMs?: number }): Promise<string> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const keys = hostKeysFromConsole(await readConsole());
    if (keys.length) return keys[0]!;
    if (Date.now() > deadline) {
      throw new Error(`${name}: no SSH host keys in the console log after ${Math.round(opts.timeoutMs / 1000)} s (cloud-init prints them at first boot; check the image runs cloud-init and its console)`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 5000));
  }
}

/** Every node's host key, waited for on its console (one step, all nodes at once), in `createdByUp(cluster)` order. */
export function readHostKeys(cluster: Cluster, progress: Progress, waitOne: (node: string) => Promise<string>): Promise<string[]> {
  return progress.step("Reading SSH host keys from the console logs", () => Promise.all(createdByUp(cluster).map((n) => waitOne(n.name))));
}

export interface BootedInput {
  cluster: Cluster;
  /** Every node `up` creates, in `createdByUp(cluster)` order: the address this machine reaches it at (the head's public one) and its host key. */
  hosts: SshHost[];
  /** The cluster key (root logins are key-only, allowed by the user-data). */
  privateKey: Buffer;
  /** Private address by node name (what the templates render). */
  addresses: Record<string, string>;
  headPublicIp: string;
  /** The job server URL users reach (nginx with TLS on the head). */
  url: string;
  /** How long first boot may take (SSH, cloud-init). */
  bootMs: number;
  summary?: Record<string, unknown>;
}

/** The machines a booted-machine target created, as the shared deploy pipeline takes them. */
export function bootedMachines(i: BootedInput): Machines {
  const { cluster, hosts } = i;
  const head = hosts[0]!;
  return {
    ...door(cluster, hosts, i.privateKey, i.bootMs),
    addresses: i.addresses,
    headPublicIp: i.headPublicIp,
    url: i.url,
    async prepare(pool, progress) {
      await progress.step("Waiting for cloud-init to finish on every node", () => pool.forEach(hosts, (h) => waitCloudInit(pool, h, i.bootMs, (s) => progress.info(s))));
      await progress.step("Installing the job server on the head", () => installJobServer(pool, head, cluster.downloads.npmEnv));
    },
    ...(i.summary ? { summary: i.summary } : {}),
  };
}

/** SSH to a booted cluster that is up, with the host keys recorded at `up`. */
export function bootedDoor(cluster: Cluster, state: ClusterState, privateKey: Buffer): Door {
  const recorded = knownHosts(state);
  // On-demand nodes (elastic clusters) come and go with the power agent: not part of the door.
  const hosts = createdByUp(cluster).map((n) => {
    const h = recorded.find((k) => k.name === n.name);
    if (!h) throw new CliError(`no SSH host key recorded for ${n.name}: is cluster ${cluster.name} up? (uws-cluster status --name ${cluster.name})`);
    return { name: n.name, host: h.address, hostKey: h.hostKey };
  });
  return door(cluster, hosts, privateKey, 10_000);
}

function door(cluster: Cluster, hosts: SshHost[], privateKey: Buffer, connectRetryMs: number): Door {
  const head = hosts[0]!;
  return {
    nodes: createdByUp(cluster).map((node, i) => ({ node, ssh: hosts[i]! })),
    // The deploy runs as root (user-data allows key-only root logins); compute nodes through the head.
    ssh: { user: "root", privateKey, jump: head, connectRetryMs, readyTimeoutMs: 20_000 },
    startServices: async (pool, node, rows) => { await pool.run(hosts[createdByUp(cluster).indexOf(node)]!, systemdStart(rows)); },
    installPackages: aptInstall,
    jobServer: (pool) => openTunnel(pool, head, cluster.jobserver.port),
  };
}
