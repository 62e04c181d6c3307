/**
 * The local state of a cluster: its generated id and creation time, its secrets and SSH key, and
 * whatever a target records while creating it. One folder per cluster name, 0700, files 0600.
 * Root: $UWS_CLUSTER_HOME, else $XDG_STATE_HOME/uws-cluster, else ~/.local/state/uws-cluster.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { generateClusterId } from "../../stacks/model/index.js";

export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.UWS_CLUSTER_HOME) return env.UWS_CLUSTER_HOME;
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, "uws-cluster");
  return join(homedir(), ".local", "state", "uws-cluster");
}

export interface ClusterIdentity {
  id: string;
  createdAt: string;
}

export class ClusterState {
  readonly dir: string;
  constructor(readonly name: string, root: string = stateRoot()) {
    this.dir = join(root, name);
  }

  /** The id and creation time, generated and saved the first time (so re-synth keeps the same tags). */
  identity(pinnedId?: string, now = new Date()): ClusterIdentity {
    const existing = this.readJson<ClusterIdentity>("cluster.json");
    if (existing && (!pinnedId || existing.id === pinnedId)) return existing;
    const ident = { id: pinnedId ?? generateClusterId(), createdAt: now.toISOString().replace(/\.\d+Z$/, "Z") };
    this.writeJson("cluster.json", ident);
    return ident;
  }

  /** Identity when already saved, without creating anything (for validate/status). */
  peekIdentity(): ClusterIdentity | undefined {
    return this.readJson<ClusterIdentity>("cluster.json");
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  readJson<T>(file: string): T | undefined {
    const p = this.path(file);
    if (!existsSync(p)) return undefined;
    return JSON.parse(readFileSync(p, "utf8")) as T;
  }

  /** Atomic write, 0600, folder 0700. */
  writeJson(file: string, value: unknown): void {
    this.writeFile(file, JSON.stringify(value, null, 2) + "\n");
  }

  writeFile(file: string, content: string | Buffer): void {
    const p = this.path(file);
    mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    const tmp = `${p}.tmp-${process.pid}`;
    writeFileSync(tmp, content, { mode: 0o600 });
    renameSync(tmp, p);
  }
}
