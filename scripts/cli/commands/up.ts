import { need, str } from "../args.js";
import { EXIT, type Command } from "../command.js";
import { flags } from "../flags.js";
import { upCluster } from "../../deploy/up.js";
import { fmtMs, Progress, StepError } from "../../progress/index.js";
import { loadCluster } from "../../state/load.js";
import { loadTarget, targetFlags } from "../../targets/registry.js";

export const up: Command = {
  usage: "--spec FILE [--name NAME] [target options] [--json]",
  flags: [flags.spec, { ...flags.name, help: "cluster name overriding the spec's (e.g. one per CI run)" }, ...targetFlags("up")],
  details: [
    "Ready means: every Slurm node idle, the job server healthy, and a canary UWS job COMPLETED on a compute node.",
    "Exit 3 when a prerequisite is missing (local: root, packages; openstack: quota, image, flavor, network,",
    "engine; nothing is created), 4 when the cluster came up but is not ready",
    "(it is left as is for inspection: uws-cluster status / ssh; remove it with uws-cluster down).",
    "--json prints one JSON object per step, then a final object with url, nodes and timings.",
  ].join("\n"),
  async run(args, ctx) {
    const { cluster, state } = loadCluster(need(args, "spec", "the cluster spec, e.g. --spec examples/local.yaml"), { cwd: ctx.cwd, env: ctx.env, persist: true, name: str(args, "name") });
    const target = await loadTarget(cluster.target);
    const progress = Progress.for(ctx.stdout as NodeJS.WritableStream & { isTTY?: boolean }, ctx.json);
    progress.info(`Creating ${cluster.target} cluster ${cluster.name} (1 head + ${cluster.computes.length} compute)`);
    try {
      const r = await upCluster(target, { cluster, state, env: ctx.env, cwd: ctx.cwd, progress, args });
      const curl = target.curlExample(r.url, r.adminTokenFile);
      progress.emit({ ok: true, name: cluster.name, ...r.summary, url: r.url, nodes: r.nodes, canary: r.readiness.canary, timings: r.timings, totalMs: r.totalMs, adminTokenFile: r.adminTokenFile, curl });
      const selfSigned = r.url.startsWith("https://") && !cluster.dns;
      progress.info([
        "",
        `Cluster ${cluster.name} is ready in ${fmtMs(r.totalMs)}; canary job ran on ${r.readiness.canary.node}.`,
        `Job server: ${r.url}${selfSigned ? "   (self-signed certificate: curl -k, or configure dns: for Let's Encrypt)" : ""}`,
        `Portal (browser): ${r.url.replace(/\/+$/, "")}/${selfSigned ? "   (accept the self-signed certificate once)" : ""}`,
        "Submit a job (the admin token is read from the cluster's state dir):",
        `  ${curl}`,
        `Shell on the head: uws-cluster ssh head --name ${cluster.name}   Remove: uws-cluster down --name ${cluster.name}`,
      ].join("\n"));
      return EXIT.ok;
    } catch (e) {
      if (e instanceof StepError) {
        progress.info(`\nThe cluster is left as it is for inspection: uws-cluster status --name ${cluster.name}; uws-cluster ssh NODE --name ${cluster.name}; state in ${state.dir}.\nRemove it with: uws-cluster down --name ${cluster.name}`);
      }
      throw e;
    }
  },
};
