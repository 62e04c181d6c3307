import { parse as parseYaml, YAMLParseError } from "yaml";
import { Reader } from "./check.js";
import { SpecError } from "./errors.js";
import { parseDuration } from "./duration.js";
import { cidrSize, parseCidr, parseIpv4 } from "./net.js";
import { AAI_PRESETS } from "./presets.js";
import type { AaiSpec, ClusterSpec, KeypairSpec, NetworkSpec, RoleSpec, SecretSource, VolumeSpec } from "./spec.js";

export const NAME_PATTERN = /^[a-z][0-9a-z-]{1,40}$/;
export const MAX_COMPUTE = 500;
/** Private addresses below this offset in a created subnet are left to the gateway and DHCP. */
export const FIRST_NODE_OFFSET = 10;

const TOP_KEYS = ["name", "id", "ttl", "target", "openstack", "head", "compute", "network", "access", "volume",
  "serverGroup", "slurm", "jobserver", "aai", "dns", "local", "machines", "apps"] as const;

/** Parses spec text (YAML, of which JSON is a subset) and validates it; throws SpecError. */
export function parseSpec(text: string, source?: string): ClusterSpec {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    const msg = e instanceof YAMLParseError ? e.message.split("\n")[0] : String(e);
    throw new SpecError([{ field: "(file)", message: `not valid YAML/JSON: ${msg}` }], source);
  }
  return validateSpec(raw, source);
}

/** Validates untyped input into a ClusterSpec with every default filled in; throws SpecError. */
export function validateSpec(raw: unknown, source?: string): ClusterSpec {
  const r = new Reader();
  const spec = readSpec(r, raw);
  if (r.issues.length > 0 || !spec) throw new SpecError(r.issues, source);
  return spec;
}

