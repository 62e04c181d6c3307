import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { NAME_PATTERN, parseSpec, resolveCluster, SpecError, type Cluster, type ClusterSpec } from "../../stacks/model/index.js";
import { ClusterState, stateRoot } from "./store.js";
import { UsageError } from "../errors.js";

/** The resolved model `up` saved, so down/status/ssh work from the cluster name alone. */
export const MODEL_FILE = "model.json";

export interface Loaded {
  spec: ClusterSpec;
  cluster: Cluster;
  state: ClusterState;
}

/**
 * Reads and validates a spec. `name` overrides the spec's name (CI pipelines give each run its own
 * cluster from one spec file: --name ci-$RUN_ID).
 */
function readSpecFile(file: string, cwd: string, name?: string): ClusterSpec {
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
  const specDir = dirname(resolve(opts.cwd, file));
  const cluster = resolveCluster(spec, ident ? { id: spec.id ?? ident.id, createdAt: ident.createdAt, specDir } : { specDir });
  return { spec, cluster, state };
}

/**
 * The cluster a down/status/ssh means: from the spec (preferring the model saved at up, which
 * carries the real id and creation time) or from the name alone (`cluster` undefined when nothing
 * was saved under that name).
 */
export function findCluster(opts: { spec?: string; name?: string; cwd: string; env: NodeJS.ProcessEnv; verb: string }): { state: ClusterState; cluster?: Cluster } {
  if (opts.spec) {
    const { cluster, state } = loadCluster(opts.spec, { cwd: opts.cwd, env: opts.env, persist: false, ...(opts.name ? { name: opts.name } : {}) });
    return { cluster: state.readJson<Cluster>(MODEL_FILE) ?? cluster, state };
  }
  if (!opts.name) throw new UsageError(`${opts.verb} needs --spec FILE or --name NAME to know which cluster`);
  if (!NAME_PATTERN.test(opts.name)) throw new UsageError(`--name must match ${NAME_PATTERN.source}, got ${JSON.stringify(opts.name)}`);
  const state = new ClusterState(opts.name, stateRoot(opts.env));
  const cluster = state.readJson<Cluster>(MODEL_FILE);
  return cluster ? { cluster, state } : { state };
}
