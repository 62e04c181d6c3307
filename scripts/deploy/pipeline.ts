/**
 * The "after machines exist" pipeline, shared by every target: given nodes with an SSH door, it
 * pushes the rendered files and the secrets over SSH, starts the service table's rows step by step
 * (the target says how a row starts: systemd on VMs, recorded daemons locally) and runs the
 * readiness gate.
 *
 *   Connecting to nodes → Preparing nodes → Writing configuration → Starting munge →
 *   Starting Slurm → Starting the job server → readiness gate (scripts/readiness)
 */
import { SERVICE_STAGES, servicesFor, type Cluster, type ClusterNode, type ServiceRow, type ServiceStage, type Target } from "../../stacks/model/index.js";
import { readinessGate, type ReadinessLimits, type ReadinessReport } from "../readiness/index.js";
import type { NodeBundle } from "../render/index.js";
import { secretsFor, type SecretValues } from "../secrets/index.js";
import { shq, type PushFile, type SshHost, type SshPool } from "../ssh/index.js";
import { NodeError, type Progress } from "../progress/index.js";
import type { AppBundle } from "../apps/index.js";
import { deployApps, type AppTarget } from "./apps.js";

export interface DeployNode {
  node: ClusterNode;
  ssh: SshHost;
}

export interface DeployInput {
  cluster: Cluster;
  nodes: DeployNode[];
  pool: SshPool;
  bundles: NodeBundle[];
  secrets: SecretValues;
  /** How this target starts service-table rows on a node. */
  startServices(node: ClusterNode, rows: ServiceRow[]): Promise<void>;
  /** The cluster's applications, checked; pushed after the configuration. */
  apps: AppBundle[];
  installPackages?: AppTarget["installPackages"];
  progress: Progress;
  /** The job server as reached from here, and the token of the canary job. */
  jobServerUrl: string;
  adminToken: string;
  limits?: Partial<ReadinessLimits>;
}

export interface DeployResult {
  readiness: ReadinessReport;
  timings: { step: string; ms: number }[];
}

/** The files a node receives on this cluster's target: rendered files for the target, then secrets not already among them. */
export function filesFor(input: Pick<DeployInput, "cluster" | "bundles" | "secrets">, node: ClusterNode): PushFile[] {
  const bundle = input.bundles.find((b) => b.node.name === node.name);
  if (!bundle) throw new NodeError(node.name, "the renderer produced no files for this node");
  const secret = (key: string): Buffer => {
    const v = input.secrets.get(key);
    if (!v) throw new NodeError(node.name, `secret ${key} has no value`);
    return v;
  };
  const target: Target = input.cluster.target;
  const files: PushFile[] = bundle.files.filter((f) => f.targets.includes(target))
    .map((f) => ({ path: f.path, mode: f.mode, owner: f.owner, content: f.secret ? secret(f.secret) : f.content }));
  const paths = new Set(files.map((f) => f.path));
  for (const s of secretsFor(input.cluster, node)) {
    if (!paths.has(s.path)) files.push({ path: s.path, mode: s.mode, owner: s.owner, content: secret(s.key) });
  }
  return files;
}

export async function deploy(input: DeployInput): Promise<DeployResult> {
  const { cluster, pool, progress: p } = input;
  const head = input.nodes.find((n) => n.node.role === "head");
  if (!head) throw new Error(`cluster ${cluster.name} has no head node to deploy to`);
  const each = <T>(nodes: DeployNode[], fn: (n: DeployNode) => Promise<T>) => pool.forEach(nodes.map((n) => ({ ...n.ssh, n })), (h) => named(h.n, () => fn(h.n)));

  await p.step(`Connecting to ${input.nodes.length} nodes over SSH`, () => each(input.nodes, (n) => NODE_STEPS.connect(input, n)));
  await p.step("Preparing nodes (job server user, shared folders)", () => each(input.nodes, (n) => NODE_STEPS.prepare(input, n)));
  await p.step("Writing configuration and secrets", () => each(input.nodes, (n) => NODE_STEPS.write(input, n)));
  if (input.apps.length) {
    await p.step(`Installing ${input.apps.length === 1 ? "application" : "applications"} ${input.apps.map((a) => a.name).join(", ")}`, () => named(head, () => deployApps(cluster, input.apps, {
      pool, head: head.ssh, computes: input.nodes.filter((n) => n.node.role === "compute").map((n) => n.ssh), ...(input.installPackages ? { installPackages: input.installPackages } : {}),
    })));
  }
  for (const { stage, title } of SERVICE_STAGES) {
    await p.step(title, async () => {
      const start = (n: DeployNode) => NODE_STEPS.start(input, n, stage);
      // The head's rows first (slurmctld before any slurmd registers), then every compute node at once.
      await named(head, () => start(head));
      await each(input.nodes.filter((n) => n !== head), start);
    });
  }
  // Nodes powered on demand (elastic clusters) do not exist yet: the canary job powers one up.
  const readiness = await readinessGate({
    pool, head: head.ssh, slurmNodes: cluster.computes.filter((n) => n.power !== "on-demand").map((n) => n.name),
    canaryNodes: cluster.computes.map((n) => n.name), url: input.jobServerUrl, token: input.adminToken,
    progress: p, ...(input.limits || canaryFloorMs(cluster) ? { limits: { ...input.limits, ...canaryLimit(cluster, input.limits?.canaryMs) } } : {}),
  });
  return { readiness, timings: [...p.timings] };
}