function readSpec(r: Reader, raw: unknown): ClusterSpec | undefined {
  const top = r.object(raw, "(top level)");
  if (!top) return undefined;
  r.noUnknownKeys(top, "", TOP_KEYS);

  const name = r.string(top.name, "name", { pattern: NAME_PATTERN, hint: "lower-case letter, then 1-40 of a-z 0-9 -" });
  const id = top.id === undefined ? undefined
    : r.string(top.id, "id", { pattern: /^[0-9a-f]{8,32}$/, hint: "8-32 lower-case hex digits; omit it to have one generated" });
  let ttl: string | undefined;
  if (top.ttl !== undefined && top.ttl !== null && top.ttl !== "none") {
    if (typeof top.ttl !== "string" || parseDuration(top.ttl) === undefined) {
      r.fail("ttl", `must be a duration such as 90m, 8h, 2d or 1h30m (or none), got ${JSON.stringify(top.ttl)}`);
    } else ttl = top.ttl;
  }
  const target = top.target === undefined ? "openstack" : r.oneOf(top.target, "target", ["openstack", "local", "machines"] as const) ?? "openstack";

  const os = top.openstack === undefined ? {} : r.object(top.openstack, "openstack") ?? {};
  r.noUnknownKeys(os, "openstack", ["externalNetwork", "region", "availabilityZone", "sshUser"]);
  const openstack = {
    externalNetwork: os.externalNetwork === undefined ? undefined : r.string(os.externalNetwork, "openstack.externalNetwork"),
    region: os.region === undefined ? undefined : r.string(os.region, "openstack.region"),
    availabilityZone: os.availabilityZone === undefined ? undefined : r.string(os.availabilityZone, "openstack.availabilityZone"),
    sshUser: os.sshUser === undefined ? "debian" : r.string(os.sshUser, "openstack.sshUser", { pattern: /^[a-z_][a-z0-9_-]{0,31}$/ }) ?? "debian",
  };

  const head = readRole(r, top.head, "head", undefined, target !== "openstack");
  const computeRaw = r.object(top.compute ?? {}, "compute") ?? {};
  const size = readComputeSize(r, computeRaw, target);
  const count = size?.count;
  const { count: _count, min: _min, max: _max, idle: _idle, resumeTimeout: _rt, ...computeRole } = computeRaw;
  void _count; void _min; void _max; void _idle; void _rt;
  const computeBase = readRole(r, computeRole, "compute", head, target !== "openstack", []);

  const network = readNetwork(r, top.network, target);
  if (network && "create" in network && count !== undefined) {
    const c = parseCidr(network.create.cidr)!;
    const needed = FIRST_NODE_OFFSET + 1 + count + 1; // reserved, head, computes, broadcast
    if (cidrSize(c) < needed) {
      r.fail("network.create.cidr", `${network.create.cidr} holds ${cidrSize(c)} addresses but 1 head + ${count} compute nodes need ${needed}; use a larger subnet (e.g. a /${32 - Math.ceil(Math.log2(needed))})`);
    }
  }
  if (target === "openstack" && network && "create" in network && !openstack.externalNetwork) {
    r.fail("openstack.externalNetwork", "is required when network.create is used (the router's external gateway), e.g. externalNetwork: public");
  }

  const access = readAccess(r, top.access, target);
  const volume = readVolume(r, top.volume);
  const serverGroup = top.serverGroup === undefined ? "soft-anti-affinity"
    : r.oneOf(top.serverGroup, "serverGroup", ["anti-affinity", "soft-anti-affinity", "none"] as const);

  const slurmRaw = r.object(top.slurm ?? {}, "slurm") ?? {};
  r.noUnknownKeys(slurmRaw, "slurm", ["partition"]);
  const partition = slurmRaw.partition === undefined ? "batch"
    : r.string(slurmRaw.partition, "slurm.partition", { pattern: /^[A-Za-z][A-Za-z0-9_-]{0,30}$/ });

  const js = r.object(top.jobserver ?? {}, "jobserver") ?? {};
  r.noUnknownKeys(js, "jobserver", ["auth", "port", "uploadLimitMb"]);
  const aai = top.aai === undefined ? undefined : readAai(r, top.aai);
  const defaultAuth = aai ? "oidc" : "tokens";
  const auth = js.auth === undefined ? defaultAuth : r.oneOf(js.auth, "jobserver.auth", ["oidc", "tokens", "none"] as const);
  if (auth === "oidc" && !aai && top.aai === undefined) r.fail("aai", "is required when jobserver.auth is oidc: add an aai section (preset: eduteams | egi-checkin | orcid | generic)");
  const port = js.port === undefined ? 8080 : r.int(js.port, "jobserver.port", 1024, 65535);
  const uploadLimitMb = js.uploadLimitMb === undefined ? 100 : r.int(js.uploadLimitMb, "jobserver.uploadLimitMb", 1, 100_000);

  let dns: ClusterSpec["dns"];
  if (top.dns !== undefined) {
    const d = r.object(top.dns, "dns") ?? {};
    r.noUnknownKeys(d, "dns", ["name", "email"]);
    const dname = r.string(d.name, "dns.name", { pattern: /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, hint: "a fully qualified DNS name such as jobs.example.org" });
    const email = r.string(d.email, "dns.email", { pattern: /^[^@\s]+@[^@\s]+\.[^@\s]+$/, hint: "the Let's Encrypt account e-mail" });
    if (dname && email) dns = { name: dname, email };
  }

  const lo = r.object(top.local ?? {}, "local") ?? {};
  r.noUnknownKeys(lo, "local", ["subnet"]);
  let localSubnet: string | undefined;
  if (lo.subnet !== undefined && lo.subnet !== "auto") {
    const s = r.string(lo.subnet, "local.subnet");
    const c = s ? parseCidr(s) : undefined;
    if (s && (!c || c.prefix !== 24 || !isPrivate(c.base))) r.fail("local.subnet", `must be a private /24 such as 10.123.4.0/24 (or auto), got ${JSON.stringify(s)}`);
    else localSubnet = s;
  }
  const mo = r.object(top.machines ?? {}, "machines") ?? {};
  r.noUnknownKeys(mo, "machines", ["release", "subnet"]);
  const release = mo.release === undefined ? "bookworm" : r.oneOf(mo.release, "machines.release", ["bookworm", "trixie"] as const) ?? "bookworm";
  let machinesSubnet: string | undefined;
  if (mo.subnet !== undefined && mo.subnet !== "auto") {
    const s = r.string(mo.subnet, "machines.subnet");
    const c = s ? parseCidr(s) : undefined;
    if (s && (!c || c.prefix !== 24 || !isPrivate(c.base))) r.fail("machines.subnet", `must be a private /24 such as 10.123.4.0/24 (or auto), got ${JSON.stringify(s)}`);
    else machinesSubnet = s;
  }
  // Each booted node holds ~300 MiB of disk and its own systemd, Slurm and munge.
  if (target === "machines" && size && count !== undefined && (count > 20 || size.elastic)) {
    r.fail(size.elastic ? "compute.min" : "compute.count", size.elastic ? "elastic compute nodes are not available on the machines target; use count" : `the machines target boots at most 20 compute nodes on one machine, got ${count}`);
  }
  // The power agent's application credential expires with the cluster: an elastic cloud cluster needs an expiry.
  if (target === "openstack" && size?.elastic && !ttl) {
    r.fail("ttl", "elastic compute nodes on openstack need a ttl: the power agent's OpenStack credential expires with the cluster (e.g. ttl: 7d)");
  }
  if (target === "local" && size && count !== undefined && count > 200) {
    r.fail(size.elastic ? "compute.max" : "compute.count", `the local target runs at most 200 compute nodes on one machine, got ${count}`);
  }

  let apps: string[] = [];
  if (top.apps !== undefined) {
    apps = r.stringList(top.apps, "apps", (s, p) => r.string(s, p, { pattern: /^[^\0\n]{1,4096}$/, hint: "a folder (relative to the spec file) holding the application's job definitions and app.yaml" })) ?? [];
    const names = apps.map((a) => a.replace(/\/+$/, "").split("/").pop()!);
    names.forEach((n, i) => {
      if (!/^[a-z][a-z0-9-]{0,40}$/.test(n)) r.fail(`apps[${i}]`, `the folder's name is the application's name and must match ^[a-z][a-z0-9-]{0,40}$, got ${JSON.stringify(n)}`);
      else if (names.indexOf(n) !== i) r.fail(`apps[${i}]`, `a second application named ${JSON.stringify(n)}: application folders need distinct names`);
    });
  }

  if (r.issues.length > 0) return undefined;
  return {
    name: name!, id, ttl, target: target!,
    openstack: openstack as ClusterSpec["openstack"],
    head: head!, compute: { ...computeBase!, count: count!, min: size!.min, max: size!.max, idle: size!.idle, resumeTimeout: size!.resumeTimeout },
    network: network!, access: access!, volume: volume!, serverGroup: serverGroup!,
    slurm: { partition: partition! },
    jobserver: { auth: auth!, port: port!, uploadLimitMb: uploadLimitMb! },
    aai, dns, local: { subnet: localSubnet }, machines: { release, ...(machinesSubnet ? { subnet: machinesSubnet } : {}) }, apps,
  };
}

