/**
 * Teardown that leaves nothing: deletes every resource attributed to one cluster id (see
 * inventory.ts for the exact matching rules), in dependency order, and repeats whole rounds until a
 * fresh scan finds nothing or a generous deadline passes (15 min by default, UWS_CLUSTER_SWEEP_DEADLINE
 * to change it): a slow or faulty cloud only makes it take longer. Every call is bounded (the client's
 * per-attempt timeout and retries, and a bound on the whole call here); rounds are spaced by a
 * doubling pause with jitter; each round reports what is left. Only resources the scan attributed to
 * the id are ever deleted; untagged resources and other clusters' resources are never touched.
 * Nothing here needs the image or flavor, or any engine state.
 */
import { deleteVolume, getVolume } from "./blockstorage.js";
import { setTimeout as sleep } from "node:timers/promises";
import type { OpenStackClient } from "./client.js";
import { deleteKeypair, deleteServer, deleteServerGroup, detachVolume, getServer } from "./compute.js";
import { deleteApplicationCredential } from "./identity.js";
import { scanProject, summarize, type ClusterSummary, type Kind, type Resource, type Scan } from "./inventory.js";
import { remove, removeRouterInterface } from "./network.js";
import { redactText } from "../redact.js";
import { parseDuration } from "../../../../stacks/model/index.js";

/** How long a sweep keeps going by default: long enough for a slow, faulty cloud. */
export const SWEEP_DEADLINE_MS = 900_000;

/** The sweep deadline: UWS_CLUSTER_SWEEP_DEADLINE (a duration such as 30m, or seconds), else SWEEP_DEADLINE_MS. */
export function sweepDeadlineMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.UWS_CLUSTER_SWEEP_DEADLINE?.trim();
  if (!v) return SWEEP_DEADLINE_MS;
  const secs = /^\d+$/.test(v) ? Number(v) : parseDuration(v);
  if (secs === undefined || secs < 1) throw new Error(`UWS_CLUSTER_SWEEP_DEADLINE must be a duration such as 30m or a number of seconds, got ${JSON.stringify(v)}`);
  return secs * 1000;
}

/** The longest one delete (with the client's own retries) may take before the round moves on; the next round retries it. */
const CALL_BOUND_MS = 120_000;

export interface SweepEvent {
  type: "delete" | "would-delete" | "error" | "note" | "round";
  kind?: Kind | "router_interface";
  id?: string;
  name?: string;
  message?: string;
}

export interface SweepOptions {
  dryRun?: boolean;
  onEvent?: (e: SweepEvent) => void;
  /** Whole scan + delete rounds before giving up (default: no limit but the deadline). */
  maxRounds?: number;
  /** Overall bound in ms (default SWEEP_DEADLINE_MS, 15 min). */
  deadlineMs?: number;
  /** How long one round waits for deleted servers to disappear (default 120 s). */
  serverWaitMs?: number;
  /** Pause between rounds (default 2 s, doubling up to 15 s, ±50 % jitter). */
  roundPauseMs?: number;
  /** Bound on one delete call, retries included (default 120 s). */
  callBoundMs?: number;
}

export interface ResourceRef { kind: Kind | "router_interface"; id: string; name: string }

export interface SweepResult {
  clusterId: string;
  dryRun: boolean;
  /** Deleted (or, in a dry run, what would be deleted). */
  deleted: ResourceRef[];
  /** Still present when the sweep stopped (empty when ok). */
  remaining: ResourceRef[];
  notes: string[];
  errors: string[];
  rounds: number;
  ok: boolean;
}

const ref = (r: Resource): ResourceRef => ({ kind: r.kind, id: r.id, name: r.name });

