/**
 * The one error base of the CLI and its operations: every error a user can meet carries its exit
 * code (documented in the README) and a kind for `--json`. Errors from code that cannot import this
 * file (the model in stacks/) are mapped by `toCliError`; anything else thrown is exit 1.
 */
import { SpecError } from "../stacks/model/errors.js";

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
  constructor(message: string, kind = "usage", details?: unknown) {
    super(message, EXIT.usage, kind, details);
  }
}

/** Something this machine or cloud lacks; nothing was created (exit 3). */
export class PreflightError extends CliError {
  constructor(message: string, details?: unknown) {
    super(message, EXIT.preflight, "preflight", details);
  }
}

/** Any thrown value as a CliError: the model's SpecError is a usage error listing every field; other errors are exit 1. */
export function toCliError(e: unknown): CliError {
  if (e instanceof CliError) return e;
  if (e instanceof SpecError) return new UsageError(e.message, "spec", e.issues);
  return new CliError(e instanceof Error ? e.message : String(e));
}