/** The longest a node may stay idle or take to come up: a day (Slurm counts both in seconds). */
const MAX_POWER_SECONDS = 86_400;

/**
 * compute.count (a fixed size) or compute.min/max (elastic: nodes above min powered on demand),
 * with compute.idle and compute.resumeTimeout as durations (`10m`, `90s`).
 */
function readComputeSize(r: Reader, o: Record<string, unknown>, target: string):
  { count: number; min: number; max: number; idle: string; resumeTimeout: string; elastic: boolean } | undefined {
  const elastic = o.min !== undefined || o.max !== undefined;
  if (elastic && o.count !== undefined) {
    return r.fail("compute.count", "set either count (a fixed number of compute nodes) or min and max (elastic: nodes above min are powered on demand), not both");
  }
  let min: number | undefined, max: number | undefined;
  if (!elastic) {
    min = max = o.count === undefined ? 1 : r.int(o.count, "compute.count", 0, MAX_COMPUTE);
  } else {
    max = o.max === undefined ? r.fail("compute.max", "is required with compute.min: the most compute nodes Slurm may power up, e.g. max: 4")
      : r.int(o.max, "compute.max", 1, MAX_COMPUTE);
    min = o.min === undefined ? 0 : r.int(o.min, "compute.min", 0, MAX_COMPUTE);
    if (min !== undefined && max !== undefined && min > max) r.fail("compute.min", `must not exceed compute.max (${max}), got ${min}`);
  }
  const duration = (field: "idle" | "resumeTimeout", dflt: string, least: number): string | undefined => {
    const v = o[field];
    if (v === undefined) return dflt;
    const secs = typeof v === "string" ? parseDuration(v) : undefined;
    if (secs === undefined || secs < least || secs > MAX_POWER_SECONDS) {
      return r.fail(`compute.${field}`, `must be a duration from ${least}s to 1d such as 10m, 90s or 1h30m, got ${JSON.stringify(v)}`);
    }
    return v as string;
  };
  // A cloud VM boots in minutes; a local namespace node in about a second.
  const idle = duration("idle", "10m", 1);
  const resumeTimeout = duration("resumeTimeout", target === "local" ? "60s" : "10m", 5);
  for (const f of ["idle", "resumeTimeout"] as const) {
    if (o[f] !== undefined && min !== undefined && max !== undefined && min === max) r.fail(`compute.${f}`, "only applies to elastic compute nodes: set compute.min below compute.max (or remove it)");
  }
  if (min === undefined || max === undefined || idle === undefined || resumeTimeout === undefined) return undefined;
  return { count: max, min, max, idle, resumeTimeout, elastic: min < max };
}

