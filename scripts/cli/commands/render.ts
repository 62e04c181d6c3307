import { resolve } from "node:path";
import { need } from "../args.js";
import { emit, EXIT, type Command } from "../command.js";
import { flags } from "../flags.js";
import { loadCluster } from "../../state/load.js";
import { renderCluster, renderToDir } from "../../render/index.js";

export const render: Command = {
  usage: "--spec FILE --out DIR [--json]",
  flags: [flags.spec, { ...flags.out, help: "output folder; DIR/<node> is replaced on each run" }],
  details: [
    "Writes DIR/<node>/user-data (cloud target), DIR/<node>/files/<absolute path on",
    "the node> for every file the node gets on the spec's target, and DIR/<node>/files.json (mode, owner,",
    "concern, secret key). Secret files hold a placeholder such as <secret:munge.key>, never a value.",
  ].join("\n"),
  async run(args, ctx) {
    const spec = need(args, "spec", "the cluster spec to render, e.g. --spec cluster.yaml");
    const out = resolve(ctx.cwd, need(args, "out", "the folder to write to, e.g. --out out/"));
    const { cluster } = loadCluster(spec, { cwd: ctx.cwd, env: ctx.env, persist: false });
    const bundles = renderCluster(cluster);
    renderToDir(bundles, out, { target: cluster.target });
    const nodes = bundles.map((b) => ({
      name: b.node.name,
      dir: resolve(out, b.node.name),
      files: b.files.filter((f) => f.targets.includes(cluster.target)).length,
      secrets: b.files.filter((f) => f.secret && f.targets.includes(cluster.target)).map((f) => f.secret),
    }));
    emit(ctx, { ok: true, name: cluster.name, target: cluster.target, out, nodes },
      [`${cluster.name}: rendered ${nodes.length} nodes into ${out}`, ...nodes.map((n) => `  ${n.name}: ${n.files} files (${n.secrets.length} secret placeholders)`)].join("\n"));
    return EXIT.ok;
  },
};
