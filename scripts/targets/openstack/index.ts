/**
 * The OpenStack target. create: pre-flight (nothing is created when something is missing) → engine
 * apply (terraform/tofu/pulumi on stacks/terraform or stacks/pulumi); then the booted-machine path
 * shared with the machines target (scripts/deploy/booted.ts: host keys from the console log → SSH
 * to the head's floating IP and to compute nodes through it → cloud-init done → job server
 * installed); the shared deploy pipeline does the rest, through an SSH tunnel to the job server.
 * delete: engine destroy, then a sweep of everything tagged with the cluster id (works with the
 * engine state lost). status: by tag.
 *
 *   cloud/    the OpenStack API client, credentials, pre-flight, sweep, reap, status
 *   engines/  terraform/tofu and pulumi behind one interface
 */
import { readFileSync, rmSync } from "node:fs";
import { createdByUp, TAG_ID, TAG_NAME, tagToken, type Cluster, type ClusterNode } from "../../../stacks/model/index.js";
import { appPackages, loadApps, shippedDefinitionNames } from "../../apps/index.js";
import { str, UsageError, type ParsedArgs } from "../../cli/args.js";
import { renderCluster } from "../../render/index.js";
import { bootedDoor, bootedMachines, readHostKeys } from "../../deploy/booted.js";
import { StepError, type Progress } from "../../progress/index.js";
import { deleteClusterCredential, describeCredential, findClusterCredential } from "../../elastic/openstack/credential.js";
import type { SecretValues } from "../../secrets/index.js";
import { clusterKey } from "../../secrets/cluster-key.js";
import type { ClusterState } from "../../state/store.js";
import { systemSshArgv } from "../ssh-argv.js";
import type { Machines, NamedContext, Target, TargetContext, TargetStatus } from "../target.js";
import type { OpenStackClient } from "./cloud/client.js";
import { listServers } from "./cloud/compute.js";
import { connectCloud } from "./cloud/connect.js";
import { waitForServerHostKey } from "./cloud/console.js";
import { assertPreflight, preflight } from "./cloud/preflight.js";
import { cloudStatus, formatStatus, type CloudStatus } from "./cloud/status.js";
import { listClusters, sweepCluster, sweepDeadlineMs, type SweepResult } from "./cloud/sweep.js";
import { makePowerCredential, powerAgentFiles } from "./elastic.js";
import { lookupCloudRefs } from "../../elastic/openstack/driver.js";
import { parseBackendUrl, selectEngine, type BackendConfig, type Engine, type EngineChoice, type EngineContext, type EngineEvent, type EngineOutputs } from "./engines/index.js";
import type { CredentialRecord } from "../../elastic/openstack/credential.js";
import type { PushFile } from "../../ssh/index.js";

/** The outputs `up` saves (engine outputs), so status/ssh know the head's floating IP. */
const OUTPUTS_FILE = "outputs.json";

export interface CloudOptions {
  engine: Engine;
  progress: Progress;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Cloud in clouds.yaml (default: $OS_CLOUD, else OS_* variables). */
  cloud?: string;
  parallelism?: number;
  /** Engine state backend (local in the state dir by default). */
  backend?: BackendConfig;
  /** How long to wait for first boot (host keys, SSH, cloud-init). */
  bootTimeoutMs?: number;
}

/** The target's options from the verb's flags. */
function cloudOptions(ctx: Pick<TargetContext, "args" | "env" | "cwd" | "progress">, o: { engine: boolean }): Omit<CloudOptions, "engine"> & { engine?: Engine } {
  const args: ParsedArgs = ctx.args;
  const p = str(args, "parallelism");
  const parallelism = p === undefined ? undefined : Number(p);
  if (parallelism !== undefined && (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 1000)) throw new UsageError(`--parallelism must be an integer from 1 to 1000, got ${p}`);
  const backendUrl = str(args, "backend") ?? ctx.env.UWS_CLUSTER_BACKEND;
  return {
    progress: ctx.progress, env: ctx.env, cwd: ctx.cwd, cloud: str(args, "cloud"),
    ...(parallelism !== undefined ? { parallelism } : {}),
    ...(backendUrl ? { backend: parseBackendUrl(backendUrl) } : {}),
    ...(o.engine ? { engine: selectEngine((str(args, "engine") ?? "auto") as EngineChoice, ctx.env) } : {}),
  };
}