export async function sweepCluster(c: OpenStackClient, clusterId: string, opts: SweepOptions = {}): Promise<SweepResult> {
  if (!/^[0-9a-z-]{4,64}$/i.test(clusterId)) throw new Error(`sweep: "${clusterId}" is not a cluster id`);
  const emit = opts.onEvent ?? (() => undefined);
  const result: SweepResult = { clusterId, dryRun: !!opts.dryRun, deleted: [], remaining: [], notes: [], errors: [], rounds: 0, ok: false };
  const note = (m: string) => { if (!result.notes.includes(m)) { result.notes.push(m); emit({ type: "note", message: m }); } };
  const deletedKeys = new Set<string>();
  const done = (r: ResourceRef) => {
    const k = `${r.kind}/${r.id}`;
    if (!deletedKeys.has(k)) { deletedKeys.add(k); result.deleted.push(r); }
    emit({ type: opts.dryRun ? "would-delete" : "delete", kind: r.kind, id: r.id, name: r.name });
  };
  const fail = (r: ResourceRef, e: unknown) => {
    const m = `${r.kind} ${r.name || r.id}: ${redactText((e as Error).message)}`;
    result.errors.push(m);
    emit({ type: "error", kind: r.kind, id: r.id, name: r.name, message: m });
  };

  const maxRounds = opts.maxRounds ?? Number.POSITIVE_INFINITY;
  const deadline = Date.now() + (opts.deadlineMs ?? SWEEP_DEADLINE_MS);
  let pause = opts.roundPauseMs ?? 2_000;
  let scan: Scan | undefined;
  for (let round = 1; ; round++) {
    result.rounds = round;
    emit({ type: "round", message: `round ${round}` });
    try {
      scan = await scanProject(c, { onlyId: clusterId });
      for (const n of scan.notes) note(n);
    } catch (e) {
      result.errors.push(`scan: ${redactText((e as Error).message)}`);
      emit({ type: "error", message: `scan failed: ${redactText((e as Error).message)}` });
      scan = undefined;
    }
    if (scan && scan.resources.length === 0) { result.ok = true; break; }
    if (scan) emit({ type: "round", message: `round ${round}: ${scan.resources.length} tagged resource(s) left (${countKinds(scan.resources)})` });
    if (scan && opts.dryRun) {
      for (const r of scan.resources) done(ref(r));
      for (const r of scan.resources.filter((x) => x.kind === "router")) {
        for (const p of scan.routerInterfaces.get(r.id) ?? []) done({ kind: "router_interface", id: p, name: `${r.name} interface` });
      }
      result.remaining = scan.resources.map(ref);
      result.ok = true;
      return result;
    }
    if (scan) await deleteRound(c, scan, { done, fail, note, serverWaitMs: opts.serverWaitMs ?? 120_000, deadline, callBoundMs: opts.callBoundMs ?? CALL_BOUND_MS });
    if (round >= maxRounds || Date.now() >= deadline) break;
    // Jitter keeps concurrent sweeps (CI jobs, reap) from hitting a struggling API in step.
    await sleep(Math.min(Math.round(pause * (0.5 + Math.random())), Math.max(0, deadline - Date.now())));
    pause = Math.min(pause * 2, 15_000);
  }
  if (!result.ok) {
    // One last look, so `remaining` is exact even when the last round's scan failed.
    try {
      const last = await scanProject(c, { onlyId: clusterId });
      result.remaining = last.resources.map(ref);
      result.ok = result.remaining.length === 0;
    } catch (e) {
      result.errors.push(`final scan: ${redactText((e as Error).message)}`);
      result.remaining = scan?.resources.map(ref) ?? [];
    }
  }
  return result;
}

interface RoundCtx {
  done: (r: ResourceRef) => void;
  fail: (r: ResourceRef, e: unknown) => void;
  note: (m: string) => void;
  serverWaitMs: number;
  deadline: number;
  callBoundMs: number;
}

/** "2 server, 1 port" */
function countKinds(rs: Resource[]): string {
  const n = new Map<string, number>();
  for (const r of rs) n.set(r.kind, (n.get(r.kind) ?? 0) + 1);
  return [...n].map(([k, v]) => `${v} ${k}`).join(", ");
}

