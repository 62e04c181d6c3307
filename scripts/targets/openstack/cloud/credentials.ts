/**
 * OpenStack credentials the way every OpenStack tool finds them: clouds.yaml (+ secure.yaml) selected
 * by --cloud or OS_CLOUD, else OS_* variables. Auth types: password, v3applicationcredential,
 * v3oidcaccesstoken (EGI Check-in / eduTEAMS access tokens through Keystone federation) and token.
 * Every secret read here is registered with the redactor, so it cannot leak through logs or errors.
 */
import { existsSync, readFileSync } from "node:fs";
import { UsageError } from "../../../errors.js";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { registerSecret } from "../redact.js";

export type AuthType = "password" | "v3applicationcredential" | "v3oidcaccesstoken" | "token";
export type Interface = "public" | "internal" | "admin";

export interface CloudCredentials {
  /** Where they came from, e.g. `clouds.yaml /home/u/.config/openstack/clouds.yaml (cloud "egi")` or `OS_* variables`. */
  source: string;
  cloud?: string;
  authType: AuthType;
  authUrl: string;
  username?: string;
  userId?: string;
  password?: string;
  userDomainName?: string;
  userDomainId?: string;
  projectName?: string;
  projectId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  applicationCredentialId?: string;
  applicationCredentialName?: string;
  applicationCredentialSecret?: string;
  token?: string;
  accessToken?: string;
  identityProvider?: string;
  protocol?: string;
  regionName?: string;
  interface: Interface;
}