/**
 * With no compute node up (elastic, min 0) the canary waits for Slurm to power one up: on a cloud
 * that is a VM's boot and configuration, up to resumeTimeout.
 */
export function canaryFloorMs(cluster: Pick<Cluster, "elastic">): number {
  return cluster.elastic && cluster.elastic.min === 0 ? (cluster.elastic.resumeTimeoutSeconds + 60) * 1000 : 0;
}

function canaryLimit(cluster: Cluster, given: number | undefined): { canaryMs?: number } {
  const floor = canaryFloorMs(cluster);
  return floor ? { canaryMs: Math.max(given ?? 0, floor) } : given !== undefined ? { canaryMs: given } : {};
}

type NodeStepInput = Pick<DeployInput, "cluster" | "pool" | "bundles" | "secrets" | "startServices">;

/** What `up` does on each node, step by step; deploy() runs each step on every node, deployNode() all steps on one. */
const NODE_STEPS = {
  connect: async (input: NodeStepInput, n: DeployNode) => { await input.pool.connect(n.ssh); },
  prepare: async (input: NodeStepInput, n: DeployNode) => { await input.pool.run(n.ssh, prepareScript(input.cluster, n.node)); },
  write: (input: NodeStepInput, n: DeployNode) => input.pool.push(n.ssh, filesFor(input, n.node)),
  start: async (input: NodeStepInput, n: DeployNode, stage: ServiceStage) => {
    const rows = servicesFor(stage, n.node.role);
    if (!rows.length) return;
    await input.startServices(n.node, rows);
    for (const r of rows) if (r.ready) await input.pool.run(n.ssh, waitScript(r.ready));
  },
};

/**
 * The same after-machines steps as `up`, for one compute node joining a running cluster (a node an
 * elastic cluster powers up): connect (host key checked), prepare, push its files and secrets, the
 * applications' packages where the target installs packages (as deploy's application step), start
 * its service-table rows stage by stage.
 */
export async function deployNode(input: NodeStepInput, n: DeployNode, apps: { packages: string[]; installPackages?: AppTarget["installPackages"] } = { packages: [] }): Promise<void> {
  await named(n, async () => {
    await NODE_STEPS.connect(input, n);
    await NODE_STEPS.prepare(input, n);
    await NODE_STEPS.write(input, n);
    if (apps.packages.length && apps.installPackages) await apps.installPackages(input.pool, [n.ssh], apps.packages);
    for (const { stage } of SERVICE_STAGES) await NODE_STEPS.start(input, n, stage);
  });
}

/** Waits (5 s at most, polling every 20 ms) until a service-table readiness test passes. */
function waitScript(ready: NonNullable<ServiceRow["ready"]>): string {
  return `for i in $(seq 250); do ${ready.test} && exit 0; sleep 0.02; done; echo ${shq(`${ready.what} within 5 s`)} >&2; exit 1`;
}

/**
 * Idempotent per-node preparation a VM image does not have: the job server's system user with the
 * model's fixed uid (Slurm runs its jobs as that user on every node) and, on the head, its folders.
 */
function prepareScript(cluster: Cluster, node: ClusterNode): string {
  const js = cluster.jobserver;
  const u = shq(js.user);
  const lines = [
    "set -e",
    `getent group ${u} >/dev/null || groupadd --system --gid ${js.uid} ${u}`,
    `getent passwd ${u} >/dev/null || useradd --system --uid ${js.uid} --gid ${js.uid} --no-create-home --home-dir ${shq(js.dataDir)} --shell /usr/sbin/nologin ${u}`,
  ];
  if (node.role === "head") {
    lines.push(`install -d -m 0755 ${shq(cluster.volume.mountPoint)}`);
    lines.push(`install -d -o ${u} -g ${u} -m 0750 ${shq(js.dataDir)}`);
    lines.push(`install -d -o ${u} -g ${u} -m 0755 ${shq(js.workDir)}`);
  }
  return lines.join("\n");
}

async function named<T>(n: DeployNode, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof NodeError) throw e;
    throw new NodeError(n.node.name, (e as Error).message);
  }
}
