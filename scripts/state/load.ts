import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { NAME_PATTERN, parseSpec, resolveCluster, SpecError, type Cluster, type ClusterSpec } from "../../stacks/model/index.js";
import { ClusterState, stateRoot } from "../state/store.js";
import { UsageError } from "./args.js";

export interface Loaded {
  spec: ClusterSpec;
  cluster: Cluster;
  state: ClusterState;
}

/**
 * Reads and validates a spec. `name` overrides the spec's name (CI pipelines give each run its own
 * cluster from one spec file: --name ci-$RUN_ID).
 */
export function readSpecFile(file: string, cwd: string, name?: string): ClusterSpec {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read --spec ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const spec = parseSpec(text, file);
  if (name === undefined) return spec;
  if (!NAME_PATTERN.test(name)) {
    throw new SpecError([{ field: "--name", message: `must match ${NAME_PATTERN.source} (lower-case letter, then 1-40 of a-z 0-9 -), got ${JSON.stringify(name)}` }]);
  }
  return { ...spec, name, id: undefined };
}

/**
 * Loads a spec and resolves it with the cluster's saved identity. `persist` creates the identity
 * the first time (synth, up); without it an unsaved cluster gets a throw-away id (validate).
 */
export function loadCluster(file: string, opts: { cwd: string; env: NodeJS.ProcessEnv; persist: boolean; name?: string }): Loaded {
  const spec = readSpecFile(file, opts.cwd, opts.name);
  const state = new ClusterState(spec.name, stateRoot(opts.env));
  const ident = opts.persist ? state.identity(spec.id) : state.peekIdentity();
  const cluster = resolveCluster(spec, ident ? { id: spec.id ?? ident.id, createdAt: ident.createdAt } : {});
  return { spec, cluster, state };
}