function engineContext(cluster: Cluster, state: ClusterState, o: CloudOptions, extra: Partial<EngineContext> = {}): EngineContext {
  return {
    cluster, workDir: state.path("engine"), env: o.env, parallelism: o.parallelism, ...(o.backend ? { backend: o.backend } : {}),
    onEvent: (e: EngineEvent) => { if (e.type === "retry") o.progress.info(`${e.engine} ${e.step}: transient failure (${e.reason}), retrying in ${Math.round(e.delayMs / 1000)} s`); },
    ...extra,
  };
}

/** The public URL users reach the job server at: the DNS name when configured, else the floating IP. */
export function publicUrl(cluster: Cluster, headPublicIp: string): string {
  return cluster.jobserver.publicUrl ?? `https://${headPublicIp}`;
}

/** What the cloud half of `create` made: the engine's outputs and, for an elastic cluster, the power credential (its secret only in `secrets`). */
export interface Provisioned {
  client: OpenStackClient;
  outputs: EngineOutputs;
  privateKey: Buffer;
  credential?: CredentialRecord;
}

/**
 * The cloud half of `create`, before any machine is reached: the engine's apply (the head and the
 * `min` compute servers: on-demand nodes are the power agent's), then for an elastic cluster the
 * power agent's application credential (once the engine made the rest; down deletes it first either way).
 */
export async function provisionCloud(ctx: TargetContext, secrets: SecretValues, o: CloudOptions): Promise<Provisioned> {
  const { cluster, state, progress: p } = ctx;
  const client = await connectCloud({ env: o.env, cwd: o.cwd, cloud: o.cloud });
  const key = clusterKey(cluster, state);
  // User-data depends on the model only, so a re-run renders the same and never replaces servers.
  const userData = Object.fromEntries(renderCluster(cluster).filter((b) => b.node.power === "always").map((b) => [b.node.name, b.userData]));
  const outputs = await p.step(`Creating cloud resources with ${o.engine.name}`, () =>
    o.engine.apply(engineContext(cluster, state, o, { publicKey: key.publicKey || undefined, userData })));
  state.writeJson(OUTPUTS_FILE, outputs);
  const privateKey = readFileSync(key.privateKeyPath);
  const credential = cluster.elastic ? await makePowerCredential(client, cluster, state, secrets, privateKey, p) : undefined;
  return { client, outputs, privateKey, ...(credential ? { credential } : {}) };
}

/**
 * The power agent's files as `up` pushes them to the head (bundle, configuration), rendered with
 * the addresses `up` renders the cluster with next: a node the agent adds gets what `up` would give it.
 */
export async function powerAgentHeadFiles(client: OpenStackClient, cluster: Cluster, outputs: EngineOutputs): Promise<PushFile[]> {
  const addresses = Object.fromEntries(createdByUp(cluster).map((n) => [n.name, outputs.privateIps[n.name] ?? n.privateIp!]));
  const refs = await lookupCloudRefs(client, cluster);
  return powerAgentFiles(cluster, { addresses, headPublicIp: outputs.headPublicIp }, appPackages(loadApps(cluster, shippedDefinitionNames())), refs);
}

async function create(ctx: TargetContext, secrets: SecretValues): Promise<Machines> {
  const { cluster, progress: p } = ctx;
  const o = cloudOptions(ctx, { engine: true }) as CloudOptions;
  const { client, outputs, privateKey } = await provisionCloud(ctx, secrets, o);

  const bootMs = o.bootTimeoutMs ?? 900_000;
  const servers = await serversByName(client, cluster);
  const hostKeys = await readHostKeys(cluster, p, (name) => waitForServerHostKey(client, { id: servers[name]!, name }, { timeoutMs: bootMs }));
  const privateIp = (n: ClusterNode) => outputs.privateIps[n.name] ?? n.privateIp!;
  // From here on the cloud path is shared with every booted-machine target (scripts/deploy/booted.ts).
  const up = createdByUp(cluster);
  const m = bootedMachines({
    cluster, privateKey, bootMs,
    hosts: up.map((n, i) => ({ name: n.name, host: n.role === "head" ? outputs.headPublicIp : privateIp(n), hostKey: hostKeys[i]! })),
    addresses: Object.fromEntries(up.map((n) => [n.name, privateIp(n)])),
    headPublicIp: outputs.headPublicIp,
    url: publicUrl(cluster, outputs.headPublicIp),
    summary: { id: cluster.id, headPublicIp: outputs.headPublicIp },
  });
  if (!cluster.elastic) return m;
  return {
    ...m,
    async prepare(pool, progress) {
      await m.prepare!(pool, progress);
      await progress.step("Installing the power agent on the head", async () => pool.push(m.nodes[0]!.ssh, await powerAgentHeadFiles(client, cluster, outputs)));
    },
  };
}

