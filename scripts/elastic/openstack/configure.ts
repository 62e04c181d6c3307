/**
 * What the head's power agent does once an on-demand server is ACTIVE: the same "after the machine
 * exists" steps as `up` (scripts/deploy), over SSH from the head to the node's private address —
 * the host key the server posted for this resume (host-keys.ts: no trust on first use, no console
 * read), cloud-init's verdict, then
 * deployNode (prepare, the node's rendered files and secrets, the applications' packages, the
 * service table's rows through systemd). One code path with `up`: the files are the ones `up`
 * rendered for the node (carried in the agent's configuration) and pushed by the same function.
 */
import { readFileSync } from "node:fs";
import type { Cluster, ClusterNode } from "../../../stacks/model/index.js";
import { aptInstall } from "../../deploy/apps.js";
import { deployNode, filesFor } from "../../deploy/pipeline.js";
import { systemdStart, waitCloudInit } from "../../deploy/vm.js";
import type { NodeBundle } from "../../render/index.js";
import { SLURM_PATHS } from "../../render/paths.js";
import type { SecretValues } from "../../secrets/index.js";
import { shq, SshPool, type SshHost } from "../../ssh/index.js";
import type { Server } from "../../targets/openstack/cloud/compute.js";
import type { AfterMachine } from "./driver.js";

export interface NodeSetup {
  cluster: Cluster;
  /** The on-demand nodes' bundles as `up` rendered them (secret files left out: they come from `secrets`). */
  bundles: NodeBundle[];
  /** The secrets compute nodes receive (munge.key), read by the agent from its own copies. */
  secrets: SecretValues;
  /** The cluster's SSH key (root logins are key-only, allowed by the user-data). */
  sshKey: Buffer;
  /** The applications' Debian packages as `up` deployed them (`up` installs them on every compute node). */
  packages: string[];
  /** The head's record of the packages as last deployed (`apps push` after `up`); read at each resume, `packages` when absent. */
  packagesFile?: string;
  /** How long first boot may take (host keys, SSH, cloud-init). */
  bootMs: number;
  log: (s: string) => void;
}

/** The address the head reaches a new server at: the model's fixed one, else its address on the cluster's network. */
export function nodeAddress(cluster: Cluster, node: ClusterNode, server: Pick<Server, "id" | "addresses">): string {
  if (node.privateIp) return node.privateIp;
  const net = cluster.network.mode === "create" ? cluster.network.networkName : cluster.network.network;
  const fixed = (list?: { addr: string; "OS-EXT-IPS:type"?: string }[]) => list?.find((a) => (a["OS-EXT-IPS:type"] ?? "fixed") === "fixed" && !a.addr.includes(":"))?.addr;
  const addr = fixed(server.addresses?.[net]) ?? Object.values(server.addresses ?? {}).map(fixed).find(Boolean);
  if (!addr) throw new Error(`server ${server.id} of ${node.name} has no private IPv4 address yet`);
  return addr;
}

/** The packages a node powered up now receives: the head's record of the last deployment, else those `up` knew. */
export function packagesNow(s: Pick<NodeSetup, "packages" | "packagesFile">): string[] {
  if (!s.packagesFile) return s.packages;
  try {
    return readFileSync(s.packagesFile, "utf8").split("\n").map((l) => l.trim()).filter(Boolean);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return s.packages;
    throw e;
  }
}

/** What the agent will do on a node, as data: where it connects, which files and services, which packages (tests, logs). */
export function setupPlan(s: Pick<NodeSetup, "cluster" | "bundles" | "secrets" | "packages" | "packagesFile">, node: ClusterNode, address: string) {
  const files = filesFor(s, node);
  return { node: node.name, ssh: { user: "root", host: address }, files: files.map((f) => ({ path: f.path, mode: f.mode, owner: f.owner })), packages: packagesNow(s) };
}

/** The after-machine step that configures a new server over SSH, as `up` does. */
export function configureOverSsh(s: NodeSetup): AfterMachine {
  return async (node, server, postedHostKey) => {
    const t0 = performance.now();
    const address = nodeAddress(s.cluster, node, server);
    const hostKey = await postedHostKey();
    const host: SshHost = { name: node.name, host: address, hostKey };
    const pool = new SshPool({ user: "root", privateKey: s.sshKey, connectRetryMs: s.bootMs, readyTimeoutMs: 20_000 });
    try {
      await waitCloudInit(pool, host, s.bootMs, s.log);
      await deployNode({ cluster: s.cluster, pool, bundles: s.bundles, secrets: s.secrets, startServices: async (_n, rows) => { await pool.run(host, systemdStart(rows)); } },
        { node, ssh: host }, { packages: packagesNow(s), installPackages: aptInstall });
      await slurmdStaysUp(pool, host);
      s.log(`${node.name}: configured over SSH at ${address} in ${Math.round(performance.now() - t0)} ms`);
    } finally {
      pool.close();
    }
  };
}

/** How long slurmd must keep running after its start: it exits within a second when its initialisation fails. */
const SLURMD_SETTLE_S = 2;

/**
 * `systemctl restart slurmd` returns once the process runs (Debian 12's unit is Type=simple), before
 * slurmd has loaded its plugins and checked the node: a node that cannot run it (cgroup plugins, a
 * configuration it refuses) would be reported configured and Slurm would wait ResumeTimeout for a
 * registration that never comes. Failing here gives the resume a reason (slurmd's own error) at once.
 */
async function slurmdStaysUp(pool: SshPool, host: SshHost): Promise<void> {
  const r = await pool.exec(host, `for i in $(seq ${SLURMD_SETTLE_S * 5}); do sleep 0.2; systemctl is-active --quiet slurmd || { grep -h 'error' ${shq(SLURM_PATHS.slurmdLog)} | tail -n 3; exit 3; }; done`, { timeoutMs: 30_000 });
  if (r.code === 0) return;
  const why = r.code === 3 ? r.stdout.replace(/^\[[^\]]*\] /gm, "").trim().split("\n").join("; ") || "no error in its log" : `check exited ${r.code ?? r.signal}: ${r.stderr.trim()}`;
  throw new Error(`${host.name}: slurmd stopped right after its start: ${why} (${SLURM_PATHS.slurmdLog} on the node)`);
}
