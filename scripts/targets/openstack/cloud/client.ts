/**
 * A small OpenStack API client on global fetch: Keystone v3 authentication (password, application
 * credential, token, OIDC access token through the federation endpoint), the service catalog
 * (region and interface selection) and one bounded, retrying request primitive the per-service
 * modules (compute.ts, network.ts, image.ts, blockstorage.ts, identity.ts) build on.
 *
 * Every attempt is bounded by an AbortSignal timeout. Idempotent calls (GET, HEAD, PUT, DELETE) are
 * retried with exponential backoff and jitter on 5xx, 429, connection errors and timeouts; a POST is
 * retried only when the connection was refused (nothing reached the server) or the caller marks it
 * safe, so a lost answer never creates a resource twice.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { CloudCredentials, Interface } from "./credentials.js";
import { CliError, EXIT } from "../../../errors.js";
import { redactText, registerSecret } from "../redact.js";

export type ServiceType = "compute" | "network" | "image" | "block-storage" | "identity";

/** Catalog types each logical service may be published under (Cinder has had three names). */
const CATALOG_TYPES: Record<ServiceType, string[]> = {
  compute: ["compute"],
  network: ["network"],
  image: ["image"],
  "block-storage": ["block-storage", "volumev3", "volume"],
  identity: ["identity"],
};

const NOVA_MICROVERSION = "2.79";

export interface ClientOptions {
  /** Per-attempt bound (ms). */
  timeoutMs?: number;
  /** Retries after the first attempt for a retryable failure. */
  retries?: number;
  /** First backoff (ms); doubles per retry up to maxBackoffMs, with ±50 % jitter. */
  backoffMs?: number;
  maxBackoffMs?: number;
  fetch?: typeof fetch;
  /** Called once per retry (status or error text, already redacted). */
  onRetry?: (info: { method: string; url: string; attempt: number; reason: string }) => void;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | string[] | undefined>;
  headers?: Record<string, string>;
  /** Statuses that are not errors (default: any 2xx). 404 is commonly added by deletes. */
  ok?: number[];
  /** Allows retrying a POST (the caller knows it is idempotent, e.g. an action that can be repeated). */
  retrySafe?: boolean;
  /** Nova microversion (compute only); default NOVA_MICROVERSION. */
  microversion?: string;
  timeoutMs?: number;
}

export interface Response<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export class OpenStackError extends CliError {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly method: string,
    readonly url: string,
    readonly body: string,
  ) {
    super(message, EXIT.failure, "openstack", { status, method, url });
  }
}

interface CatalogEntry {
  type: string;
  name?: string;
  endpoints: { interface: string; region?: string; region_id?: string; url: string }[];
}

export interface Session {
  token: string;
  expiresAt: string;
  userId: string;
  userName?: string;
  projectId?: string;
  projectName?: string;
  catalog: CatalogEntry[];
  /** Method the token was obtained with, e.g. application_credential. */
  methods: string[];
  /** The token's roles on its project (an application credential delegates a subset of them). */
  roles: { id: string; name: string }[];
}

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE"]);

export class OpenStackClient {
  readonly opts: Required<Omit<ClientOptions, "onRetry" | "fetch">> & Pick<ClientOptions, "onRetry">;
  private readonly fetchFn: typeof fetch;
  session?: Session;
  /** Service → base URL, after catalog selection. */
  private readonly endpoints = new Map<ServiceType, string | null>();

  constructor(readonly creds: CloudCredentials, opts: ClientOptions = {}) {
    this.opts = {
      timeoutMs: opts.timeoutMs ?? 30_000,
      retries: opts.retries ?? 4,
      backoffMs: opts.backoffMs ?? 500,
      maxBackoffMs: opts.maxBackoffMs ?? 8_000,
      onRetry: opts.onRetry,
    };
    this.fetchFn = opts.fetch ?? globalThis.fetch;
  }

  static async connect(creds: CloudCredentials, opts: ClientOptions = {}): Promise<OpenStackClient> {
    const c = new OpenStackClient(creds, opts);
    await c.authenticate();
    return c;
  }

  get projectId(): string {
    if (!this.session?.projectId) throw new Error("the OpenStack token is not scoped to a project; set a project in the credentials");
    return this.session.projectId;
  }

  get userId(): string {
    return this.session!.userId;
  }

  private get authUrl(): string {
    return this.creds.authUrl.replace(/\/+$/, "").replace(/\/v3$/, "") + "/v3";
  }