/** Server ids by node name, found by the cluster id in their metadata (never by name alone). */
async function serversByName(client: OpenStackClient, cluster: Cluster): Promise<Record<string, string>> {
  const all = await listServers(client);
  const mine = all.filter((s) => s.metadata?.[TAG_ID] === cluster.id);
  const byName = Object.fromEntries(mine.map((s) => [s.name, s.id]));
  const missing = createdByUp(cluster).filter((n) => !byName[n.name]).map((n) => n.name);
  if (missing.length) throw new StepError("Finding the cluster's servers", undefined, `servers not found after apply: ${missing.join(", ")}`);
  return byName;
}

export interface CloudDownResult {
  engineError?: string;
  sweep: SweepResult;
}

/**
 * Engine destroy, then the tag sweep — always, so resources the engine lost track of (or a destroy
 * that failed half-way) are still removed. Only resources tagged with this cluster's id are touched.
 */
async function downCloud(ref: { id: string; cluster?: Cluster }, state: ClusterState, o: Omit<CloudOptions, "engine"> & { engine?: Engine }): Promise<CloudDownResult> {
  const p = o.progress;
  let engineError: string | undefined;
  if (o.engine && ref.cluster) {
    try {
      await p.step(`Destroying with ${o.engine.name}`, () => o.engine!.destroy(engineContext(ref.cluster!, state, { ...o, engine: o.engine! })));
    } catch (e) {
      engineError = (e as Error).message;
      p.info(`${o.engine.name} destroy failed; the tag sweep removes what is left`);
    }
  } else {
    p.info("no engine state to destroy: removing the cluster's resources by tag");
  }
  const client = await connectCloud({ env: o.env, cwd: o.cwd, cloud: o.cloud });
  // The power agent's credential first (the sweep finds it too, by name and description): nothing can create servers behind the sweep.
  if (ref.cluster?.elastic) {
    const gone = await p.step("Deleting the power agent's application credential", () => deleteClusterCredential(client, ref.cluster!));
    if (gone.length) p.info(`  deleted application_credential ${gone.join(", ")}`);
  }
  const sweep = await p.step(`Sweeping resources tagged ${tagToken(TAG_ID, ref.id)}`, () => sweepCluster(client, ref.id, {
    deadlineMs: sweepDeadlineMs(o.env),
    onEvent: (e) => {
      if (e.type === "delete") p.info(`  deleted ${e.kind} ${e.name || e.id}`);
      else if (e.type === "round" && e.message?.includes("left")) p.info(`  ${e.message}`);
    },
  }));
  if (!sweep.ok) {
    const left = sweep.remaining.map((r) => `${r.kind} ${r.name || r.id} (${r.id})`).join(", ");
    throw new StepError("Sweeping the cluster's resources", undefined,
      `after ${sweep.rounds} round(s) ${sweep.remaining.length} resource(s) are still tagged ${tagToken(TAG_ID, ref.id)}: ${left}. `
      + "Nothing untagged was touched. Running down again is always safe: it finds these by their tag and goes on (UWS_CLUSTER_SWEEP_DEADLINE=30m gives it longer)");
  }
  rmSync(state.dir, { recursive: true, force: true });
  return { ...(engineError ? { engineError } : {}), sweep };
}

/** The cluster id of a cloud cluster known only by name (its local state lost): from the tags in the project. */
async function findCloudClusterId(o: Pick<CloudOptions, "env" | "cwd" | "cloud">, name: string): Promise<string | undefined> {
  const client = await connectCloud({ env: o.env, cwd: o.cwd, cloud: o.cloud });
  const { clusters } = await listClusters(client);
  return clusters.find((c) => c.name === name)?.id;
}

async function statusCloud(cluster: Cluster, o: Pick<CloudOptions, "env" | "cwd" | "cloud">): Promise<CloudStatus & { powerCredential?: string | null }> {
  const client = await connectCloud({ env: o.env, cwd: o.cwd, cloud: o.cloud });
  const st = await cloudStatus(client, { id: cluster.id });
  if (!cluster.elastic) return st;
  // One Keystone list: the credential's expiry and whether it has access rules.
  const cred = await findClusterCredential(client, cluster).catch(() => undefined);
  return { ...st, powerCredential: cred === undefined ? null : describeCredential(cred) };
}