function isPrivate(ip: number): boolean {
  return (ip >>> 24) === 10 || (ip >>> 20) === (172 << 4 | 1) || (ip >>> 16) === (192 << 8 | 168);
}

function readRole(r: Reader, raw: unknown, path: string, fallback: RoleSpec | undefined, local: boolean, extra: string[] = []): RoleSpec | undefined {
  const o = r.object(raw ?? {}, path);
  if (!o) return undefined;
  r.noUnknownKeys(o, path, ["image", "flavor", "cpus", "memoryMb", ...extra]);
  // The local target has no images or flavors: nodes are namespaces on this machine.
  const placeholder = local ? "local" : undefined;
  const image = o.image !== undefined ? r.string(o.image, `${path}.image`)
    : fallback?.image ?? placeholder ?? r.fail(`${path}.image`, "is required: the name or id of a Glance image, e.g. image: Debian-12");
  const flavor = o.flavor !== undefined ? r.string(o.flavor, `${path}.flavor`)
    : fallback?.flavor ?? placeholder ?? r.fail(`${path}.flavor`, "is required: the name of a Nova flavor, e.g. flavor: m1.medium");
  const cpus = o.cpus === undefined ? fallback?.cpus ?? 1 : r.int(o.cpus, `${path}.cpus`, 1, 1024);
  const memoryMb = o.memoryMb === undefined ? fallback?.memoryMb ?? 1024 : r.int(o.memoryMb, `${path}.memoryMb`, 256, 16_777_216);
  if (image === undefined || flavor === undefined || cpus === undefined || memoryMb === undefined) return undefined;
  return { image, flavor, cpus, memoryMb };
}

