// One interface for every way of running a job. An executor reports progress through `onUpdate`;
// the job service owns the phase machine and the database.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import type { Phase } from "../store/jobs-db.js";

/**
 * What a job's work dir needs before the job starts, written by the executor: the local executor's
 * launcher does it (off the server's event loop: these are several synchronous file-system calls
 * per job); `prepareWorkDir` does it for the others. Paths are absolute, inside the work dir,
 * which exists already.
 */
export interface WorkDirFiles {
  /** Created in order (0755). */
  dirs: string[];
  /** Written (`text`, with `mode`) or copied (`copyFrom`, keeping its mode). */
  files: Array<{ path: string; text: string; mode: number } | { path: string; copyFrom: string }>;
}

/** Same steps as the launcher's `prepare` (launcher.mjs). */
export function prepareWorkDir(w: WorkDirFiles): void {
  for (const d of w.dirs) {
    // Not recursive: a work dir removed meanwhile (job destroyed) is an error, never made again.
    try {
      mkdirSync(d, { mode: 0o755 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
  for (const f of w.files) {
    if ("copyFrom" in f) copyFileSync(f.copyFrom, f.path);
    else writeFileSync(f.path, f.text, { mode: f.mode });
  }
}

export interface LaunchSpec {
  jobId: string;
  /** The job's work dir (on a shared filesystem for Slurm). */
  workDir: string;
  /** argv[0] is the executable. Values are separate elements: nothing is ever parsed by a shell. */
  argv: string[];
  env: Record<string, string>;
  cpus: number;
  memoryMb: number;
  /** Seconds, 0 = unlimited (the service enforces it; executors may add a backstop). */
  durationSec: number;
  /** Files to put in the work dir first; absent when it is ready (a job tracked again). */
  prepare?: WorkDirFiles;
}

export interface ExecUpdate {
  phase: Extract<Phase, "QUEUED" | "EXECUTING" | "COMPLETED" | "ERROR" | "ABORTED" | "HELD" | "SUSPENDED">;
  /** New executor handle to persist (pid record, Slurm job id). */
  ref?: string;
  message?: string;
  /** Epoch ms the job started / ended, from the executor's own record (Slurm accounting). */
  startedAt?: number;
  endedAt?: number;
}

export type UpdateSink = (jobId: string, u: ExecUpdate) => void;

export interface Executor {
  readonly name: "local" | "slurm";
  /** Queues the job; reports QUEUED/EXECUTING/... through the sink. */
  submit(spec: LaunchSpec): Promise<void>;
  /** Stops the job (process group / scancel). Idempotent. */
  cancel(jobId: string, ref: string | null): Promise<void>;
  /** After a restart: track an active job again, or report ERROR when it is gone. */
  reattach(jobId: string, ref: string | null, workDir: string, spec: () => LaunchSpec): Promise<void>;
  /**
   * PHASE=RUN on a HELD job: lift the hold (Slurm: `scontrol release`). Absent when the executor
   * never holds jobs (local). Throws with the executor's message when the hold cannot be lifted.
   */
  release?(jobId: string, ref: string | null): Promise<void>;
  /** Immediate status refresh (a job's authenticated callback). */
  poke?(jobId: string): void;
  close(): Promise<void>;
}

/**
 * Exit status file in the job's work dir, written atomically once the job has ended (by the local
 * executor's launcher, by the Slurm batch script): readable after a server restart. A job killed by
 * signal n has status 128 + n.
 */
export const EXIT_FILE = ".uws-exit";
