/**
 * The renderer: from a resolved Cluster, every file each node gets (path, mode, owner, content) and
 * its cloud-init user-data. Used by `uws-cluster render`, by the SSH push of both targets, and by the
 * cloud engines (user-data). Text comes from templates/; this folder only builds views.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { HOST_KEY_NONCE_HEX, hostKeyUrl, type Cluster, type ClusterNode, type Target } from "../../stacks/model/index.js";
import { templates, TemplateError } from "./engine.js";
import { FILE_ROWS, secretConcern, type Concern } from "./files.js";
import { NODE_FILES, SLURM_PATHS, USER_DATA_MAX_BASE64 } from "./paths.js";
import { addressBook, allAddressesKnown, jobserverView, mungeView, nfsView, nginxView, slurmView, type AddressBook } from "./views.js";

export { TemplateError } from "./engine.js";
export type { Concern } from "./files.js";

export interface NodeFile {
  /** Absolute path on the node. */
  path: string;
  /** e.g. "0644". */
  mode: string;
  /** "user:group". */
  owner: string;
  /** For secret files: a placeholder unless secret values were given. */
  content: string | Buffer;
  concern: Concern;
  /** The SecretRef.key when this file is a secret (munge.key, oidc.client-secret, ...). */
  secret?: string;
  /** Which targets need the file: nfs exports/mounts, nginx and systemd units are cloud-only; the
   *  local target starts the same commands directly and shares the host filesystem. */
  targets: Target[];
}

export interface NodeBundle {
  node: ClusterNode;
  /** #cloud-config for the cloud target; depends on the model only (never on RenderOptions), so a
   *  re-render after apply does not change it and the engines do not replace servers. */
  userData: string;
  files: NodeFile[];
}

export interface RenderOptions {
  /** Node name → private IP, known after apply for clusters on an existing network; model IPs otherwise. */
  addresses?: Record<string, string>;
  /** Public address of the head (floating IP) when known. */
  headPublicIp?: string;
  /** The Slurm version installed on the head (`slurmctld -V`), when known; else the oldest supported. */
  slurmVersion?: string;
  /** Secret values by SecretRef.key; when absent, secret files carry a placeholder like "<secret:munge.key>". */
  secrets?: Record<string, Buffer>;
}

export function secretPlaceholder(key: string): string {
  return `<secret:${key}>`;
}

/** Every node's bundle, head first. */
export function renderCluster(cluster: Cluster, opts: RenderOptions = {}): NodeBundle[] {
  const book = addressBook(cluster, opts.addresses, opts.headPublicIp, opts.slurmVersion);
  // User-data sees only what the model knows before apply, so it is the same before and after.
  const bootBook = addressBook(cluster);
  const nodes = [cluster.head, ...cluster.computes];
  // Most files are the same on every node (slurm.conf, hosts lines): render each distinct view once.
  const memo = new Map<string, string>();
  return nodes.map((node) => ({
    node,
    files: [...renderRows(cluster, node, book, memo).map((r) => r.file), ...secretFiles(cluster, node, opts.secrets)],
    userData: renderUserData(cluster, node, bootBook, memo),
  }));
}

function rowsFor(cluster: Cluster, node: ClusterNode) {
  return FILE_ROWS.filter((r) => r.roles.includes(node.role) && (!r.when || r.when(cluster)));
}

interface Rendered {
  file: NodeFile;
  addressList: boolean;
}

function renderRows(cluster: Cluster, node: ClusterNode, book: AddressBook, memo: Map<string, string>): Rendered[] {
  const render = (template: string, view: object) => {
    const key = `${template}\0${JSON.stringify(view)}`;
    let text = memo.get(key);
    if (text === undefined) memo.set(key, (text = templates().render(template, view)));
    return text;
  };
  return rowsFor(cluster, node).map((r) => ({
    file: {
      path: r.path(cluster),
      mode: r.mode,
      owner: r.owner(cluster),
      content: render(r.template, r.view(cluster, node, book)),
      concern: r.concern,
      targets: [...r.targets],
    },
    addressList: r.addressList === true,
  }));
}

function secretFiles(cluster: Cluster, node: ClusterNode, values: Record<string, Buffer> | undefined): NodeFile[] {
  return cluster.secrets
    .filter((s) => s.nodes === "all" || node.role === "head")
    .map((s) => {
      const value = values?.[s.key];
      return {
        path: s.path,
        mode: s.mode,
        owner: s.owner,
        content: value ?? secretPlaceholder(s.key),
        concern: secretConcern(s.key),
        secret: s.key,
        targets: ["openstack", "local", "machines"] as Target[],
      };
    });
}

function nodeHeader(cluster: Cluster, node: ClusterNode) {
  return { clusterName: cluster.name, clusterId: cluster.id, node: { name: node.name, role: node.role }, isHead: node.role === "head" };
}