function readNetwork(r: Reader, raw: unknown, target: string): NetworkSpec | undefined {
  if (raw === undefined) return { create: { cidr: "192.168.44.0/24", dnsServers: [] } };
  const o = r.object(raw, "network");
  if (!o) return undefined;
  r.noUnknownKeys(o, "network", ["create", "existing"]);
  if ((o.create === undefined) === (o.existing === undefined)) {
    return r.fail("network", "set exactly one of create (a new network, subnet and router) or existing (reuse a network and subnet)");
  }
  if (o.create !== undefined) {
    const c = r.object(o.create ?? {}, "network.create") ?? {};
    r.noUnknownKeys(c, "network.create", ["cidr", "dnsServers"]);
    const cidr = c.cidr === undefined ? "192.168.44.0/24" : r.string(c.cidr, "network.create.cidr");
    const parsed = cidr ? parseCidr(cidr) : undefined;
    if (cidr && (!parsed || parsed.prefix < 8 || parsed.prefix > 29)) {
      return r.fail("network.create.cidr", `must be an IPv4 network from /8 to /29 with no host bits set, such as 192.168.44.0/24, got ${JSON.stringify(cidr)}`);
    }
    const dnsServers = c.dnsServers === undefined ? [] : r.stringList(c.dnsServers, "network.create.dnsServers", (s, p) =>
      typeof s === "string" && parseIpv4(s) !== undefined ? s : r.fail(p, `must be an IPv4 address such as 8.8.8.8, got ${JSON.stringify(s)}`));
    if (!cidr || !dnsServers) return undefined;
    return { create: { cidr, dnsServers } };
  }
  if (target !== "openstack") return r.fail("network.existing", `the ${target} target creates its own bridge network; remove network.existing`);
  const e = r.object(o.existing, "network.existing") ?? {};
  r.noUnknownKeys(e, "network.existing", ["network", "subnet"]);
  const network = r.string(e.network, "network.existing.network", { hint: "the name or id of an existing network" });
  const subnet = r.string(e.subnet, "network.existing.subnet", { hint: "the name or id of an existing subnet of that network" });
  return network && subnet ? { existing: { network, subnet } } : undefined;
}

function cidrList(r: Reader, raw: unknown, path: string): string[] | undefined {
  return r.stringList(raw, path, (s, p) => {
    const c = typeof s === "string" ? parseCidr(s) : undefined;
    return c ? s : r.fail(p, `must be an IPv4 CIDR such as 203.0.113.0/24 or 0.0.0.0/0, got ${JSON.stringify(s)}`);
  });
}

function readAccess(r: Reader, raw: unknown, target: string): ClusterSpec["access"] | undefined {
  const o = r.object(raw ?? {}, "access");
  if (!o) return undefined;
  r.noUnknownKeys(o, "access", ["sshCidrs", "httpsCidrs", "keypair"]);
  let sshCidrs: string[] | undefined;
  if (o.sshCidrs === undefined) {
    if (target === "openstack") return r.fail("access.sshCidrs", "is required: the networks allowed to reach SSH on the head, e.g. [203.0.113.0/24] (uws-cluster itself connects over SSH)");
    sshCidrs = [];
  } else {
    sshCidrs = cidrList(r, o.sshCidrs, "access.sshCidrs");
    if (sshCidrs && sshCidrs.length === 0 && target === "openstack") r.fail("access.sshCidrs", "must list at least one CIDR: uws-cluster configures the nodes over SSH");
  }
  const httpsCidrs = o.httpsCidrs === undefined ? sshCidrs : cidrList(r, o.httpsCidrs, "access.httpsCidrs");
  let keypair: KeypairSpec | undefined = "generate";
  if (o.keypair !== undefined && o.keypair !== "generate") {
    const k = r.object(o.keypair, "access.keypair");
    if (k) {
      r.noUnknownKeys(k, "access.keypair", ["existing", "privateKeyFile"]);
      const existing = r.string(k.existing, "access.keypair.existing", { hint: "the name of a Nova keypair, or write keypair: generate" });
      const privateKeyFile = r.string(k.privateKeyFile, "access.keypair.privateKeyFile", { hint: "the local private key matching that keypair" });
      keypair = existing && privateKeyFile ? { existing, privateKeyFile } : undefined;
    } else keypair = undefined;
  }
  if (!sshCidrs || !httpsCidrs || !keypair) return undefined;
  return { sshCidrs, httpsCidrs, keypair };
}

