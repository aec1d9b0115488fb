/**
 * Typed errors. Every failure partkit reports maps to one exit code, so scripts and CI
 * can tell "a check failed" from "you typed it wrong" from "the server is unreachable".
 */

export const ExitCode = {
  ok: 0,
  checkFailed: 1,
  usage: 2,
  connection: 3,
  missingCapability: 4,
  lockOrConflict: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class PartkitError extends Error {
  abstract readonly exitCode: ExitCode;
  /** A short "what to do next" line shown under the message. */
  readonly hint: string | undefined;

  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** A check (verify, a failed maintenance set) did not pass. */
export class CheckFailedError extends PartkitError {
  readonly exitCode = ExitCode.checkFailed;
}

/** Bad command-line arguments. */
export class UsageError extends PartkitError {
  readonly exitCode = ExitCode.usage;
}

/** Invalid configuration file; the message names the field. */
export class ConfigError extends PartkitError {
  readonly exitCode = ExitCode.usage;
}

/** The server could not be reached or refused the credentials. */
export class ConnectionError extends PartkitError {
  readonly exitCode = ExitCode.connection;
}

/** The server or a table lacks something partkit needs (an extension, a right, a column). */
export class MissingCapabilityError extends PartkitError {
  readonly exitCode = ExitCode.missingCapability;
}

/** A lock could not be taken in time, or the database is in a conflicting state. */
export class LockError extends PartkitError {
  readonly exitCode = ExitCode.lockOrConflict;
}

export function isPartkitError(error: unknown): error is PartkitError {
  return error instanceof PartkitError;
}

/** SQLSTATE of a server error, when there is one. */
export function sqlState(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}