/** Missing or invalid configuration: the CLI's usage/config exit code. */
export class CredentialsError extends UsageError {
  constructor(message: string) {
    super(message, "credentials");
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  home?: string;
  /** --cloud NAME; overrides OS_CLOUD. */
  cloud?: string;
  /** Search path override (tests); default ./clouds.yaml, ~/.config/openstack/, /etc/openstack/. */
  searchDirs?: string[];
}

const AUTH_TYPE_ALIASES: Record<string, AuthType> = {
  password: "password", v3password: "password",
  v3applicationcredential: "v3applicationcredential", applicationcredential: "v3applicationcredential", v3_application_credential: "v3applicationcredential",
  v3oidcaccesstoken: "v3oidcaccesstoken", oidcaccesstoken: "v3oidcaccesstoken",
  token: "token", v3token: "token",
};

/** Finds and validates credentials; throws CredentialsError naming the missing field and how to fix it. */
export function loadCredentials(opts: LoadOptions = {}): CloudCredentials {
  const env = opts.env ?? process.env;
  const cloud = opts.cloud ?? env.OS_CLOUD;
  const creds = cloud ? fromCloudsYaml(cloud, opts, env) : env.OS_AUTH_URL ? fromEnv(env) : undefined;
  if (!creds) {
    throw new CredentialsError(
      "no OpenStack credentials: set OS_CLOUD (or pass --cloud NAME) to a cloud in clouds.yaml " +
      "(./clouds.yaml, ~/.config/openstack/clouds.yaml or /etc/openstack/clouds.yaml), " +
      "or source your project's openrc file (OS_AUTH_URL, OS_* variables)");
  }
  for (const s of [creds.password, creds.applicationCredentialSecret, creds.token, creds.accessToken]) registerSecret(s);
  validate(creds);
  return creds;
}

function searchDirs(opts: LoadOptions, env: NodeJS.ProcessEnv): string[] {
  if (opts.searchDirs) return opts.searchDirs;
  const home = opts.home ?? env.HOME ?? homedir();
  return [opts.cwd ?? process.cwd(), join(home, ".config", "openstack"), "/etc/openstack"];
}

function readYaml(path: string): any {
  try {
    return parseYaml(readFileSync(path, "utf8")) ?? {};
  } catch (e) {
    throw new CredentialsError(`cannot read ${path}: ${(e as Error).message.split("\n")[0]}`);
  }
}

function findFile(names: string[], dirs: string[], override: string | undefined, cwd: string): string | undefined {
  if (override) {
    const p = resolve(cwd, override);
    if (!existsSync(p)) throw new CredentialsError(`OS_CLIENT_CONFIG_FILE=${override} does not exist`);
    return p;
  }
  for (const d of dirs) for (const n of names) if (existsSync(join(d, n))) return join(d, n);
  return undefined;
}

function fromCloudsYaml(cloud: string, opts: LoadOptions, env: NodeJS.ProcessEnv): CloudCredentials {
  const cwd = opts.cwd ?? process.cwd();
  const dirs = searchDirs(opts, env);
  const file = findFile(["clouds.yaml", "clouds.yml"], dirs, env.OS_CLIENT_CONFIG_FILE, cwd);
  if (!file) throw new CredentialsError(`OS_CLOUD/--cloud is "${cloud}" but no clouds.yaml was found in ${dirs.join(", ")}`);
  const doc = readYaml(file);
  let entry = doc?.clouds?.[cloud];
  if (!entry || typeof entry !== "object") {
    const have = Object.keys(doc?.clouds ?? {});
    throw new CredentialsError(`cloud "${cloud}" is not in ${file} (clouds there: ${have.join(", ") || "none"})`);
  }
  // secure.yaml holds the secrets apart from clouds.yaml (same layout); its values win.
  const secure = findFile(["secure.yaml", "secure.yml"], dirs, env.OS_CLIENT_SECURE_FILE, cwd);
  if (secure) {
    const s = readYaml(secure)?.clouds?.[cloud];
    if (s && typeof s === "object") entry = deepMerge(entry, s);
  }
  const a = (entry.auth ?? {}) as Record<string, unknown>;
  const str = (v: unknown) => (v === undefined || v === null || v === "" ? undefined : String(v));
  const rawType = str(entry.auth_type);
  return {
    source: `clouds.yaml ${file}${secure ? ` + ${secure}` : ""} (cloud "${cloud}")`,
    cloud,
    authType: authType(rawType, `clouds.yaml cloud "${cloud}" auth_type`, {
      appCred: !!(a.application_credential_id || a.application_credential_name), token: !!a.token, oidc: !!a.access_token,
    }),
    authUrl: str(a.auth_url) ?? "",
    username: str(a.username), userId: str(a.user_id), password: str(a.password),
    userDomainName: str(a.user_domain_name) ?? str(a.domain_name), userDomainId: str(a.user_domain_id) ?? str(a.domain_id),
    projectName: str(a.project_name) ?? str(a.tenant_name), projectId: str(a.project_id) ?? str(a.tenant_id),
    projectDomainName: str(a.project_domain_name) ?? str(a.domain_name), projectDomainId: str(a.project_domain_id) ?? str(a.domain_id),
    applicationCredentialId: str(a.application_credential_id), applicationCredentialName: str(a.application_credential_name),
    applicationCredentialSecret: str(a.application_credential_secret),
    token: str(a.token), accessToken: str(a.access_token), identityProvider: str(a.identity_provider), protocol: str(a.protocol),
    regionName: str(entry.region_name) ?? (Array.isArray(entry.regions) ? str(typeof entry.regions[0] === "object" ? entry.regions[0]?.name : entry.regions[0]) : undefined),
    interface: iface(str(entry.interface) ?? str(entry.endpoint_type), `clouds.yaml cloud "${cloud}" interface`),
  };
}

function fromEnv(env: NodeJS.ProcessEnv): CloudCredentials {
  const e = (k: string) => (env[k] ? env[k] : undefined);
  return {
    source: "OS_* variables",
    authType: authType(e("OS_AUTH_TYPE"), "OS_AUTH_TYPE", {
      appCred: !!(e("OS_APPLICATION_CREDENTIAL_ID") || e("OS_APPLICATION_CREDENTIAL_NAME")), token: !!e("OS_TOKEN"), oidc: !!e("OS_ACCESS_TOKEN"),
    }),
    authUrl: e("OS_AUTH_URL") ?? "",
    username: e("OS_USERNAME"), userId: e("OS_USER_ID"), password: e("OS_PASSWORD"),
    userDomainName: e("OS_USER_DOMAIN_NAME") ?? e("OS_DOMAIN_NAME"), userDomainId: e("OS_USER_DOMAIN_ID") ?? e("OS_DOMAIN_ID"),
    projectName: e("OS_PROJECT_NAME") ?? e("OS_TENANT_NAME"), projectId: e("OS_PROJECT_ID") ?? e("OS_TENANT_ID"),
    projectDomainName: e("OS_PROJECT_DOMAIN_NAME") ?? e("OS_DOMAIN_NAME"), projectDomainId: e("OS_PROJECT_DOMAIN_ID") ?? e("OS_DOMAIN_ID"),
    applicationCredentialId: e("OS_APPLICATION_CREDENTIAL_ID"), applicationCredentialName: e("OS_APPLICATION_CREDENTIAL_NAME"),
    applicationCredentialSecret: e("OS_APPLICATION_CREDENTIAL_SECRET"),
    token: e("OS_TOKEN"), accessToken: e("OS_ACCESS_TOKEN"), identityProvider: e("OS_IDENTITY_PROVIDER"), protocol: e("OS_PROTOCOL"),
    regionName: e("OS_REGION_NAME"),
    interface: iface(e("OS_INTERFACE") ?? e("OS_ENDPOINT_TYPE"), "OS_INTERFACE"),
  };
}

function authType(raw: string | undefined, field: string, hints: { appCred: boolean; token: boolean; oidc: boolean }): AuthType {
  if (!raw) return hints.appCred ? "v3applicationcredential" : hints.oidc ? "v3oidcaccesstoken" : hints.token ? "token" : "password";
  const t = AUTH_TYPE_ALIASES[raw.toLowerCase()];
  if (!t) throw new CredentialsError(`${field} "${raw}" is not supported; use one of password, v3applicationcredential, v3oidcaccesstoken, token`);
  return t;
}

function iface(raw: string | undefined, field: string): Interface {
  if (!raw) return "public";
  const v = raw.toLowerCase().replace(/url$/, "");
  if (v === "public" || v === "internal" || v === "admin") return v;
  throw new CredentialsError(`${field} "${raw}" must be public, internal or admin`);
}

function validate(c: CloudCredentials): void {
  const where = c.cloud ? `clouds.yaml cloud "${c.cloud}": auth.` : "";
  const name = (yamlKey: string, envKey: string) => (c.cloud ? `${where}${yamlKey}` : envKey);
  const missing: string[] = [];
  if (!c.authUrl) missing.push(name("auth_url", "OS_AUTH_URL"));
  else if (!/^https?:\/\//.test(c.authUrl)) throw new CredentialsError(`${name("auth_url", "OS_AUTH_URL")} "${c.authUrl}" must be an http(s) URL of Keystone`);
  switch (c.authType) {
    case "password":
      if (!c.username && !c.userId) missing.push(name("username", "OS_USERNAME"));
      if (!c.password) missing.push(name("password", "OS_PASSWORD"));
      if (c.username && !c.userId && !c.userDomainName && !c.userDomainId) missing.push(name("user_domain_name", "OS_USER_DOMAIN_NAME"));
      if (!c.projectId && !c.projectName) missing.push(name("project_name", "OS_PROJECT_NAME") + " (or project_id)");
      if (c.projectName && !c.projectId && !c.projectDomainName && !c.projectDomainId) missing.push(name("project_domain_name", "OS_PROJECT_DOMAIN_NAME"));
      break;
    case "v3applicationcredential":
      if (!c.applicationCredentialId && !c.applicationCredentialName) missing.push(name("application_credential_id", "OS_APPLICATION_CREDENTIAL_ID"));
      if (!c.applicationCredentialSecret) missing.push(name("application_credential_secret", "OS_APPLICATION_CREDENTIAL_SECRET"));
      if (!c.applicationCredentialId && !c.username && !c.userId) missing.push(name("username", "OS_USERNAME") + " (an application credential given by name needs its user)");
      break;
    case "v3oidcaccesstoken":
      if (!c.accessToken) missing.push(name("access_token", "OS_ACCESS_TOKEN"));
      if (!c.identityProvider) missing.push(name("identity_provider", "OS_IDENTITY_PROVIDER") + " (e.g. egi.eu)");
      if (!c.protocol) missing.push(name("protocol", "OS_PROTOCOL") + " (e.g. openid)");
      break;
    case "token":
      if (!c.token) missing.push(name("token", "OS_TOKEN"));
      break;
  }
  if (missing.length) {
    throw new CredentialsError(`incomplete OpenStack credentials (${c.authType} auth, from ${c.source}): missing ${missing.join(", ")}`);
  }
}

/** What may be shown to a user or put in --json: no secret, only where and who. */
export function describeCredentials(c: CloudCredentials): Record<string, string | undefined> {
  return {
    source: c.source, authType: c.authType, authUrl: c.authUrl, user: c.username ?? c.userId,
    project: c.projectName ?? c.projectId, applicationCredential: c.applicationCredentialId ?? c.applicationCredentialName,
    identityProvider: c.identityProvider, region: c.regionName, interface: c.interface,
  };
}

function deepMerge(a: any, b: any): any {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null || Array.isArray(a) || Array.isArray(b)) return b;
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in a ? deepMerge(a[k], v) : v;
  return out;
}