function readVolume(r: Reader, raw: unknown): VolumeSpec | undefined {
  if (raw === undefined || raw === "none") return "none";
  const o = r.object(raw, "volume");
  if (!o) return undefined;
  r.noUnknownKeys(o, "volume", ["managed", "existing"]);
  if ((o.managed === undefined) === (o.existing === undefined)) {
    return r.fail("volume", "set exactly one of managed (created and deleted with the cluster) or existing (attached, never deleted), or write volume: none");
  }
  if (o.managed !== undefined) {
    const m = r.object(o.managed, "volume.managed") ?? {};
    r.noUnknownKeys(m, "volume.managed", ["sizeGb", "type"]);
    const sizeGb = r.int(m.sizeGb, "volume.managed.sizeGb", 1, 65_536);
    const type = m.type === undefined ? undefined : r.string(m.type, "volume.managed.type");
    return sizeGb === undefined ? undefined : { managed: type ? { sizeGb, type } : { sizeGb } };
  }
  const e = r.object(o.existing, "volume.existing") ?? {};
  r.noUnknownKeys(e, "volume.existing", ["id"]);
  const id = r.string(e.id, "volume.existing.id", { pattern: /^[0-9a-fA-F-]{32,36}$/, hint: "the UUID of an existing Cinder volume" });
  return id ? { existing: { id } } : undefined;
}

function readSecret(r: Reader, raw: unknown, path: string): SecretSource | undefined {
  if (typeof raw === "string") {
    return r.fail(path, "must not hold the secret itself: write {env: VARIABLE_NAME} or {file: /path/to/secret}");
  }
  const o = r.object(raw, path);
  if (!o) return undefined;
  r.noUnknownKeys(o, path, ["env", "file"]);
  if (o.env !== undefined) {
    const env = r.string(o.env, `${path}.env`, { pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, hint: "an environment variable name" });
    return env ? { env } : undefined;
  }
  if (o.file !== undefined) {
    const file = r.string(o.file, `${path}.file`);
    return file ? { file } : undefined;
  }
  return r.fail(path, "set env (an environment variable name) or file (a path readable at deploy time)");
}

function readRules(r: Reader, raw: unknown, path: string): { entitlements: string[]; subs: string[] } | undefined {
  if (raw === undefined) return { entitlements: [], subs: [] };
  const o = r.object(raw, path);
  if (!o) return undefined;
  r.noUnknownKeys(o, path, ["entitlements", "subs"]);
  const entitlements = o.entitlements === undefined ? [] : r.stringList(o.entitlements, `${path}.entitlements`);
  const subs = o.subs === undefined ? [] : r.stringList(o.subs, `${path}.subs`);
  return entitlements && subs ? { entitlements, subs } : undefined;
}

function readAai(r: Reader, raw: unknown): AaiSpec | undefined {
  const o = r.object(raw, "aai");
  if (!o) return undefined;
  r.noUnknownKeys(o, "aai", ["preset", "issuer", "clientId", "clientSecret", "scopes", "allow", "admins"]);
  const preset = r.oneOf(o.preset ?? "generic", "aai.preset", ["eduteams", "egi-checkin", "orcid", "generic"] as const);
  const known = preset && preset !== "generic" ? AAI_PRESETS[preset] : undefined;
  const issuer = o.issuer !== undefined
    ? r.string(o.issuer, "aai.issuer", { pattern: /^https:\/\/[^\s]+$/, hint: "an https URL" })
    : known?.issuer ?? r.fail("aai.issuer", "is required with preset generic: the OIDC issuer URL, e.g. https://login.example.org/realms/main");
  const clientId = r.string(o.clientId, "aai.clientId", { hint: "the OIDC client id registered for this cluster" });
  const clientSecret = o.clientSecret === undefined
    ? r.fail("aai.clientSecret", "is required: {env: VARIABLE_NAME} or {file: /path/to/secret} (never the secret itself)")
    : readSecret(r, o.clientSecret, "aai.clientSecret");
  const scopes = o.scopes === undefined ? known?.scopes ?? ["openid", "profile", "email"] : r.stringList(o.scopes, "aai.scopes");
  if (scopes && !scopes.includes("openid")) r.fail("aai.scopes", "must include openid");
  const allow = readRules(r, o.allow, "aai.allow");
  const admins = readRules(r, o.admins, "aai.admins");
  if (!preset || !issuer || !clientId || !clientSecret || !scopes || !allow || !admins) return undefined;
  return { preset, issuer, clientId, clientSecret, scopes, allow, admins };
}
