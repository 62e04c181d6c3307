import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseSpec, resolveCluster, type Cluster, type ClusterSpec } from "../../stacks/model/index.js";
import { ClusterState, stateRoot } from "../state/store.js";
import { UsageError } from "./args.js";

export interface Loaded {
  spec: ClusterSpec;
  cluster: Cluster;
  state: ClusterState;
}

export function readSpecFile(file: string, cwd: string): ClusterSpec {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read --spec ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseSpec(text, file);
}

/**
 * Loads a spec and resolves it with the cluster's saved identity. `persist` creates the identity
 * the first time (synth, up); without it an unsaved cluster gets a throw-away id (validate).
 */
export function loadCluster(file: string, opts: { cwd: string; env: NodeJS.ProcessEnv; persist: boolean }): Loaded {
  const spec = readSpecFile(file, opts.cwd);
  const state = new ClusterState(spec.name, stateRoot(opts.env));
  const ident = opts.persist ? state.identity(spec.id) : state.peekIdentity();
  const cluster = resolveCluster(spec, ident ? { id: spec.id ?? ident.id, createdAt: ident.createdAt } : {});
  return { spec, cluster, state };
}