  /** Obtains a token (re-run on 401); fills the catalog. */
  async authenticate(): Promise<Session> {
    const c = this.creds;
    const domain = (name?: string, id?: string) => (id ? { id } : { name: name ?? "Default" });
    const projectScope = c.projectId ? { project: { id: c.projectId } }
      : c.projectName ? { project: { name: c.projectName, domain: domain(c.projectDomainName, c.projectDomainId) } } : undefined;
    let body: unknown;
    switch (c.authType) {
      case "password":
        body = { auth: {
          identity: { methods: ["password"], password: { user: c.userId ? { id: c.userId, password: c.password } : { name: c.username, domain: domain(c.userDomainName, c.userDomainId), password: c.password } } },
          ...(projectScope ? { scope: projectScope } : {}),
        } };
        break;
      case "v3applicationcredential":
        // The application credential carries its own project scope.
        body = { auth: { identity: { methods: ["application_credential"], application_credential: c.applicationCredentialId
          ? { id: c.applicationCredentialId, secret: c.applicationCredentialSecret }
          : { name: c.applicationCredentialName, secret: c.applicationCredentialSecret,
              user: c.userId ? { id: c.userId } : { name: c.username, domain: domain(c.userDomainName, c.userDomainId) } } } } };
        break;
      case "token":
        body = { auth: { identity: { methods: ["token"], token: { id: c.token } }, ...(projectScope ? { scope: projectScope } : {}) } };
        break;
      case "v3oidcaccesstoken": {
        // Keystone federation: the access token buys an unscoped token, which is then scoped to the project.
        const fed = await this.raw("POST", `${this.authUrl}/OS-FEDERATION/identity_providers/${encodeURIComponent(c.identityProvider!)}/protocols/${encodeURIComponent(c.protocol!)}/auth`,
          { headers: { authorization: `Bearer ${c.accessToken}` }, retrySafe: true });
        const unscoped = fed.headers.get("x-subject-token");
        if (!unscoped) throw new OpenStackError("Keystone federation answered without X-Subject-Token", fed.status, "POST", "OS-FEDERATION auth", "");
        registerSecret(unscoped);
        let scope = projectScope;
        if (!scope) {
          const projects = (await this.raw("GET", `${this.authUrl}/auth/projects`, { headers: { "x-auth-token": unscoped } })).body.projects as { id: string; name: string }[];
          if (projects.length !== 1) {
            throw new OpenStackError(`the OIDC identity has ${projects.length} projects (${projects.map((p) => p.name).join(", ") || "none"}); set OS_PROJECT_ID or auth.project_id`, undefined, "GET", "auth/projects", "");
          }
          scope = { project: { id: projects[0]!.id } };
        }
        body = { auth: { identity: { methods: ["token"], token: { id: unscoped } }, scope } };
        break;
      }
    }
    const r = await this.raw("POST", `${this.authUrl}/auth/tokens`, { body, retrySafe: true });
    const token = r.headers.get("x-subject-token");
    if (!token) throw new OpenStackError("Keystone answered without X-Subject-Token", r.status, "POST", `${this.authUrl}/auth/tokens`, "");
    registerSecret(token);
    const t = r.body.token;
    this.session = {
      token, expiresAt: t.expires_at, userId: t.user?.id, userName: t.user?.name, projectId: t.project?.id, projectName: t.project?.name,
      catalog: t.catalog ?? [], methods: t.methods ?? [], roles: t.roles ?? [],
    };
    this.endpoints.clear();
    return this.session;
  }

  /** Base URL of a service from the catalog (region + interface), or undefined when the cloud lacks it. */
  endpoint(service: ServiceType): string | undefined {
    if (this.endpoints.has(service)) return this.endpoints.get(service) ?? undefined;
    if (service === "identity") return this.authUrl;
    const region = this.creds.regionName;
    const wanted: Interface = this.creds.interface;
    let url: string | undefined;
    for (const type of CATALOG_TYPES[service]) {
      const entry = this.session?.catalog.find((e) => e.type === type);
      if (!entry) continue;
      const eps = entry.endpoints.filter((e) => e.interface === wanted && (!region || e.region_id === region || e.region === region));
      if (eps.length) { url = eps[0]!.url.replace(/\/+$/, ""); break; }
    }
    if (url && service === "network" && !/\/v2\.0$/.test(url)) url += "/v2.0";
    if (url && service === "image" && !/\/v2$/.test(url)) url += "/v2";
    if (url && service === "block-storage" && !/\/v3(\/[0-9a-f]+)?$/.test(url)) url += `/v3/${this.session?.projectId ?? ""}`;
    this.endpoints.set(service, url ?? null);
    return url;
  }

  hasService(service: ServiceType): boolean {
    return this.endpoint(service) !== undefined;
  }

  /** Regions in the catalog (for error messages). */
  regions(): string[] {
    const s = new Set<string>();
    for (const e of this.session?.catalog ?? []) for (const ep of e.endpoints) s.add(ep.region_id ?? ep.region ?? "");
    return [...s].filter(Boolean);
  }

