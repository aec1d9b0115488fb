/**
 * Who holds the lock a statement waits for: read by the executor's monitor while the statement
 * runs, and named when partkit gives up on the lock (exit 5), so that the user knows whom to wait for.
 */
import { LockError, sqlState } from './errors.js';
import { readSql } from './sql-files.js';

/** A session that holds a lock another waits for, as pg_stat_activity shows it. */
export interface Blocker {
  readonly pid: number;
  readonly user: string | null;
  readonly application_name: string | null;
  readonly state: string | null;
  /** Seconds since its transaction (else its query) began. */
  readonly seconds: number | null;
  /** The start of its current or last query. */
  readonly query: string | null;
}

/** The sessions that block the backend `pid` (pg_blocking_pids), oldest transaction first: the statement and its parameter. */
export function blockersQuery(pid: number): { sql: string; params: [number] } {
  // Read when first needed (readSql keeps it), not when the executor is loaded: most runs meet no busy lock.
  return { sql: readSql('queries/blockers.sql'), params: [pid] };
}

/** "pid 4711 (application_name "report", user app, idle in transaction for 42 s: SELECT ...)" */
export function describeBlocker(blocker: Blocker): string {
  const facts = [
    `application_name ${JSON.stringify(blocker.application_name ?? '')}`,
    ...(blocker.user ? [`user ${blocker.user}`] : []),
    ...(blocker.state || blocker.seconds !== null ? [`${blocker.state ?? 'running'}${blocker.seconds !== null ? ` for ${blocker.seconds} s` : ''}`] : []),
  ];
  return `pid ${blocker.pid} (${facts.join(', ')}${blocker.query ? `: ${blocker.query}` : ''})`;
}

/**
 * The error of a lock partkit gave up on: `what` (and how long it tried), the sessions that held
 * the lock when last seen, and what was left undone (`undone`, a sentence).
 */
export function lockGivenUp(what: string, blockers: readonly Blocker[], error: unknown, undone = 'Nothing of it was applied.'): LockError {
  const held = blockers.length > 0 ? `blocked by ${blockers.map(describeBlocker).join('; ')}` : 'the session holding the lock was not seen';
  const end = blockers.length > 0 ? `, or end it (SELECT pg_terminate_backend(${blockers[0]!.pid});)` : '';
  const code = sqlState(error);
  return new LockError(
    `${what}: ${held}${code ? ` (SQLSTATE ${code})` : ''}. ${undone}`,
    `Let that session finish${end}, then run the command again; --lock-timeout and --lock-retries set how long partkit waits.`,
    { cause: error },
  );
}
