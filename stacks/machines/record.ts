/**
 * The machines target's state file (`machines.json` in the cluster's state dir): every host object
 * is recorded *before* it is created and the file is rewritten at once, so `down` removes
 * everything even when `up` died half-way. Removal tolerates things that never came to exist.
 */
import type { Proc } from "../local/sys.js";

export interface MachineRecord {
  /** systemd-nspawn --machine name (≤ 12 characters: the host side of its veth is `vb-<machine>`). */
  machine: string;
  ip: string;
  /** The node's folder: overlay upper/work dirs, the merged root, its console log. */
  dir: string;
  /** The merged root, while the overlay may be mounted there. */
  mount?: string;
  /** cgroup folders made for the node (name=systemd and unified hierarchies). */
  cgroups: string[];
  /** The launcher (bash loop around systemd-nspawn, restarting it when the node reboots). */
  launcher?: Proc;
}

export interface MachinesRecordData {
  version: 1;
  cluster: string;
  bridge?: string;
  /** iptables rules added (argv after -I/-D), removed at down. */
  rules: string[][];
  proxy?: Proc;
  /** Host folders this cluster created (removed at down, deepest first). */
  dirs: string[];
  nodes: Record<string, MachineRecord>;
  startedAt: string;
}

export interface RecordStore {
  readJson<T>(file: string): T | undefined;
  writeJson(file: string, value: unknown): void;
}

export const RECORD_FILE = "machines.json";

export class MachinesRecord {
  private constructor(private readonly store: RecordStore, readonly data: MachinesRecordData) {}

  static open(store: RecordStore, cluster: string): MachinesRecord {
    const data = store.readJson<MachinesRecordData>(RECORD_FILE) ?? { version: 1, cluster, rules: [], dirs: [], nodes: {}, startedAt: new Date().toISOString() };
    return new MachinesRecord(store, data);
  }

  static read(store: RecordStore): MachinesRecord | undefined {
    const data = store.readJson<MachinesRecordData>(RECORD_FILE);
    return data ? new MachinesRecord(store, data) : undefined;
  }

  /** Applies a change and persists it at once. */
  update(change: (d: MachinesRecordData) => void): void {
    change(this.data);
    this.store.writeJson(RECORD_FILE, this.data);
  }
}
