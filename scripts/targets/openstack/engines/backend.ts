/**
 * Where an engine keeps its state. Local (a file in the cluster's work dir) by default; for CI, a
 * shared backend so `down` works from another runner. Credentials are never part of this config:
 * each backend reads them from the environment of the tool (see BACKEND_CREDENTIALS).
 */
import { join } from "node:path";
import { qualifiedName, type Cluster } from "../../../../stacks/model/index.js";

export type BackendConfig =
  | { type: "local" }
  /** Any S3-compatible object store (AWS, Ceph RGW, MinIO, ...). */
  | { type: "s3"; bucket: string; key?: string; region?: string; endpoint?: string; usePathStyle?: boolean; skipChecks?: boolean }
  /** Terraform's http backend (e.g. GitLab-managed Terraform state). */
  | { type: "http"; address: string; lockAddress?: string; unlockAddress?: string; lockMethod?: string; unlockMethod?: string }
  /**
   * An OpenStack Swift container through Swift's S3 API (s3api middleware, EC2-style credentials from
   * `openstack ec2 credentials create`): Terraform ≥ 1.3 and OpenTofu have no native swift backend.
   */
  | { type: "swift"; container: string; key?: string; endpoint: string; region?: string };

/** Where each backend's credentials come from (never from the config, never written anywhere). */
export const BACKEND_CREDENTIALS: Record<BackendConfig["type"], string> = {
  local: "none",
  s3: "AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment",
  swift: "AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY holding the EC2 credentials of your project (openstack ec2 credentials create)",
  http: "TF_HTTP_USERNAME + TF_HTTP_PASSWORD in the environment",
};

const ALLOWED: Record<BackendConfig["type"], { required: string[]; optional: string[] }> = {
  local: { required: [], optional: [] },
  s3: { required: ["bucket"], optional: ["key", "region", "endpoint", "usePathStyle", "skipChecks"] },
  http: { required: ["address"], optional: ["lockAddress", "unlockAddress", "lockMethod", "unlockMethod"] },
  swift: { required: ["container", "endpoint"], optional: ["key", "region"] },
};

/** Validates a backend config from user input: known type, required fields, no unknown (e.g. credential) fields. */
export function validateBackend(input: unknown): BackendConfig {
  if (!input || typeof input !== "object") throw new Error("backend: expected an object with a type (local, s3, http, swift)");
  const b = input as Record<string, unknown>;
  const type = b.type as BackendConfig["type"];
  const spec = ALLOWED[type];
  if (!spec) throw new Error(`backend.type: expected one of local, s3, http, swift, got ${JSON.stringify(b.type)}`);
  for (const k of spec.required) if (typeof b[k] !== "string" || !b[k]) throw new Error(`backend.${k}: required for a ${type} backend`);
  for (const k of Object.keys(b)) {
    if (k === "type" || spec.required.includes(k) || spec.optional.includes(k)) continue;
    const hint = /key|secret|password|token|user|credential/i.test(k) ? `: credentials are read from the environment (${BACKEND_CREDENTIALS[type]}), never from the config` : "";
    throw new Error(`backend.${k}: unknown field for a ${type} backend${hint}`);
  }
  for (const k of ["endpoint", "address", "lockAddress", "unlockAddress"]) {
    if (typeof b[k] === "string" && /^[a-z]+:\/\/[^/]*@/i.test(b[k] as string)) {
      throw new Error(`backend.${k}: remove the user:password@ part; credentials come from the environment (${BACKEND_CREDENTIALS[type]})`);
    }
  }
  return b as unknown as BackendConfig;
}

/**
 * Parses a backend URL, the form a CLI flag or CI variable takes:
 *   local | s3://BUCKET[/KEY]?endpoint=URL&region=R&path_style=true | swift://CONTAINER[/KEY]?endpoint=URL&region=R
 *   | http(s)://HOST/PATH (Terraform's http backend; for GitLab pass lock addresses through the object form)
 */
