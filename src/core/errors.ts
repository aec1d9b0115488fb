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
  /** A defect: a JavaScript error partkit did not expect, or a server error that points at a bug. */
  internal: 6,
  /** Stopped by SIGINT (or an AbortSignal): 128 + 2, as a shell reports a command Ctrl-C ended. */
  interrupted: 130,
  /** Stopped by SIGTERM: 128 + 15. */
  terminated: 143,
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

/** A name (given, or derived from one: a month's child, a _partitioned twin) is longer than PostgreSQL keeps. */
export class IdentifierTooLongError extends PartkitError {
  readonly exitCode = ExitCode.usage;
}

/** A lock could not be taken in time (another partkit run, or a session holding a table). */
export class LockError extends PartkitError {
  readonly exitCode = ExitCode.lockOrConflict;
}

/**
 * The database's state conflicts with the request: a month overlaps an existing partition, a
 * name is taken, rows wait where a month would go. Nothing was changed; the message says what is in the way.
 */
export class ConflictError extends PartkitError {
  readonly exitCode = ExitCode.lockOrConflict;
}

/**
 * The run was stopped (SIGINT or SIGTERM to the CLI, or the AbortSignal given to the library):
 * the statement in progress was cancelled on the server and rolled back; steps that had
 * committed are kept, and a second run continues from there (every step is idempotent).
 */
export class InterruptedError extends PartkitError {
  readonly exitCode: ExitCode;
  /** `reason` is the AbortSignal's reason: 'SIGINT' or 'SIGTERM' from the CLI, anything else from a library caller. */
  constructor(reason: unknown, options?: { cause?: unknown }) {
    const by = reason === 'SIGINT' || reason === 'SIGTERM' ? reason : 'the caller (AbortSignal)';
    super(
      `Interrupted by ${by}: the statement in progress was cancelled on the server and rolled back; steps that had completed are kept.`,
      'Run the same command again: it continues where this run stopped.',
      options,
    );
    this.exitCode = reason === 'SIGTERM' ? ExitCode.terminated : ExitCode.interrupted;
  }
}

/** A bug in partkit (or the server): nothing the user typed or the database's state explains it. */
export class InternalError extends PartkitError {
  readonly exitCode = ExitCode.internal;
}

export const REPORT_BUG_HINT = 'This is a bug in partkit or the server, please report it (with the command and the message above).';

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

/**
 * What kind of failure a server (or driver) error is. The executor and the CLI both read this,
 * so a SQLSTATE maps to one exit code wherever it surfaces.
 */
export type FailureKind = 'usage' | 'connection' | 'missing' | 'lock' | 'conflict' | 'internal';

/** Exact SQLSTATEs that differ from their class. */
const SQLSTATE_KINDS: Readonly<Record<string, FailureKind>> = {
  '55P03': 'lock', // lock_not_available (lock_timeout)
  '40P01': 'lock', // deadlock_detected
  '40001': 'lock', // serialization_failure
  '57P01': 'connection', // admin_shutdown (pg_terminate_backend, a fast shutdown)
  '57P02': 'connection', // crash_shutdown
  '57P03': 'connection', // cannot_connect_now (starting up, shutting down)
  '57P04': 'connection', // database_dropped
  '57P05': 'connection', // idle_session_timeout
  '53300': 'connection', // too_many_connections
  '42501': 'missing', // insufficient_privilege
  '42601': 'internal', // syntax_error: partkit wrote bad SQL
  '42622': 'usage', // name_too_long: the kit refuses a child name over 63 bytes, as IdentifierTooLongError does
  '0A000': 'missing', // feature_not_supported (e.g. an old server)
  '58P01': 'missing', // undefined_file (an extension's library is not installed)
};

/** SQLSTATE classes (the first two characters); anything else is a conflict with the database's state. */
const SQLSTATE_CLASS_KINDS: Readonly<Record<string, FailureKind>> = {
  '08': 'connection', // connection exception
  '28': 'connection', // invalid authorization
  '3D': 'connection', // invalid catalog name (the database does not exist)
  '42': 'missing', // undefined table, function, schema...
  '22': 'internal', // data exception: partkit passed a value the server cannot take
  XX: 'internal', // internal error of the server
};

/** node-postgres and the socket report a lost connection without a SQLSTATE. */
const CONNECTION_LOST = /Connection terminated|connection error and is not queryable|Client was closed and is not queryable|ECONNRESET|EPIPE|socket hang up/i;

/** pg_partman re-raises the errors of its own statements as P0001 (raise_exception), keeping their message. */
const RERAISED_LOCK = /^(canceling statement due to lock timeout|deadlock detected|could not serialize access)/;

/** Whether a server error (its SQLSTATE and message) is a lock that was busy: retried, then exit 5. */
export function isLockFailure(code: string | undefined, message: string): boolean {
  return (code !== undefined && SQLSTATE_KINDS[code] === 'lock') || (code === 'P0001' && RERAISED_LOCK.test(message));
}

/** Classifies any thrown value; undefined when it is neither a server error nor a lost connection. */
export function failureKind(error: unknown): FailureKind | undefined {
  const code = sqlState(error);
  if (code !== undefined && isLockFailure(code, error instanceof Error ? error.message : '')) return 'lock';
  if (code !== undefined) return SQLSTATE_KINDS[code] ?? SQLSTATE_CLASS_KINDS[code.slice(0, 2)] ?? 'conflict';
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  if (errno === 'ECONNRESET' || errno === 'EPIPE' || errno === 'ECONNREFUSED') return 'connection';
  if (error instanceof Error && CONNECTION_LOST.test(error.message)) return 'connection';
  // A failed system call (writing an export, reading a file) is about the machine, not a bug.
  if (typeof errno === 'string' && typeof (error as NodeJS.ErrnoException).syscall === 'string') {
    return errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS' ? 'missing' : 'conflict';
  }
  return undefined;
}

/**
 * The one table from a kind of failure to its exit code. Typed errors carry the same codes:
 * IdentifierTooLongError and 42622 are both 2, LockError and ConflictError both 5.
 */
export const EXIT_CODE_OF_KIND: Readonly<Record<FailureKind, ExitCode>> = {
  usage: ExitCode.usage,
  connection: ExitCode.connection,
  missing: ExitCode.missingCapability,
  lock: ExitCode.lockOrConflict,
  conflict: ExitCode.lockOrConflict,
  internal: ExitCode.internal,
};

/** The class of each kind of failure partkit did not type itself (a lock and a bug are typed apart). */
const CLASS_OF_KIND: Readonly<Record<Exclude<FailureKind, 'lock' | 'internal'>, new (message: string, hint?: string, options?: { cause?: unknown }) => PartkitError>> = {
  usage: UsageError,
  connection: ConnectionError,
  missing: MissingCapabilityError,
  conflict: ConflictError,
};

/**
 * Any thrown value as a PartkitError with the exit code the CLI gives it: typed errors as they
 * are, a server error or lost connection by its kind (a lock error as LockError), anything else
 * as an InternalError (a bug, with REPORT_BUG_HINT). The original is its cause.
 */
export function typedError(error: unknown): PartkitError {
  if (isPartkitError(error)) return error;
  const kind = failureKind(error);
  const message = error instanceof Error ? error.message : String(error);
  if (kind === 'lock') return new LockError(message, 'Another session holds the table; retry later or raise the lock timeout.', { cause: error });
  if (kind === undefined || kind === 'internal') return new InternalError(message, REPORT_BUG_HINT, { cause: error });
  return new CLASS_OF_KIND[kind](message, undefined, { cause: error });
}
