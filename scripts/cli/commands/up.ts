import { bool, need, str, UsageError } from "../args.js";
import { EXIT, type Command } from "../command.js";
import { loadCluster } from "../load.js";
import { curlExample, preflight, upLocal } from "../../deploy/local.js";
import { fmtMs, Progress, StepError } from "../../deploy/progress.js";
import { upCloud } from "../../deploy/cloud.js";
import { parseBackendUrl, selectEngine, type EngineChoice } from "../../engines/index.js";
import type { CommandContext } from "../command.js";
import type { ParsedArgs } from "../args.js";
import type { Loaded } from "../load.js";

export const up: Command = {
  name: "up",
  summary: "create a cluster, configure it over SSH and wait until it runs jobs",
  usage: "--spec FILE [--name NAME] [--engine auto|tofu|terraform|pulumi] [--cloud NAME] [--install-deps] [--json]",
  flags: [
    { name: "spec", type: "string", help: "cluster spec (YAML or JSON)" },
    { name: "name", type: "string", help: "cluster name overriding the spec's (e.g. one per CI run)" },
    { name: "install-deps", type: "boolean", help: "local target: install missing Debian packages (as root)" },
    { name: "engine", type: "string", help: "openstack target: auto (tofu, else terraform), tofu, terraform or pulumi", default: "auto" },
    { name: "cloud", type: "string", help: "openstack target: cloud in clouds.yaml (default: $OS_CLOUD, else the OS_* variables)" },
    { name: "parallelism", type: "string", help: "openstack target: concurrent resource operations of the engine", default: "10" },
    { name: "backend", type: "string", help: "openstack target: engine state backend: local (default, in the state dir), s3://BUCKET/KEY?endpoint=URL, swift://CONTAINER/KEY?endpoint=URL or an http(s) URL; also $UWS_CLUSTER_BACKEND. Credentials only from the environment" },
  ],
  details: [
    "Ready means: every Slurm node idle, the job server healthy, and a canary UWS job COMPLETED on a compute node.",
    "Exit 3 when a prerequisite is missing (local: root, packages; openstack: quota, image, flavor, network,",
    "engine; nothing is created), 4 when the cluster came up but is not ready",
    "(it is left as is for inspection: uws-cluster status / ssh; remove it with uws-cluster down).",
    "--json prints one JSON object per step, then a final object with url, nodes and timings.",
  ].join("\n"),
  async run(args, ctx) {
    const loaded = loadCluster(need(args, "spec", "the cluster spec, e.g. --spec examples/local.yaml"), { cwd: ctx.cwd, env: ctx.env, persist: true, name: str(args, "name") });
    const { cluster, state } = loaded;
    if (cluster.target === "openstack") return upOpenstack(loaded, args, ctx);
    const progress = Progress.for(ctx.stdout as NodeJS.WritableStream & { isTTY?: boolean }, ctx.json);
    preflight({ installDeps: bool(args, "install-deps"), log: (s) => progress.info(s) });
    progress.info(`Creating local cluster ${cluster.name} (1 head + ${cluster.computes.length} compute)`);
    try {
      const r = await upLocal(cluster, state, { progress, env: ctx.env });
      const curl = curlExample(r.url, r.adminTokenFile);
      progress.emit({ ok: true, name: cluster.name, url: r.url, nodes: r.nodes, canary: r.readiness.canary, timings: r.timings, totalMs: r.totalMs, adminTokenFile: r.adminTokenFile, curl });
      progress.info([
        "",
        `Cluster ${cluster.name} is ready in ${fmtMs(r.totalMs)}; canary job ran on ${r.readiness.canary.node}.`,
        `Job server: ${r.url}`,
        "Submit a job (the admin token is read from the cluster's state dir):",
        `  ${curl}`,
        `Shell on the head: uws-cluster ssh head --spec ...   Remove: uws-cluster down --name ${cluster.name}`,
      ].join("\n"));
      return EXIT.ok;
    } catch (e) {
      if (e instanceof StepError) {
        progress.info(`\nThe cluster is left as it is for inspection: uws-cluster status --name ${cluster.name}; uws-cluster ssh NODE --name ${cluster.name}; node logs in ${state.path("nodes")}.\nRemove it with: uws-cluster down --name ${cluster.name}`);
      }
      throw e;
    }
  },
};

async function upOpenstack({ cluster, state }: Loaded, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const parallelism = Number(str(args, "parallelism"));
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 1000) throw new UsageError(`--parallelism must be an integer from 1 to 1000, got ${str(args, "parallelism")}`);
  const engine = selectEngine(str(args, "engine") as EngineChoice, ctx.env);
  const progress = Progress.for(ctx.stdout as NodeJS.WritableStream & { isTTY?: boolean }, ctx.json);
  progress.info(`Creating cluster ${cluster.name} (${cluster.id}) on OpenStack with ${engine.name}: 1 head + ${cluster.computes.length} compute`);
  try {
    const backendUrl = str(args, "backend") ?? ctx.env.UWS_CLUSTER_BACKEND;
    const backend = backendUrl ? parseBackendUrl(backendUrl) : undefined;
    const r = await upCloud(cluster, state, { engine, progress, env: ctx.env, cwd: ctx.cwd, cloud: str(args, "cloud"), parallelism, ...(backend ? { backend } : {}) });
    const curl = `curl -sS -k -L -H "Authorization: Bearer $(cat ${r.adminTokenFile})" -d PHASE=RUN ${r.url}/uws/hello`;
    progress.emit({ ok: true, name: cluster.name, id: cluster.id, url: r.url, headPublicIp: r.headPublicIp, nodes: r.nodes, canary: r.readiness.canary, timings: r.timings, totalMs: r.totalMs, adminTokenFile: r.adminTokenFile, curl });
    progress.info([
      "",
      `Cluster ${cluster.name} is ready in ${fmtMs(r.totalMs)}; canary job ran on ${r.readiness.canary.node}.`,
      `Job server: ${r.url}${cluster.dns ? "" : "   (self-signed certificate: curl -k, or configure dns: for Let's Encrypt)"}`,
      "Submit a job (the admin token is read from the cluster's state dir):",
      `  ${curl}`,
      `Shell on the head: uws-cluster ssh head --name ${cluster.name}   Remove: uws-cluster down --name ${cluster.name}`,
    ].join("\n"));
    return EXIT.ok;
  } catch (e) {
    if (e instanceof StepError) {
      progress.info(`\nThe cluster is left as it is for inspection: uws-cluster status --name ${cluster.name}; uws-cluster ssh NODE --name ${cluster.name}.\nRemove it with: uws-cluster down --name ${cluster.name}`);
    }
    throw e;
  }
}
