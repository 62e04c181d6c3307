import { bool, str } from "../args.js";
import { emit, EXIT, type Command } from "../command.js";
import { flags } from "../flags.js";
import { connectCloud } from "../../targets/openstack/cloud/connect.js";
import { formatAge } from "../../targets/openstack/cloud/status.js";
import { reap as reapClusters } from "../../targets/openstack/cloud/sweep.js";
import { redact } from "../../targets/openstack/redact.js";

export const reap: Command = {
  usage: "[--dry-run] [--cloud NAME] [--json]",
  flags: [{ ...flags.dryRun, help: "show what would be deleted; delete nothing" }, flags.cloudAlone],
  details: [
    "Every resource carrying uws-cluster-id=<id> of a cluster whose uws-cluster-expires tag lies in the past is",
    "deleted (servers, floating IPs, ports, router interfaces, routers, subnets, networks, security groups,",
    "volumes, keypair, server group, application credentials). Clusters without an expiry are never reaped;",
    "resources without the tag are never touched. For cron/CI, e.g. nightly: uws-cluster reap --json",
    "Exit 0 when every expired cluster was removed completely, 1 when something is left (listed).",
  ].join("\n"),
  async run(args, ctx) {
    const dryRun = bool(args, "dry-run");
    const client = await connectCloud({ env: ctx.env, cwd: ctx.cwd, cloud: str(args, "cloud") });
    const log = (m: string) => { if (!ctx.json) ctx.stderr.write(m + "\n"); };
    const r = await reapClusters(client, {
      dryRun,
      onEvent: (e) => {
        if (e.type === "delete") log(`deleted ${e.kind} ${e.name || e.id} (cluster ${e.clusterId})`);
        else if (e.type === "error") log(`retrying: ${e.message}`);
      },
    });
    const out = {
      ok: r.ok, dryRun, project: client.session?.projectName ?? client.session?.projectId,
      clusters: r.clusters.map((c) => ({ name: c.name ?? null, id: c.id, expires: c.expires ?? null, expired: c.expired, ageSeconds: c.ageSeconds ?? null, resources: c.count })),
      reaped: r.sweeps.map((s) => ({ id: s.clusterId, ok: s.ok, deleted: s.deleted, remaining: s.remaining, errors: s.errors })),
      notes: r.notes,
    };
    const lines = [
      ...r.clusters.map((c) => `${c.expired ? (dryRun ? "would reap" : "reaped") : "kept"}  ${c.name ?? "?"} id=${c.id} age=${formatAge(c.ageSeconds)} expires=${c.expires ?? "never"} resources=${c.count}`),
      ...r.sweeps.flatMap((s) => dryRun ? s.deleted.map((d) => `  would delete ${d.kind} ${d.name || d.id}`)
        : s.remaining.map((d) => `  LEFT ${d.kind} ${d.name || d.id}`)),
      ...r.notes.map((n) => `note: ${n}`),
    ];
    if (!r.clusters.length) lines.unshift("no uws-cluster resources in this project");
    emit(ctx, redact(out), lines.join("\n"));
    return r.ok ? EXIT.ok : EXIT.failure;
  },
};
