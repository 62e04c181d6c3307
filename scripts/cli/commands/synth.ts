import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { synthTerraform } from "../../../stacks/terraform/synth.js";
import { clusterKey } from "../../secrets/cluster-key.js";
import { need } from "../args.js";
import { emit, EXIT, type Command } from "../command.js";
import { flags } from "../flags.js";
import { loadCluster } from "../../state/load.js";

export const synth: Command = {
  usage: "--spec FILE --out DIR [--json]",
  flags: [flags.spec, { ...flags.out, help: "output directory (created); cdk.tf.json is written there" }],
  details: [
    "Then:  cd DIR && terraform init && terraform apply     (or tofu init && tofu apply)",
    "Credentials are not in the output: terraform/tofu read clouds.yaml + OS_CLOUD or OS_* variables.",
    "The cluster id and the generated SSH key are kept in the state dir ($UWS_CLUSTER_HOME,",
    "default ~/.local/state/uws-cluster/<name>) so a re-synth keeps the same tags.",
  ].join("\n"),
  async run(args, ctx) {
    const spec = need(args, "spec", "the cluster spec, e.g. --spec examples/openstack.yaml");
    const outDir = resolve(ctx.cwd, need(args, "out", "the output directory, e.g. --out out/"));
    const { cluster, state } = loadCluster(spec, { cwd: ctx.cwd, env: ctx.env, persist: true });
    const key = clusterKey(cluster, state);
    const started = performance.now();
    const tf = synthTerraform(cluster, { publicKey: key.publicKey || undefined });
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, "cdk.tf.json");
    writeFileSync(file, JSON.stringify(tf, null, 2) + "\n");
    const resources = Object.values(tf.resource as Record<string, Record<string, unknown>>).reduce((n, r) => n + Object.keys(r).length, 0);
    const ms = Math.round(performance.now() - started);
    emit(ctx, { ok: true, name: cluster.name, id: cluster.id, file, resources, ms },
      `${cluster.name} (${cluster.id}): ${resources} resources → ${file} (${ms} ms)\nnext: cd ${outDir} && terraform init && terraform apply   (or tofu)`);
    return EXIT.ok;
  },
};