  async request<T = any>(service: ServiceType, method: string, path: string, ro: RequestOptions = {}): Promise<Response<T>> {
    if (!this.session) await this.authenticate();
    const base = this.endpoint(service);
    if (!base) {
      throw new OpenStackError(`the cloud's catalog has no ${service} service${this.creds.regionName ? ` in region ${this.creds.regionName}` : ""} (${this.creds.interface} interface); regions: ${this.regions().join(", ") || "none"}`,
        undefined, method, path, "");
    }
    const headers: Record<string, string> = { ...ro.headers };
    if (service === "compute") headers["openstack-api-version"] = `compute ${ro.microversion ?? NOVA_MICROVERSION}`;
    const url = base + path + queryString(ro.query);
    for (let reauth = 0; ; reauth++) {
      headers["x-auth-token"] = this.session!.token;
      try {
        return await this.raw<T>(method, url, { ...ro, headers });
      } catch (e) {
        // Expired or revoked token: authenticate again once.
        if (e instanceof OpenStackError && e.status === 401 && reauth === 0 && !(ro.ok ?? []).includes(401)) { await this.authenticate(); continue; }
        throw e;
      }
    }
  }

  /** Lists every item of a collection, following Nova/Neutron/Glance pagination links. */
  async list<T = any>(service: ServiceType, path: string, key: string, query: RequestOptions["query"] = {}): Promise<T[]> {
    const out: T[] = [];
    let q: RequestOptions["query"] = { ...query };
    for (let page = 0; page < 1000; page++) {
      const r = await this.request(service, "GET", path, { query: q });
      const items = (r.body?.[key] ?? []) as T[];
      out.push(...items);
      const next = nextLink(r.body, key);
      if (!next || items.length === 0) break;
      // Only the query of the link is used: its host/path may be an internal address or miss a proxy prefix.
      const params = new URL(next, "http://x").searchParams;
      q = { ...query };
      for (const [k, v] of params) q[k] = v;
    }
    return out;
  }

  /** One HTTP exchange with timeout + retries; no catalog, no token handling. */
  async raw<T = any>(method: string, url: string, ro: RequestOptions = {}): Promise<Response<T>> {
    const headers: Record<string, string> = { accept: "application/json", ...ro.headers };
    let payload: string | undefined;
    if (ro.body !== undefined) { headers["content-type"] ??= "application/json"; payload = JSON.stringify(ro.body); }
    const safeUrl = redactText(url);
    const canRetry = IDEMPOTENT.has(method) || ro.retrySafe === true;
    for (let attempt = 0; ; attempt++) {
      let reason: string;
      let refused = false;
      try {
        const res = await this.fetchFn(url, { method, headers, body: payload, signal: AbortSignal.timeout(ro.timeoutMs ?? this.opts.timeoutMs) });
        const text = await res.text();
        if (res.ok || (ro.ok ?? []).includes(res.status)) {
          let body: any = null;
          if (text) { try { body = JSON.parse(text); } catch { body = text; } }
          return { status: res.status, headers: res.headers, body };
        }
        const retryable = res.status >= 500 && res.status !== 501 || res.status === 429;
        reason = `HTTP ${res.status}`;
        if (!retryable || !canRetry || attempt >= this.opts.retries) {
          throw new OpenStackError(`${method} ${safeUrl} → ${res.status}: ${redactText(errorText(text))}`, res.status, method, safeUrl, redactText(text.slice(0, 2000)));
        }
      } catch (e) {
        if (e instanceof OpenStackError) throw e;
        const err = e as Error & { cause?: { code?: string } };
        const timedOut = err.name === "TimeoutError" || err.name === "AbortError";
        refused = err.cause?.code === "ECONNREFUSED";
        reason = timedOut ? `timeout after ${ro.timeoutMs ?? this.opts.timeoutMs} ms` : `${err.cause?.code ?? err.name}: ${err.message}`;
        if (!(canRetry || refused) || attempt >= this.opts.retries) {
          throw new OpenStackError(`${method} ${safeUrl} failed: ${redactText(reason)}`, undefined, method, safeUrl, "");
        }
      }
      this.opts.onRetry?.({ method, url: safeUrl, attempt: attempt + 1, reason: redactText(reason) });
      const delay = Math.min(this.opts.maxBackoffMs, this.opts.backoffMs * 2 ** attempt);
      await sleep(delay * (0.5 + Math.random()));
    }
  }
}

function queryString(q: RequestOptions["query"]): string {
  if (!q) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

function nextLink(body: any, key: string): string | undefined {
  const links = body?.[`${key}_links`] as { rel: string; href: string }[] | undefined;
  const l = links?.find((x) => x.rel === "next")?.href;
  if (l) return l;
  return typeof body?.next === "string" ? body.next : undefined; // Glance
}

/** The human part of an OpenStack error body ({"itemNotFound": {"message": ...}}, {"NeutronError": ...}, {"error": ...}). */
function errorText(text: string): string {
  try {
    const j = JSON.parse(text);
    const inner = Object.values(j)[0] as any;
    const msg = inner?.message ?? j.message ?? j.error?.message ?? j.title;
    if (typeof msg === "string") return msg;
  } catch { /* not JSON */ }
  return text.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim().slice(0, 300);
}
