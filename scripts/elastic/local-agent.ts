/**
 * The local target's power agent: one host-side process per elastic local cluster, started by `up`
 * (recorded by PID in local.json) and stopped first by `down`. The head's power programs
 * (templates/slurm/power) reach it over HTTP on the cluster's own bridge address with the
 * per-cluster token (secret power.agent-token; on the head 0400 slurm:slurm). It creates an
 * on-demand node (stacks/local addNode) and runs `up`'s after-machines steps for that one node
 * (scripts/deploy/pipeline deployNode: host key checked, files and secrets pushed over SSH, munge
 * and `slurmd -b` started from the service table), and removes nodes. It refuses anything but this
 * cluster's on-demand nodes, never runs more than compute.max compute nodes, and runs the
 * operations on one node one after the other (a resume racing a suspend cannot duplicate a node).
 *
 *   GET  /health                                  → ok
 *   POST /resume   body: NODE per line            → NODE ok holder=PID | NODE failed REASON
 *   POST /suspend  body: NODE [RECORD] per line   → NODE ok removed | NODE ok already gone | NODE failed REASON
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Cluster } from "../../stacks/model/index.js";
import { isAlive, LocalTarget, procStartTime, type Proc } from "../../stacks/local/index.js";
import { bundleInPackage, REPO_ROOT } from "../deploy/bundle.js";
import { deployNode } from "../deploy/pipeline.js";
import { renderCluster } from "../render/index.js";
import { ensureSecrets, ensureSshKey, knownHosts, recordKnownHosts } from "../secrets/index.js";
import { generateEd25519, SshPool } from "../ssh/index.js";
import { MODEL_FILE } from "../state/load.js";
import { ClusterState } from "../state/store.js";
import { servePower } from "./serve.js";
import { hostSlurmVersion } from "./version.js";

export const AGENT_LOG = "elastic-agent.log";

/** How to run the agent: the bundled entry when this code runs from dist/cli, else the TypeScript source. */
function agentArgv(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const dist = join(REPO_ROOT, "dist/cli/elastic-agent.js");
  if (here.includes(`${join("dist", "cli")}`) && existsSync(dist)) return [dist];
  return [join(REPO_ROOT, "scripts/run-ts.mjs"), join(REPO_ROOT, "scripts/elastic/agent-main.ts")];
}