/** Rejects when `p` takes longer than `ms` (the call may still finish; the next round rescans). */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${Math.round(ms / 1000)} s`)), ms); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function deleteRound(c: OpenStackClient, scan: Scan, x: RoundCtx): Promise<void> {
  const of = (k: Kind) => scan.resources.filter((r) => r.kind === k);
  const each = async (items: Resource[], del: (r: Resource) => Promise<unknown>) => {
    // A few at a time: fast on big clusters, gentle on small clouds.
    const queue = [...items];
    await Promise.all(Array.from({ length: Math.min(4, queue.length) }, async () => {
      for (let r = queue.shift(); r; r = queue.shift()) {
        try { await bounded(Promise.resolve().then(() => del(r)), x.callBoundMs, `deleting ${r.kind} ${r.name || r.id}`); x.done(ref(r)); } catch (e) { x.fail(ref(r), e); }
      }
    }));
  };

  // 1. servers, then wait until they are gone (ports and volumes stay busy until then)
  const servers = of("server");
  await each(servers, (r) => deleteServer(c, r.id));
  const until = Math.min(Date.now() + x.serverWaitMs, x.deadline);
  for (const s of servers) {
    while (Date.now() < until) {
      try { if (!(await getServer(c, s.id))) break; } catch { /* the next round rescans */ }
      await sleep(500);
    }
  }
  // 2. volumes: detach from whatever still holds them, then delete
  const volumes = of("volume");
  if (volumes.length) {
    await each(volumes, async (r) => {
      for (const a of r.extra?.attachments ?? []) await detachVolume(c, a.serverId, r.id).catch(() => undefined);
      const t = Math.min(Date.now() + 60_000, x.deadline);
      for (;;) {
        const v = await getVolume(c, r.id);
        if (!v || !["in-use", "detaching", "attaching", "deleting", "creating"].includes(v.status) || Date.now() > t) break;
        await sleep(1000);
      }
      await deleteVolume(c, r.id);
    });
  }
  // 3. floating IPs the cluster allocated (tagged), 4. ports
  await each(of("floatingip"), (r) => remove(c, "floatingip", r.id));
  await each(of("port"), (r) => remove(c, "port", r.id));
  // 5. interfaces of the cluster's routers, 6. routers (the gateway goes with the router)
  for (const r of of("router")) {
    for (const portId of scan.routerInterfaces.get(r.id) ?? []) {
      const it: ResourceRef = { kind: "router_interface", id: portId, name: `${r.name} interface` };
      try { await removeRouterInterface(c, r.id, portId); x.done(it); } catch (e) { x.fail(it, e); }
    }
  }
  await each(of("router"), (r) => remove(c, "router", r.id));
  // 7. subnets, 8. networks, 9. security groups
  await each(of("subnet"), (r) => remove(c, "subnet", r.id));
  await each(of("network"), (r) => remove(c, "network", r.id));
  await each(of("security_group"), (r) => remove(c, "security_group", r.id));
  // 10. keypair, server group, application credentials
  await each(of("keypair"), (r) => deleteKeypair(c, r.name));
  await each(of("server_group"), (r) => deleteServerGroup(c, r.id));
  await each(of("application_credential"), (r) => deleteApplicationCredential(c, r.id));
}

/** Clusters in the project, found by tag: name, id, expiry, resources by kind, age. */
export async function listClusters(c: OpenStackClient, opts: { now?: Date } = {}): Promise<{ clusters: ClusterSummary[]; notes: string[] }> {
  const scan = await scanProject(c);
  return { clusters: summarize(scan, opts.now), notes: scan.notes };
}

export interface ReapResult {
  clusters: ClusterSummary[];
  expired: string[];
  sweeps: SweepResult[];
  notes: string[];
  ok: boolean;
}

/** Sweeps every cluster whose `uws-cluster-expires` has passed; clusters without an expiry are kept. */
export async function reap(c: OpenStackClient, opts: { now?: Date; dryRun?: boolean; onEvent?: (e: SweepEvent & { clusterId: string }) => void; sweep?: SweepOptions } = {}): Promise<ReapResult> {
  const now = opts.now ?? new Date();
  const { clusters, notes } = await listClusters(c, { now });
  const expired = clusters.filter((s) => s.expired);
  const sweeps: SweepResult[] = [];
  for (const s of expired) {
    sweeps.push(await sweepCluster(c, s.id, { ...opts.sweep, dryRun: opts.dryRun, onEvent: (e) => opts.onEvent?.({ ...e, clusterId: s.id }) }));
  }
  return { clusters, expired: expired.map((s) => s.id), sweeps, notes, ok: sweeps.every((s) => s.ok) };
}
