/**
 * The executor's connections: partkit's own, or an application's borrowed for a call, each with
 * partkit's session settings (lock_timeout, read-only for previews, client_connection_check_interval),
 * which a borrowed connection gets back as they were.
 */
import pg from 'pg';
import { connectionError, type ConnectionTarget } from './connection.js';
import { ConnectionError, failureKind, sqlState } from './errors.js';
import { quoteLiteral } from './identifiers.js';

/** The settings a session takes from the executor's options. */
export interface SessionSettings {
  /** The longest one statement waits for a lock (a PostgreSQL duration: 500ms, 1s). */
  readonly lockTimeout: string;
  /** Every transaction of the session is read-only (default_transaction_read_only): for previews, which must write nothing. */
  readonly readOnly?: boolean | undefined;
}

/** How often the server checks that partkit's socket is still open while a statement runs (PostgreSQL 14+). */
const CONNECTION_CHECK_INTERVAL = '1s';

/** A connection and its server process, which the monitor watches and cancels. */
export interface Session {
  readonly client: pg.ClientBase;
  readonly pid: number;
  /** Ends partkit's own connection, or gives an application's back with the settings it had. */
  close(): Promise<void>;
  /** Drops the connection at once (a statement that could not be cancelled). */
  destroy(): void;
}

/** A new connection of partkit's own, without session settings (the monitor's). */
export async function connect(target: ConnectionTarget): Promise<pg.Client> {
  const client = new pg.Client(target.config);
  // A dropped connection is reported by the next query; keep the process from crashing on 'error'.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw connectionError(target, error);
  }
  return client;
}

/**
 * Gives a connection partkit's session settings: the lock_timeout (inspection waits no longer than
 * the steps do), read-only for previews, and client_connection_check_interval where the server has
 * it (14+), so that a statement of a killed partkit does not run on for minutes. Returns the
 * backend's pid and the statement that puts every setting it changes back as it was.
 */
async function setUpSession(client: pg.ClientBase, options: SessionSettings): Promise<{ pid: number; restore: { sql: string; params: string[] } }> {
  const { rows } = await client.query<{ pid: number; version: number; lock_timeout: string; read_only: string; time_zone: string; check_interval: string | null }>(
    `SELECT pg_backend_pid() AS pid, current_setting('server_version_num')::int AS version, current_setting('lock_timeout') AS lock_timeout,
            current_setting('default_transaction_read_only') AS read_only, current_setting('TimeZone') AS time_zone,
            current_setting('client_connection_check_interval', true) AS check_interval`,
  );
  const before = rows[0]!;
  await client.query("SELECT set_config('lock_timeout', $1, false)", [options.lockTimeout]);
  if (options.readOnly) await client.query('SET default_transaction_read_only = on');
  if (before.version >= 140000) await client.query(`SET client_connection_check_interval = ${quoteLiteral(CONNECTION_CHECK_INTERVAL)}`);
  // TimeZone too: steps that need one set it for the session and put it back, but a failed step may not have.
  const names = ['lock_timeout', 'default_transaction_read_only', 'TimeZone', ...(before.check_interval !== null ? ['client_connection_check_interval'] : [])];
  const values = [before.lock_timeout, before.read_only, before.time_zone, ...(before.check_interval !== null ? [before.check_interval] : [])];
  return { pid: before.pid, restore: { sql: `SELECT ${names.map((name, i) => `set_config('${name}', $${i + 1}, false)`).join(', ')}`, params: values } };
}

/** A connection of partkit's own, with its session settings (setUpSession). */
export async function openSession(target: ConnectionTarget, options: SessionSettings): Promise<Session> {
  const client = await connect(target);
  try {
    const { pid } = await setUpSession(client, options);
    return { client, pid, close: () => client.end(), destroy: () => void client.end().catch(() => undefined) };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw failureKind(error) === 'connection' ? lostConnection(target, error) : error;
  }
}

/** An application's connection with partkit's session settings; closing it puts its own back and gives it back. */
export async function borrowSession(client: pg.ClientBase, target: ConnectionTarget, options: SessionSettings, giveBack: (error?: Error) => void | Promise<void>): Promise<Session> {
  try {
    const { pid, restore } = await setUpSession(client, options);
    return {
      client,
      pid,
      close: async () => {
        await client.query(restore.sql, restore.params).catch(() => undefined);
        await giveBack();
      },
      destroy: () => void Promise.resolve(giveBack(new Error('partkit could not cancel its statement on this connection'))).catch(() => undefined),
    };
  } catch (error) {
    // A connection that failed is given back as broken (a pool drops it); any other stays the application's.
    await giveBack(failureKind(error) === 'connection' && error instanceof Error ? error : undefined);
    throw failureKind(error) === 'connection' ? lostConnection(target, error) : error;
  }
}

/** The session was terminated (pg_terminate_backend, a server shutdown) or the network dropped. */
export function lostConnection(target: ConnectionTarget, error: unknown): ConnectionError {
  const code = sqlState(error);
  const reason = error instanceof Error ? error.message : String(error);
  return new ConnectionError(
    `Lost the connection to ${target.display}: ${reason}${code ? ` (SQLSTATE ${code})` : ''}.`,
    'The session was terminated or the server went away; the statement in progress was rolled back. Check the server, then run again.',
    { cause: error },
  );
}
