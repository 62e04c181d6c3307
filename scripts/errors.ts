/**
 * The one error base of the CLI and its operations: every error a user can meet carries its exit
 * code (documented in the README) and a kind for `--json`. Anything else thrown is exit 1.
 */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  preflight: 3,
  notReady: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(message: string, readonly exitCode: ExitCode = EXIT.failure, readonly kind: string = "error", readonly details?: unknown) {
    super(message);
    this.name = new.target.name;
  }
}

/** A flag, argument or configuration the user must change (exit 2). */
export class UsageError extends CliError {
  constructor(message: string, kind = "usage") {
    super(message, EXIT.usage, kind);
  }
}

/** Something this machine or cloud lacks; nothing was created (exit 3). */
export class PreflightError extends CliError {
  constructor(message: string, details?: unknown) {
    super(message, EXIT.preflight, "preflight", details);
  }
}