/** Starts the agent for `cluster` (detached, recorded by PID before it can fail) and waits until it answers. */
export async function startLocalAgent(cluster: Cluster, state: ClusterState, machines: LocalTarget, env: NodeJS.ProcessEnv, cwd: string): Promise<Proc> {
  const e = cluster.elastic;
  if (!e) throw new Error(`cluster ${cluster.name} has no elastic compute nodes`);
  const log = openSync(state.path(AGENT_LOG), "a", 0o600);
  const child = spawn(process.execPath, [...agentArgv(), dirname(state.dir), cluster.name], { detached: true, stdio: ["ignore", log, log], env, cwd });
  closeSync(log);
  child.on("error", () => {});
  child.unref();
  const startTime = child.pid === undefined ? undefined : procStartTime(child.pid);
  if (child.pid === undefined || startTime === undefined) throw new Error(`the power agent did not start; see ${state.path(AGENT_LOG)}`);
  const proc = { pid: child.pid, startTime };
  machines.recordAgent(proc);
  const token = readFileSync(state.path("secrets/power.agent-token"), "utf8").trim();
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`${e.agent.url}/health`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) });
      if (r.ok) return proc;
    } catch { /* not listening yet */ }
    if (!isAlive(proc) || Date.now() > deadline) {
      const tail = existsSync(state.path(AGENT_LOG)) ? readFileSync(state.path(AGENT_LOG), "utf8").split("\n").slice(-8).join("\n") : "";
      throw new Error(`the power agent did not answer at ${e.agent.url}/health${isAlive(proc) ? " within 20 s" : " (it exited)"}; ${state.path(AGENT_LOG)}:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const oneLine = (s: string) => s.replace(/\s+/g, " ").trim().slice(0, 300);

/** The agent process: serves the power programs of cluster `name` until SIGTERM. */
export async function runLocalAgent(root: string, name: string): Promise<void> {
  const state = new ClusterState(name, root);
  const cluster = state.readJson<Cluster>(MODEL_FILE);
  if (!cluster?.elastic) throw new Error(`no elastic cluster model in ${state.path(MODEL_FILE)}`);
  const e = cluster.elastic;
  const log = (s: string) => process.stdout.write(`${new Date().toISOString()} ${s}\n`);
  const secrets = ensureSecrets(cluster, state, process.env, process.cwd());
  const token = secrets.get("power.agent-token")!;
  const key = ensureSshKey(state);
  const slurmVersion = hostSlurmVersion();
  const bundles = renderCluster(cluster, slurmVersion ? { slurmVersion } : {});
  const machines = () => new LocalTarget(cluster, { stateDir: state.dir, store: state, jobServer: { appDir: REPO_ROOT, bundle: bundleInPackage() } });
  const queues = new Map<string, Promise<unknown>>();
  const serial = <T>(node: string, fn: () => Promise<T>): Promise<T> => {
    const next = (queues.get(node) ?? Promise.resolve()).catch(() => {}).then(fn);
    queues.set(node, next);
    return next;
  };
  const creating = new Set<string>(); // nodes being created now

  const setKnownHost = (node: string, host?: { address: string; hostKey: string }) => {
    const hosts = knownHosts(state).filter((h) => h.name !== node);
    recordKnownHosts(state, host ? [...hosts, { name: node, ...host }] : hosts);
  };

  async function resume(node: string): Promise<string> {
    if (!e.nodes.includes(node)) return `${node} failed refused: not an on-demand node of cluster ${cluster!.name}`;
    return serial(node, async () => {
      const m = machines();
      if (m.liveNodes().includes(node)) {
        const h = m.holder(node);
        const d = m.daemon(node, "slurmd");
        if (h && isAlive(h) && d && isAlive(d)) return `${node} ok holder=${h.pid} (already up)`;
        log(`${node}: left over from an earlier try, removing it first`);
        await m.removeNode(node);
      }
      const computes = new Set([...m.liveNodes().filter((n) => n !== cluster!.head.name), ...creating]);
      if (computes.size >= e.max) return `${node} failed refused: ${e.max} compute nodes (compute.max) exist already`;
      creating.add(node);
      const pool = new SshPool({ user: cluster!.sshUser, privateKey: key.privateKey, connectRetryMs: 10_000 });
      const t0 = performance.now();
      try {
        const p = await m.addNode(node, key.publicKey, generateEd25519());
        setKnownHost(node, { address: p.address, hostKey: p.hostKey });
        await deployNode({ cluster: cluster!, pool, bundles, secrets, startServices: (n, rows) => m.startServices(n, rows.map((r) => r.name)) },
          { node: p.node, ssh: { name: node, host: p.address, hostKey: p.hostKey } });
        const holder = m.holder(node)!;
        log(`${node}: created and configured in ${Math.round(performance.now() - t0)} ms (holder ${holder.pid})`);
        return `${node} ok holder=${holder.pid}`;
      } catch (err) {
        const why = oneLine((err as Error).message);
        log(`${node}: resume FAILED: ${why}`);
        try { await machines().removeNode(node); } catch (e2) { log(`${node}: cleanup after the failure: ${(e2 as Error).message}`); }
        setKnownHost(node);
        return `${node} failed ${why}`;
      } finally {
        creating.delete(node);
        pool.close();
      }
    });
  }

  async function suspend(node: string, record: string): Promise<string> {
    if (!e.nodes.includes(node)) return `${node} failed refused: not an on-demand node of cluster ${cluster!.name}`;
    return serial(node, async () => {
      try {
        const m = machines();
        const holder = m.holder(node);
        if (record && holder && record !== `holder=${holder.pid}`) log(`${node}: suspend names ${record}, the node's holder is ${holder.pid}; removing the node`);
        const removed = await m.removeNode(node);
        setKnownHost(node);
        log(`${node}: ${removed ? "removed" : "already gone"}`);
        return `${node} ok ${removed ? "removed" : "already gone"}`;
      } catch (err) {
        log(`${node}: suspend FAILED: ${(err as Error).message}`);
        return `${node} failed ${oneLine((err as Error).message)}`;
      }
    });
  }

  const server = await servePower({ resume, suspend: (node, record) => suspend(node, record.split(" ")[0] ?? "") }, { host: e.agent.host, port: e.agent.port, token: token.toString(), log });
  log(`power agent of ${cluster.name} listening on ${e.agent.url} (nodes ${e.nodes.join(", ")}; at most ${e.max} compute nodes; Slurm ${slurmVersion ?? "?"})`);
  const stop = () => { log("stopping"); server.close(); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
