/**
 * Reduces the renderings of a cluster (Terraform, Pulumi, the test cloud builder) to the same neutral form so they can be compared:
 * one entry per resource/data source, keyed by Terraform type + identity (OpenStack name, else the
 * construct/logical name), with snake_case arguments and references written as
 * `ref:<type>:<identity>[.attr]` (a reference to a `.name` becomes the literal name).
 */
import type { Step as BuilderStep } from "../targets/openstack/cloud/build.js";
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

/**
 * The test cloud builder's plan (test/targets/openstack/cloud/build.ts: the API calls it makes) in the
 * same neutral form: Neutron/Nova request fields renamed to the Terraform arguments they set, step
 * references written `ref:<type>:<identity>`, the external network as Terraform's data source, and
 * the floating IP's port (set on create) as the association resource Terraform declares.
 */
export function fromBuilder(steps: BuilderStep[]): NormResource[] {
  const byKey = new Map(steps.map((s) => [s.key, s]));
  const kindOf = (s: BuilderStep) => BUILDER_KINDS[s.kind];
  const identOf = (s: BuilderStep) => String(s.body.name ?? s.key);
  const norm = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (typeof o.step === "string") {
        const target = byKey.get(o.step);
        return target ? `ref:${kindOf(target)}:${identOf(target)}` : `ref:?:${o.step}`;
      }
      if (o.lookup === "external-network") return `ref:data.openstack_networking_network_v2:${(o.ref as { value: string }).value}`;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(o)) if (x !== undefined && x !== null) out[k] = norm(x);
      return out;
    }
    return v;
  };
  const lookupArg = (prefix: "image" | "flavor", v: unknown): Record<string, unknown> => {
    const { ref } = v as { ref: { by: "id" | "name"; value: string } };
    return { [`${prefix}_${ref.by}`]: ref.value };
  };
  const out: NormResource[] = [];
  for (const s of steps) {
    const b = norm(s.body) as Record<string, any>;
    const args: Record<string, unknown> = {};
    const set = (k: string, v: unknown) => { if (v !== undefined) args[k] = v; };
    switch (s.kind) {
      case "subnet": {
        const { allocation_pools, ...rest } = b;
        Object.assign(args, rest);
        set("allocation_pool", allocation_pools);
        break;
      }
      case "router": {
        const { external_gateway_info, ...rest } = b;
        Object.assign(args, rest);
        set("external_network_id", external_gateway_info?.network_id);
        break;
      }
      case "port": {
        const { fixed_ips, security_groups, ...rest } = b;
        Object.assign(args, rest);
        set("fixed_ip", fixed_ips);
        set("security_group_ids", security_groups);
        break;
      }
      case "server_group":
        set("name", b.name);
        set("policies", [b.policy]);
        break;
      case "server":
        set("name", b.name);
        Object.assign(args, lookupArg("image", s.body.imageRef), lookupArg("flavor", s.body.flavorRef));
        set("key_pair", b.keyName);
        set("availability_zone", b.availabilityZone);
        set("network", (b.ports as string[]).map((port) => ({ port })));
        set("metadata", b.metadata);
        set("tags", b.tags);
        set("user_data", b.userData);
        set("scheduler_hints", b.serverGroupId ? [{ group: b.serverGroupId }] : undefined);
        break;
      case "floatingip": {
        const { floating_network_id, port_id, ...rest } = b;
        Object.assign(args, rest);
        set("pool", String(floating_network_id).replace(/^ref:data\.openstack_networking_network_v2:/, ""));
        out.push({ kind: "openstack_networking_floatingip_associate_v2", ident: `${s.key}-associate`, args: { floating_ip: `ref:${kindOf(s)}:${identOf(s)}.address`, port_id } });
        break;
      }
      default:
        Object.assign(args, b);
    }
    if (s.tags) args.tags = s.tags;
    out.push({ kind: kindOf(s), ident: identOf(s), args });
  }
  return out;
}

/** The builder's step kinds (API collections) → Terraform resource types. */
const BUILDER_KINDS: Record<BuilderStep["kind"], string> = {
  network: "openstack_networking_network_v2",
  subnet: "openstack_networking_subnet_v2",
  router: "openstack_networking_router_v2",
  router_interface: "openstack_networking_router_interface_v2",
  security_group: "openstack_networking_secgroup_v2",
  security_group_rule: "openstack_networking_secgroup_rule_v2",
  port: "openstack_networking_port_v2",
  floatingip: "openstack_networking_floatingip_v2",
  keypair: "openstack_compute_keypair_v2",
  server_group: "openstack_compute_servergroup_v2",
  server: "openstack_compute_instance_v2",
};

/**
 * What the builder is held to, per Terraform type: these arguments must be equal (a missing one on
 * either side counts). The rest are an engine's business: user_data and the keypair's public key are
 * inputs of `up` (the builder lets Nova generate a key), data sources are looked up when the plan runs,
 * and volumes are not built (the test cloud has no Cinder).
 */
export const BUILDER_ARGS: Record<string, string[]> = {
  openstack_networking_network_v2: ["name", "description", "admin_state_up", "tags"],
  openstack_networking_subnet_v2: ["name", "network_id", "cidr", "ip_version", "gateway_ip", "enable_dhcp", "dns_nameservers", "allocation_pool", "description", "tags"],
  openstack_networking_router_v2: ["name", "description", "admin_state_up", "external_network_id", "tags"],
  openstack_networking_router_interface_v2: ["router_id", "subnet_id"],
  openstack_networking_secgroup_v2: ["name", "description", "tags"],
  openstack_networking_secgroup_rule_v2: ["security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix", "remote_group_id", "description"],
  openstack_networking_port_v2: ["name", "network_id", "admin_state_up", "description", "fixed_ip", "security_group_ids", "tags"],
  openstack_networking_floatingip_v2: ["pool", "description", "tags"],
  openstack_networking_floatingip_associate_v2: ["floating_ip", "port_id"],
  openstack_compute_keypair_v2: ["name"],
  openstack_compute_servergroup_v2: ["name", "policies"],
  openstack_compute_instance_v2: ["name", "image_id", "image_name", "flavor_id", "flavor_name", "key_pair", "availability_zone", "network", "metadata", "tags", "scheduler_hints"],
};

/** Every difference between the Terraform stack and the builder's plan on BUILDER_ARGS; [] when they agree. */
export function diffBuilder(terraform: NormResource[], builder: NormResource[]): string[] {
  const problems: string[] = [];
  const built = terraform.filter((r) => BUILDER_ARGS[r.kind]);
  const t = new Map(built.map((r) => [key(r), r]));
  const b = new Map<string, NormResource>();
  for (const r of builder) {
    if (b.has(key(r))) problems.push(`builder: ${key(r)} declared twice`);
    b.set(key(r), r);
  }
  for (const k of t.keys()) if (!b.has(k)) problems.push(`only in terraform: ${k}`);
  for (const k of b.keys()) if (!t.has(k)) problems.push(`only in the builder: ${k}`);
  for (const [k, tr] of t) {
    const br = b.get(k);
    if (!br) continue;
    for (const arg of BUILDER_ARGS[tr.kind]!) {
      const x = JSON.stringify(canonical(tr.args[arg]));
      const y = JSON.stringify(canonical(br.args[arg]));
      if (x !== y) problems.push(`${k}: ${arg} differs: terraform ${x ?? "(unset)"} vs builder ${y ?? "(unset)"}`);
    }
  }
  return problems;
}
