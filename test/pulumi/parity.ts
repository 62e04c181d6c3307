/**
 * Reduces both renderings of a cluster to the same neutral form so they can be compared:
 * one entry per resource/data source, keyed by Terraform type + identity (OpenStack name, else the
 * construct/logical name), with snake_case arguments and references written as
 * `ref:<type>:<identity>[.attr]` (a reference to a `.name` becomes the literal name).
 */
import type { MockRun } from "./mock-run.js";
import { PULUMI_TO_TERRAFORM, toSnake } from "./type-map.js";

export interface NormResource {
  kind: string;
  ident: string;
  args: Record<string, unknown>;
}

export interface NormRule {
  group: unknown;
  direction: unknown;
  ethertype: unknown;
  protocol: unknown;
  portMin: unknown;
  portMax: unknown;
  remoteCidr: unknown;
  remoteGroup: unknown;
}

type TF = Record<string, any>;
const IGNORED_TF_KEYS = new Set(["//", "depends_on", "lifecycle", "provider", "count", "for_each"]);

function dataIdent(args: Record<string, unknown>, fallback: string): string {
  return String(args.name ?? args.subnet_id ?? args.network_id ?? fallback);
}

export function fromTerraform(tf: TF): NormResource[] {
  interface Entry { kind: string; uid: string; body: TF; data: boolean; ident?: string; args?: Record<string, unknown> }
  const byAddress = new Map<string, Entry>();
  for (const [section, data] of [["resource", false], ["data", true]] as const) {
    for (const [type, instances] of Object.entries((tf[section] ?? {}) as Record<string, Record<string, TF>>)) {
      for (const [uid, body] of Object.entries(instances)) {
        const kind = data ? `data.${type}` : type;
        byAddress.set(`${kind}.${uid}`, { kind, uid, body, data });
      }
    }
  }
  const identOf = (e: Entry): string => {
    if (e.ident) return e.ident;
    const logical = String(e.body["//"]?.metadata?.path ?? e.uid).split("/").pop()!;
    e.ident = e.data ? dataIdent(argsOf(e), logical) : String(e.body.name ?? logical);
    return e.ident;
  };
  const resolveRef = (s: string): unknown => {
    const m = /^\$\{((?:data\.)?[a-z0-9_]+\.[^.}]+)\.([a-z0-9_]+)\}$/.exec(s);
    if (!m) return s;
    const target = byAddress.get(m[1]!);
    if (!target) return s;
    if (m[2] === "name" && target.body.name !== undefined) return target.body.name;
    return m[2] === "id" ? `ref:${target.kind}:${identOf(target)}` : `ref:${target.kind}:${identOf(target)}.${m[2]}`;
  };
  const norm = (v: unknown, key?: string): unknown => {
    if (typeof v === "string") return resolveRef(v);
    if (Array.isArray(v)) return v.map((x) => norm(x));
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (!IGNORED_TF_KEYS.has(k) && x !== undefined && x !== null) out[k] = norm(x, k);
      return out;
    }
    void key;
    return v;
  };
  const argsOf = (e: Entry): Record<string, unknown> => (e.args ??= norm(e.body) as Record<string, unknown>);
  return [...byAddress.values()].map((e) => ({ kind: e.kind, ident: identOf(e), args: argsOf(e) }));
}

/** Keys inside these maps are user data (tag keys), not argument names. */
const VERBATIM_MAPS = new Set(["metadata", "value_specs"]);

function snakeDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(snakeDeep);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined || x === null) continue;
      const sk = toSnake(k);
      out[sk] = VERBATIM_MAPS.has(sk) ? x : snakeDeep(x);
    }
    return out;
  }
  return v;
}

export function fromPulumi(run: MockRun): NormResource[] {
  const out: NormResource[] = [];
  for (const r of run.resources) {
    const kind = PULUMI_TO_TERRAFORM[r.type];
    if (!kind) continue; // providers and uws-cluster component resources have no Terraform counterpart
    out.push({ kind, ident: String(r.inputs.name ?? r.name), args: snakeDeep(r.inputs) as Record<string, unknown> });
  }
  for (const c of run.calls) {
    const kind = PULUMI_TO_TERRAFORM[c.token];
    if (!kind) throw new Error(`parity: no Terraform data source mapped for ${c.token}`);
    const args = snakeDeep(c.inputs) as Record<string, unknown>;
    out.push({ kind, ident: dataIdent(args, c.token), args });
  }
  return out;
}

export function securityRules(resources: NormResource[]): NormRule[] {
  return resources.filter((r) => r.kind === "openstack_networking_secgroup_rule_v2").map((r) => ({
    group: r.args.security_group_id, direction: r.args.direction, ethertype: r.args.ethertype, protocol: r.args.protocol,
    portMin: r.args.port_range_min, portMax: r.args.port_range_max, remoteCidr: r.args.remote_ip_prefix, remoteGroup: r.args.remote_group_id,
  })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

const key = (r: NormResource) => `${r.kind} ${r.ident}`;

/** Every difference between the two renderings, in words; [] when they declare the same thing. */
export function diffParity(terraform: NormResource[], pulumi: NormResource[]): string[] {
  const problems: string[] = [];
  const index = (list: NormResource[], side: string) => {
    const m = new Map<string, NormResource>();
    for (const r of list) {
      if (m.has(key(r))) problems.push(`${side}: ${key(r)} declared twice`);
      m.set(key(r), r);
    }
    return m;
  };
  const t = index(terraform, "terraform");
  const p = index(pulumi, "pulumi");
  for (const k of t.keys()) if (!p.has(k)) problems.push(`only in terraform: ${k}`);
  for (const k of p.keys()) if (!t.has(k)) problems.push(`only in pulumi: ${k}`);
  for (const [k, tr] of t) {
    const pr = p.get(k);
    if (!pr) continue;
    for (const arg of new Set([...Object.keys(tr.args), ...Object.keys(pr.args)])) {
      const a = JSON.stringify(canonical(tr.args[arg]));
      const b = JSON.stringify(canonical(pr.args[arg]));
      if (a !== b) problems.push(`${k}: ${arg} differs: terraform ${a ?? "(unset)"} vs pulumi ${b ?? "(unset)"}`);
    }
  }
  return problems;
}

/** Object keys sorted, so key order (which neither engine gives meaning to) does not count. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}