async function remove(ctx: NamedContext): Promise<{ removed: boolean; json: Record<string, unknown>; text: string } | undefined> {
  const { state, cluster } = ctx;
  // A cluster known by name only is looked for in the cloud when credentials are configured.
  if (!cluster && !(str(ctx.args, "cloud") || ctx.env.OS_CLOUD || ctx.env.OS_AUTH_URL)) return undefined;
  const o = cloudOptions(ctx, { engine: false });
  // Without saved state the id in the spec's model is a throw-away: find the real one by the name tag.
  const known = cluster && state.peekIdentity() ? cluster : undefined;
  const id = known ? known.id : await findCloudClusterId(o, state.name);
  if (!id) {
    if (!cluster) return undefined;
    rmSync(state.dir, { recursive: true, force: true });
    return { removed: false, json: {}, text: `no cluster ${state.name} in the project (no resource tagged ${tagToken(TAG_NAME, state.name)}): nothing to remove` };
  }
  let engine: Engine | undefined;
  try {
    engine = selectEngine((str(ctx.args, "engine") ?? "auto") as EngineChoice, ctx.env);
  } catch (e) {
    ctx.progress.info((e as Error).message.split("\n")[0]!);
  }
  const r = await downCloud({ id, ...(known ? { cluster: known } : {}) }, state, { ...o, ...(engine ? { engine } : {}) });
  const how = engine && known ? `${engine.name} destroy and the tag sweep` : "the tag sweep";
  return {
    removed: r.sweep.deleted.length > 0,
    json: { id, deleted: r.sweep.deleted, engineError: r.engineError ?? null },
    text: `cluster ${state.name} (${id}) removed by ${how}: ${r.sweep.deleted.length} resource(s) swept`,
  };
}

async function status(ctx: TargetContext): Promise<TargetStatus> {
  const { cluster, state } = ctx;
  const st = await statusCloud(cluster, { env: ctx.env, cwd: ctx.cwd, cloud: str(ctx.args, "cloud") });
  const exists = st.clusters.length > 0;
  const out = state.readJson<{ headPublicIp: string }>(OUTPUTS_FILE);
  const url = exists ? (out ? publicUrl(cluster, out.headPublicIp) : cluster.jobserver.publicUrl ?? null) : null;
  return {
    ok: exists,
    json: { name: cluster.name, id: cluster.id, target: "openstack", url, ...st },
    text: formatStatus(st) + (exists ? `\njob server: ${url ?? "-"}` : "")
      + (st.powerCredential !== undefined ? `\n${st.powerCredential ?? "power credential: none (elastic nodes cannot be created)"}` : ""),
  };
}

export const openstackTarget: Target = {
  name: "openstack",
  async preflight(ctx) {
    const o = cloudOptions(ctx, { engine: true }) as CloudOptions;
    const e = ctx.cluster.elastic;
    ctx.progress.info(`Creating cluster ${ctx.cluster.name} (${ctx.cluster.id}) on OpenStack with ${o.engine.name}: 1 head + `
      + (e ? `${e.min} compute (up to ${e.max} powered up by Slurm for waiting jobs)` : `${ctx.cluster.computes.length} compute`));
    const client = await ctx.progress.step("Connecting to the OpenStack API", () => connectCloud({ env: o.env, cwd: o.cwd, cloud: o.cloud }));
    const report = await ctx.progress.step("Pre-flight: quotas, image, flavors, networks, name", () => preflight(client, ctx.cluster));
    assertPreflight(report); // exit 3, nothing created
    await ctx.progress.step(`Checking the ${o.engine.name} engine`, () => o.engine.check({ env: o.env }));
  },
  create,
  delete: remove,
  door: async ({ cluster, state }) => bootedDoor(cluster, state, readFileSync(clusterKey(cluster, state).privateKeyPath)),
  status,
  sshArgv: ({ cluster, state }, node, command) => systemSshArgv(cluster, state, node, command, { jumpThroughHead: true }),
  curlExample: (url, tokenFile) => `curl -sS -k -L -H "Authorization: Bearer $(cat ${tokenFile})" -d PHASE=RUN ${url}/uws/hello`,
};
