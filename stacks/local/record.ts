/**
 * The local target's state file (`local.json` in the cluster's state dir). Every host object is
 * recorded *before* it is created and the file is rewritten synchronously, so `down` can remove
 * everything even when `up` died half-way. Removal tolerates things that never came to exist.
 */
import type { Proc } from "./sys.js";

export interface NodeRecord {
  netns: string;
  veth: string;
  ip: string;
  holder?: Proc;
  /** Daemons started in the node, by service name. */
  daemons: Record<string, Proc>;
}

export interface LocalRecordData {
  version: 1;
  cluster: string;
  bridge?: string;
  /** Host directories this cluster created (removed at down, deepest first). */
  dirs: string[];
  nodes: Record<string, NodeRecord>;
  /** Elastic clusters: the host-side power agent (stopped first at down, by this PID). */
  agent?: Proc;
  startedAt: string;
}

/** Where the record lives: anything with readJson/writeJson (ClusterState). */
export interface RecordStore {
  readJson<T>(file: string): T | undefined;
  writeJson(file: string, value: unknown): void;
}

export const RECORD_FILE = "local.json";

export class LocalRecord {
  private constructor(private readonly store: RecordStore, readonly data: LocalRecordData) {}

  static open(store: RecordStore, cluster: string): LocalRecord {
    const data = store.readJson<LocalRecordData>(RECORD_FILE) ?? { version: 1, cluster, dirs: [], nodes: {}, startedAt: new Date().toISOString() };
    return new LocalRecord(store, data);
  }

  static read(store: RecordStore): LocalRecord | undefined {
    const data = store.readJson<LocalRecordData>(RECORD_FILE);
    return data ? new LocalRecord(store, data) : undefined;
  }

  /**
   * Applies a change and persists it at once. The file is read again first: an elastic cluster's
   * power agent (another process) adds and removes nodes while the cluster runs.
   */
  update(change: (d: LocalRecordData) => void): void {
    const fresh = this.store.readJson<LocalRecordData>(RECORD_FILE);
    if (fresh && fresh !== this.data) {
      for (const k of Object.keys(this.data)) delete (this.data as unknown as Record<string, unknown>)[k];
      Object.assign(this.data, fresh);
    }
    change(this.data);
    this.store.writeJson(RECORD_FILE, this.data);
  }

  node(name: string): NodeRecord {
    const n = this.data.nodes[name];
    if (!n) throw new Error(`node ${name} is not in the local record`);
    return n;
  }
}
