/**
 * The server `partkit bench` measures: a throwaway embedded PostgreSQL (default), or a scratch
 * database given with --database-url. Cold samples need both a restart of the server (its
 * shared buffers) and an empty OS page cache, so only a server the benchmark started, run as
 * root, can give them.
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { resolveConnection, type ConnectionTarget } from '../core/connection.js';
import type { Database } from '../core/db.js';
import { UsageError } from '../core/errors.js';
import { startEmbeddedServer, type EmbeddedServer } from '../throwaway/server.js';

/** Durability only costs time on a throwaway server; autovacuum off so that none runs in the middle of a measurement. */
export const EMBEDDED_SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', autovacuum: 'off', max_wal_size: '4GB' } as const;

export interface BenchServer {
  readonly kind: 'embedded' | 'external';
  target(): ConnectionTarget;
  /** Null when cold samples can be taken, else why not (printed as is). */
  readonly coldUnavailable: string | null;
  /** Stops the server, empties the OS page cache and starts it again. */
  restartCold(): Promise<void>;
  stop(): Promise<void>;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export async function startBenchServer(databaseUrl: string | undefined): Promise<BenchServer> {
  if (databaseUrl !== undefined) {
    const target = resolveConnection(databaseUrl);
    return {
      kind: 'external',
      target: () => target,
      coldUnavailable: 'cannot measure cold: the server was given with --database-url, and only a server partkit bench starts itself can be restarted with its caches emptied',
      restartCold: () => Promise.reject(new Error('cold samples need the embedded server')),
      stop: async () => undefined,
    };
  }
  let server: EmbeddedServer = await startEmbeddedServer({ settings: EMBEDDED_SETTINGS, persistent: true });
  const { dataDir, password, port } = server;
  const coldUnavailable = isRoot() ? null : 'cannot measure cold: emptying the OS page cache (echo 3 > /proc/sys/vm/drop_caches) needs root, and partkit bench does not run as root';
  let stopped = false;
  // persistent (so that a cold restart keeps the data), so the folder is removed here, after the server's own exit hook stopped it.
  const removeFolder = (): void => rmSync(path.dirname(dataDir), { recursive: true, force: true });
  process.once('exit', removeFolder);
  return {
    kind: 'embedded',
    target: () => resolveConnection(server.url),
    coldUnavailable,
    async restartCold() {
      await server.stop();
      execFileSync('sync');
      writeFileSync('/proc/sys/vm/drop_caches', '3\n');
      server = await startEmbeddedServer({ settings: EMBEDDED_SETTINGS, dataDir, password, port, persistent: true });
      // Registered again after the new server's exit hook, so that it still runs after it.
      process.removeListener('exit', removeFolder);
      process.once('exit', removeFolder);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      process.removeListener('exit', removeFolder);
      removeFolder();
    },
  };
}

export async function connectClient(target: ConnectionTarget): Promise<pg.Client> {
  const client = new pg.Client({ ...target.config, application_name: 'partkit-bench' });
  client.on('error', () => undefined);
  await client.connect();
  // Bounds written from now() count months in UTC, as the literal ones do.
  await client.query(`SET TimeZone = 'UTC'`);
  return client;
}

/**
 * The end of a section, however it ends: its connections closed and a throwaway server stopped; in a
 * given database the tables stay for inspection, and the line says how to remove them.
 */
export async function endSection(server: BenchServer, client: pg.Client | undefined, db: Database | undefined, schemas: readonly string[], progress: (line: string) => void): Promise<void> {
  await client?.end().catch(() => undefined);
  await db?.close();
  await server.stop();
  if (server.kind === 'external') progress(`The tables stay in the given database: DROP SCHEMA ${schemas.join(', ')} CASCADE; removes them.`);
}

/** The server's version() without its build details, e.g. "PostgreSQL 17.2 (Debian 17.2-1)" -> "PostgreSQL 17.2", for a report's header. */
export async function serverVersionText(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ v: string }>('SELECT version() AS v');
  return rows[0]!.v.replace(/ on .*| \(.*/, '');
}

/** A given database must not have a section's schemas already: the benchmark creates them (and would measure over someone's tables). */
export async function refuseExistingSchemas(client: pg.Client, schemas: readonly string[]): Promise<void> {
  const { rows } = await client.query<{ nspname: string }>('SELECT nspname::text FROM pg_namespace WHERE nspname = ANY ($1::text[])', [schemas]);
  if (rows.length > 0) {
    throw new UsageError(
      `Schema ${rows.map((row) => row.nspname).join(', ')} already exists in this database; partkit bench only runs where it can create its schemas.`,
      `Use a scratch database, or drop ${schemas.length === 1 ? 'it' : 'them'} first: DROP SCHEMA ${schemas.join(', ')} CASCADE;`,
    );
  }
}
