import { resolve } from "node:path";
import { bool, list, str, UsageError, type ParsedArgs } from "../args.js";
import { emit, EXIT, type Command, type CommandContext } from "../command.js";
import { flags } from "../flags.js";
import { UwsClient, type UwsJob } from "../../client/uws.js";
import { openSession } from "../../deploy/connect.js";
import { CliError } from "../../errors.js";
import { Progress } from "../../progress/index.js";
import { findCluster } from "../../state/load.js";
import { loadTarget } from "../../targets/registry.js";

export const run: Command = {
  usage: "JOB [-p NAME=VALUE]... [--file NAME=PATH]... [--wait] [--out DIR] (--spec FILE | --name NAME | --url URL --token TOKEN)",
  flags: [
    { name: "param", type: "list", short: "p", help: "a job parameter NAME=VALUE (also -p NAME=VALUE)" },
    { name: "file", type: "list", help: "a file parameter NAME=PATH, uploaded with the job" },
    { name: "wait", type: "boolean", help: "follow the job until it ends (a line per phase) and exit non-zero unless it COMPLETED" },
    { name: "out", type: "string", help: "with --wait: download every result into this folder" },
    { name: "timeout", type: "string", help: "with --wait: give up following after this many seconds", default: "3600" },
    ...clusterFlags(),
  ],
  details: [
    "JOB is a job definition (an application's or a shipped one: uws-cluster apps list). The job server is reached",
    "through the cluster's own door (an SSH tunnel to the head on the cloud) with the admin token of the state dir;",
    "or give --url and --token for any UWS job server. Exit 0 when the job COMPLETED (or was submitted, without",
    "--wait), 1 with the job's error summary when it ended in ERROR or ABORTED, 2 when the server refused a parameter.",
  ].join("\n"),
  async run(args, ctx) {
    const [job] = args.positional;
    if (!job) throw new UsageError("run needs a JOB, e.g. `uws-cluster run hello -p name=astronomer --wait --name local-demo`");
    const params = pairs(args, "param");
    const files = Object.fromEntries(Object.entries(pairs(args, "file")).map(([k, v]) => [k, resolve(ctx.cwd, v)]));
    const timeout = Number(str(args, "timeout"));
    if (!Number.isInteger(timeout) || timeout < 1) throw new UsageError(`--timeout must be a whole number of seconds, got ${str(args, "timeout")}`);
    if (str(args, "out") && !bool(args, "wait")) throw new UsageError("--out needs --wait (results exist once the job completed)");
    return withClient(args, ctx, async (client) => {
      const id = await client.submit(job, params, files);
      const link = `${client.base}/uws/${job}/${id}`;
      if (!bool(args, "wait")) {
        emit(ctx, { ok: true, job, jobId: id, url: link }, `submitted ${job} job ${id}: ${link}`);
        return EXIT.ok;
      }
      const t0 = Date.now();
      const say = (j: UwsJob) => { if (!ctx.json) ctx.stderr.write(`${job} ${id}: ${j.phase} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`); };
      const done = await client.follow(job, id, say, timeout * 1000);
      const out = str(args, "out");
      const downloaded = done.phase === "COMPLETED" && out ? await client.download(job, done, resolve(ctx.cwd, out)) : [];
      const ok = done.phase === "COMPLETED";
      const summary = done.errorSummary?.message ?? (done.phase === "ABORTED" ? "the job was aborted" : null);
      emit(ctx, { ok, job, jobId: id, phase: done.phase, error: ok ? null : summary, results: done.results.map((r) => ({ id: r.id, size: r.size, mimeType: r.mimeType })), downloaded },
        ok ? [`${job} ${id} COMPLETED: ${done.results.length} result(s)`, ...downloaded.map((d) => `  ${d.file} (${d.size} bytes)`)].join("\n")
          : `${job} ${id} ended in ${done.phase}: ${summary ?? "no error summary"}`);
      return ok ? EXIT.ok : EXIT.failure;
    });
  },
};

export const jobs: Command = {
  usage: "[JOB] [--phase PHASE]... [--last N] (--spec FILE | --name NAME | --url URL --token TOKEN)",
  flags: [
    { name: "phase", type: "list", help: "only jobs in this phase (PENDING, QUEUED, EXECUTING, COMPLETED, ERROR, ABORTED, …)" },
    { name: "last", type: "string", help: "the newest N jobs of each job definition", default: "20" },
    ...clusterFlags(),
  ],
  details: "Lists the jobs of one job definition, or of every definition, newest first (the admin token sees every owner's).",
  async run(args, ctx) {
    const last = Number(str(args, "last"));
    if (!Number.isInteger(last) || last < 1) throw new UsageError(`--last must be a whole number, got ${str(args, "last")}`);
    const phases = list(args, "phase").map((p) => p.toUpperCase());
    return withClient(args, ctx, async (client) => {
      const names = args.positional[0] ? [args.positional[0]] : (await client.definitions()).map((d) => d.name);
      const rows = [];
      for (const n of names) for (const j of await client.list(n, last, phases)) rows.push({ job: n, ...j });
      rows.sort((a, b) => b.creationTime.localeCompare(a.creationTime));
      emit(ctx, { ok: true, jobs: rows }, rows.length
        ? rows.map((r) => `${r.creationTime}  ${r.job.padEnd(16)} ${r.id.padEnd(14)} ${r.phase.padEnd(10)} ${r.ownerId ?? "-"}${r.runId ? `  runId=${r.runId}` : ""}`).join("\n")
        : "no jobs");
      return EXIT.ok;
    });
  },
};

function clusterFlags() {
  return [
    flags.spec, flags.name,
    { name: "url", type: "string" as const, help: "a job server's base URL instead of a cluster (with --token)" },
    { name: "token", type: "string" as const, help: "bearer token for --url (default: $UWS_TOKEN)" },
  ];
}

/** NAME=VALUE pairs of a repeatable flag (and -p, which the CLI maps to --param). */
function pairs(args: ParsedArgs, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list(args, flag)) {
    const eq = item.indexOf("=");
    if (eq < 1) throw new UsageError(`--${flag} takes NAME=VALUE, got ${JSON.stringify(item)}`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** A client for the job server of --url, or of the cluster of --spec/--name (through its door). */
async function withClient(args: ParsedArgs, ctx: CommandContext, fn: (c: UwsClient) => Promise<number>): Promise<number> {
  const url = str(args, "url");
  if (url) {
    const token = str(args, "token") ?? ctx.env.UWS_TOKEN;
    return fn(new UwsClient(url.replace(/\/+$/, ""), token));
  }
  const { cluster, state } = findCluster({ spec: str(args, "spec"), name: str(args, "name"), cwd: ctx.cwd, env: ctx.env, verb: "run/jobs (or give --url)" });
  if (!cluster) throw new CliError(`no cluster ${state.name} (nothing recorded in ${state.dir}); run up first, or give --url`);
  const progress = new Progress(ctx.stderr, "quiet");
  const session = await openSession(await loadTarget(cluster.target), { cluster, state, env: ctx.env, cwd: ctx.cwd, progress, args });
  try {
    return await fn(new UwsClient(session.url, str(args, "token") ?? session.token));
  } finally {
    await session.close();
  }
}
