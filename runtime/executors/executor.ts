// One interface for every way of running a job. An executor reports progress through `onUpdate`;
// the job service owns the phase machine and the database.
import type { Phase } from "../store/jobs-db.js";

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

/** Exit status file written by the job wrapper; readable after a server restart. */
export const EXIT_FILE = ".uws-exit";

/**
 * The wrapper around every job command. Its text is constant: the command and its values arrive
 * as positional parameters ("$@") and are never parsed by the shell.
 */
export const WRAPPER_SCRIPT = `#!/bin/sh
"$@"
s=$?
echo "$s" > .uws-exit.tmp && mv .uws-exit.tmp .uws-exit
exit "$s"
`;