export function parseBackendUrl(url: string): BackendConfig {
  if (url === "local") return { type: "local" };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`backend: cannot parse ${JSON.stringify(url)}; expected local, s3://bucket/key?endpoint=..., swift://container/key?endpoint=... or https://...`);
  }
  if (u.username || u.password) throw new Error("backend: remove the user:password@ part of the URL; credentials come from the environment");
  const q = Object.fromEntries(u.searchParams);
  const key = decodeURIComponent(u.pathname.replace(/^\//, "")) || undefined;
  const known = (names: string[]) => {
    for (const k of Object.keys(q)) if (!names.includes(k)) throw new Error(`backend URL: unknown parameter ${k} (allowed: ${names.join(", ")})`);
  };
  switch (u.protocol) {
    case "s3:":
      known(["endpoint", "region", "path_style", "skip_checks"]);
      return validateBackend(clean({ type: "s3", bucket: u.hostname, key, region: q.region, endpoint: q.endpoint,
        usePathStyle: q.path_style === undefined ? undefined : q.path_style === "true", skipChecks: q.skip_checks === undefined ? undefined : q.skip_checks === "true" }));
    case "swift:":
      known(["endpoint", "region"]);
      return validateBackend(clean({ type: "swift", container: u.hostname, key, endpoint: q.endpoint, region: q.region }));
    case "http:":
    case "https:":
      return validateBackend({ type: "http", address: url });
    default:
      throw new Error(`backend: unsupported scheme ${u.protocol} (local, s3, swift, http, https)`);
  }
}

function clean<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Default object key for a cluster's state in a shared backend: unique per cluster (name + id). */
export function stateKey(cluster: Cluster, suffix = "terraform.tfstate"): string {
  return `uws-cluster/${qualifiedName(cluster.name, cluster.id)}/${suffix}`;
}

/**
 * The Terraform `backend` block (synthTerraform's `backend` option), or undefined for local state
 * (terraform.tfstate in the work dir). The S3 form uses the Terraform ≥ 1.6 / OpenTofu ≥ 1.6
 * argument names (`endpoints`, `use_path_style`, `skip_requesting_account_id`).
 */
export function terraformBackendBlock(backend: BackendConfig | undefined, cluster: Cluster): Record<string, Record<string, unknown>> | undefined {
  if (!backend || backend.type === "local") return undefined;
  const b = validateBackend(backend);
  if (b.type === "http") {
    return { http: clean({ address: b.address, lock_address: b.lockAddress, unlock_address: b.unlockAddress, lock_method: b.lockMethod, unlock_method: b.unlockMethod }) };
  }
  if (b.type === "s3" || b.type === "swift") {
    const endpoint = b.endpoint;
    // A non-AWS endpoint has no AWS account, region list or metadata API to check against.
    const skip = b.type === "swift" || (b.type === "s3" && (b.skipChecks ?? endpoint !== undefined));
    const pathStyle = b.type === "swift" || (b.type === "s3" && (b.usePathStyle ?? endpoint !== undefined));
    return {
      s3: clean({
        bucket: b.type === "s3" ? b.bucket : b.container,
        key: b.key ?? stateKey(cluster),
        region: b.region ?? (endpoint ? "us-east-1" : undefined),
        endpoints: endpoint ? { s3: endpoint } : undefined,
        use_path_style: pathStyle || undefined,
        skip_credentials_validation: skip || undefined,
        skip_region_validation: skip || undefined,
        skip_requesting_account_id: skip || undefined,
        skip_metadata_api_check: skip || undefined,
        skip_s3_checksum: skip || undefined,
      }),
    };
  }
  return undefined;
}

/**
 * The Pulumi backend URL: a file backend in the work dir by default; S3-compatible stores (and Swift's
 * S3 API) through Pulumi's s3:// DIY backend; an http(s) address is taken as a Pulumi Cloud or
 * self-hosted Pulumi service URL (token in PULUMI_ACCESS_TOKEN).
 */
export function pulumiBackendUrl(backend: BackendConfig | undefined, cluster: Cluster, workDir: string): string {
  if (!backend || backend.type === "local") return `file://${join(workDir, "pulumi-state")}`;
  const b = validateBackend(backend);
  if (b.type === "http") return b.address;
  if (b.type === "s3" || b.type === "swift") {
    const bucket = b.type === "s3" ? b.bucket : b.container;
    const prefix = (b.key ?? `uws-cluster/${qualifiedName(cluster.name, cluster.id)}`).replace(/^\/+|\/+$/g, "");
    const q = new URLSearchParams();
    if (b.endpoint) q.set("endpoint", b.endpoint);
    if (b.region ?? b.endpoint) q.set("region", b.region ?? "us-east-1");
    if (b.type === "swift" || (b.type === "s3" && (b.usePathStyle ?? b.endpoint !== undefined))) q.set("s3ForcePathStyle", "true");
    const qs = q.toString();
    return `s3://${bucket}/${prefix}${qs ? `?${qs}` : ""}`;
  }
  throw new Error("unreachable backend type");
}