function renderUserData(cluster: Cluster, node: ClusterNode, book: AddressBook, memo: Map<string, string>): string {
  const header = nodeHeader(cluster, node);
  const setup = {
    path: NODE_FILES.setup, mode: "0755", owner: "root:root",
    content: templates().render("cloud-init/node-setup.sh", {
      ...header,
      munge: mungeView(cluster),
      slurm: slurmView(cluster, node, book),
      nfs: nfsView(cluster, book),
      jobserver: jobserverView(cluster, book),
      nginx: nginxView(cluster, book),
    }),
  };
  const cloudFiles = renderRows(cluster, node, book, memo).filter((r) => r.file.targets.includes("openstack"));
  const view = (withAddressLists: boolean) => ({
    ...header,
    dns: cluster.dns ?? null,
    user: { name: cluster.jobserver.user, uid: cluster.jobserver.uid, home: cluster.jobserver.dataDir },
    files: [...cloudFiles.filter((r) => withAddressLists || !r.addressList).map((r) => r.file), setup].map((f) => ({ path: f.path, owner: f.owner, mode: f.mode, content: String(f.content) })),
    setupScript: NODE_FILES.setup,
    slurmConf: SLURM_PATHS.conf,
    // Model choices: NFS packages only where the shared folder travels over NFS; an apt proxy where nodes have no route out.
    nfs: cluster.sharedFs.kind === "nfs",
    aptProxy: cluster.downloads.aptProxy,
    phoneHome: phoneHomeView(cluster, node, book),
  });
  // Address lists come from the SSH push when they are incomplete before apply or too big for Nova.
  let v = view(allAddressesKnown(cluster, book));
  let text = templates().render("cloud-init/user-data", v);
  if (Buffer.from(text).toString("base64").length > USER_DATA_MAX_BASE64) {
    v = view(false);
    text = templates().render("cloud-init/user-data", v);
    if (Buffer.from(text).toString("base64").length > USER_DATA_MAX_BASE64) {
      throw new Error(`user-data of ${node.name} is ${Buffer.byteLength(text)} bytes, over Nova's limit of ${USER_DATA_MAX_BASE64} bytes in base64`);
    }
  }
  checkUserData(text, v.files);
  return text;
}

/**
 * An on-demand node posts its host keys to the head's power agent at the end of its first boot. The
 * URL here holds the model's head address (the widest IPv4 while the cloud has not assigned it) and a zero nonce; the agent puts the head's address as the
 * cloud gave it and a fresh one-time nonce into each server's copy (scripts/elastic/openstack/host-keys.ts),
 * so this rendering has the size the cloud receives.
 */
function phoneHomeView(cluster: Cluster, node: ClusterNode, book: AddressBook): { url: string; tries: number } | null {
  const port = cluster.elastic?.hostKeyPort;
  if (node.power !== "on-demand" || !port) return null;
  // cloud-init waits 3 s between tries: one try short of the node's resume timeout.
  const tries = Math.max(1, Math.floor(cluster.elastic!.resumeTimeoutSeconds / 3) - 1);
  return { url: hostKeyUrl(book.of(cluster.head) ?? "255.255.255.255", port, "0".repeat(HOST_KEY_NONCE_HEX)), tries };
}

/** The rendered YAML must carry every file byte for byte (guards the template's quoting). */
function checkUserData(text: string, files: { path: string; content: string }[]): void {
  let doc: { write_files?: { path: string; content: string }[] };
  try {
    doc = parseYaml(text) as typeof doc;
  } catch (e) {
    throw new TemplateError("cloud-init/user-data.hbs", undefined, `rendered text is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  for (const f of files) {
    const got = doc.write_files?.find((w) => w.path === f.path);
    if (!got || got.content !== f.content) throw new TemplateError("cloud-init/user-data.hbs", undefined, `write_files entry ${f.path} does not reproduce the file's content`);
  }
}

export interface RenderToDirOptions {
  /** Only the files this target pushes (and no user-data for the local target). Default: everything. */
  target?: Target;
}

/**
 * Writes DIR/<node>/user-data, DIR/<node>/files/<absolute path> and a
 * DIR/<node>/files.json manifest (path, mode, owner, concern, secret, targets). Each node folder is
 * replaced as a whole so no stale file survives a re-render.
 */
export function renderToDir(bundles: NodeBundle[], outDir: string, opts: RenderToDirOptions = {}): void {
  for (const b of bundles) {
    const dir = join(outDir, b.node.name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const files = opts.target ? b.files.filter((f) => f.targets.includes(opts.target!)) : b.files;
    if (opts.target !== "local") {
      writeFileSync(join(dir, "user-data"), b.userData, { mode: 0o644 });
    }
    for (const f of files) {
      const dest = join(dir, "files", f.path);
      mkdirSync(dirname(dest), { recursive: true, mode: 0o755 });
      writeFileSync(dest, f.content, { mode: f.secret ? 0o600 : 0o644 });
    }
    const manifest = files.map((f) => ({ path: f.path, mode: f.mode, owner: f.owner, concern: f.concern, secret: f.secret ?? null, targets: f.targets }));
    writeFileSync(join(dir, "files.json"), JSON.stringify(manifest, null, 2) + "\n", { mode: 0o644 });
  }
}
