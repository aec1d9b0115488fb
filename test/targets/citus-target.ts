/**
 * The `citus` test target (see /work/shared/TARGETS.md, "Citus"): three PostgreSQL 17 clusters of
 * the trixie root, each with Citus (built there by test/targets/prepare.sh) and pg_cron preloaded
 * and pg_partman available: one coordinator and two workers on loopback ports. Started once per
 * run by test/targets/global-setup.ts, only when the run includes a test/citus*.test.ts file, and
 * stopped by PID in its teardown.
 *
 * Citus keeps its node list per database, so a test database is made on all three nodes and wired
 * up by test/helpers/citus.ts; the `postgres` database of each node is wired up here once, for
 * doctor-like smoke tests and for pg_cron (cron.database_name = postgres).
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { DebianCluster, HOST, SUPERUSER, TargetMissing } from './debian-cluster.js';

/** One node of the cluster (plain data: it crosses into the test workers). */
export interface CitusNodeInfo {
  readonly host: string;
  readonly port: number;
  readonly password: string;
}

/** What test files learn about the citus target. */
export interface CitusTargetInfo {
  readonly available: boolean;
  /** Why the target is missing (only when `available` is false). */
  readonly reason?: string;
  readonly superuser: string;
  readonly coordinator: CitusNodeInfo;
  readonly workers: readonly CitusNodeInfo[];
  /** citus extension default_version, e.g. "14.0-1"; '' when missing. */
  readonly citusVersion: string;
  /** server_version of the coordinator; '' when missing. */
  readonly version: string;
  /** Host folder with the PG 17 psql/pg_dump/pg_restore wrappers; '' if none. */
  readonly binDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    partkitCitus: CitusTargetInfo;
  }
}

export interface RunningCitus {
  readonly info: CitusTargetInfo;
  stop(): Promise<void>;
}

const TEST_DIR = fileURLToPath(new URL('../', import.meta.url));
const NO_NODE: CitusNodeInfo = { host: HOST, port: 0, password: '' };

export function missingCitusInfo(reason: string): CitusTargetInfo {
  return { available: false, reason, superuser: SUPERUSER, coordinator: NO_NODE, workers: [], citusVersion: '', version: '', binDir: '' };
}

/** The test/citus*.test.ts files: the citus target is started only for runs that include one. */
function citusTestFiles(): string[] {
  return readdirSync(TEST_DIR)
    .filter((file) => /^citus.*\.test\.ts$/.test(file))
    .map((file) => path.join(TEST_DIR, file));
}

/**
 * False when the run's file filters (`vitest run test/x.test.ts`) leave every citus test file out.
 * Vitest keeps the filters on an internal field: when it is absent, true.
 */
export function runIncludesCitusTests(project: TestProject): boolean {
  const filters = (project.vitest as unknown as { filenamePattern?: readonly string[] }).filenamePattern;
  if (filters === undefined || filters.length === 0) return true;
  const files = citusTestFiles();
  return filters.some((filter) => files.some((file) => file.includes(filter) || path.resolve(filter) === file));
}

/** Citus first: it must be loaded before any other extension that hooks the planner. */
const CITUS_SETTINGS: Record<string, string> = {
  shared_preload_libraries: 'citus,pg_cron',
  'cron.database_name': 'postgres',
  'cron.use_background_workers': 'on',
  max_worker_processes: '32',
  max_connections: '200',
  // The test machine has 2 cores shared by several runs: few shards keep the cluster light.
  'citus.shard_count': '4',
};

/** Runs `fn` on a short-lived superuser connection to `database` of one node. */
export async function withNode<T>(node: CitusNodeInfo, database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: node.host, port: node.port, user: SUPERUSER, password: node.password, database });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Makes `database` a Citus database: the extension and the password for connections between nodes
 * on every node, then on the coordinator its own host and the workers.
 */
export async function wireCitusDatabase(coordinator: CitusNodeInfo, workers: readonly CitusNodeInfo[], database: string): Promise<void> {
  for (const node of [coordinator, ...workers]) {
    await withNode(node, database, async (client) => {
      await client.query('CREATE EXTENSION IF NOT EXISTS citus');
      await client.query('INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) VALUES (0, $1, $2) ON CONFLICT DO NOTHING', [SUPERUSER, `password=${node.password}`]);
    });
  }
  await withNode(coordinator, database, async (client) => {
    await client.query('SELECT citus_set_coordinator_host($1, $2)', [HOST, coordinator.port]);
    for (const worker of workers) await client.query('SELECT citus_add_node($1, $2)', [HOST, worker.port]);
  });
}

/** Starts the coordinator and two workers; throws TargetMissing when Citus is not built. */
export async function startCitusTarget(chrootRoot: string, forceStopOnExit: Set<() => void>): Promise<RunningCitus> {
  if (!existsSync(path.join(chrootRoot, 'usr/lib/postgresql/17/lib/citus.so'))) {
    throw new TargetMissing(`Citus is not built in ${chrootRoot} (run: bash test/targets/prepare.sh as root)`);
  }
  const clusters: DebianCluster[] = [];
  const stop = async (): Promise<void> => {
    for (const cluster of clusters) forceStopOnExit.delete(forceStopOf.get(cluster)!);
    await Promise.allSettled(clusters.map((cluster) => cluster.remove()));
  };
  const forceStopOf = new Map<DebianCluster, () => void>();
  try {
    for (const role of ['coordinator', 'worker1', 'worker2']) {
      const cluster = await DebianCluster.init({ name: `citus-${role}`, major: 17, settings: CITUS_SETTINGS, chrootRoot });
      clusters.push(cluster);
    }
    await Promise.all(clusters.map((cluster) => cluster.start()));
    for (const cluster of clusters) {
      const forceStop = (): void => cluster.forceStop();
      forceStopOf.set(cluster, forceStop);
      forceStopOnExit.add(forceStop);
    }
    // One password for the three nodes: Citus connects between them over TCP (scram) with the
    // password of pg_dist_authinfo, whose row for node 0 applies to every node.
    const password = clusters[0]!.password;
    for (const cluster of clusters.slice(1)) {
      await withNode({ host: HOST, port: cluster.port, password: cluster.password }, 'postgres', (client) => client.query(`ALTER ROLE ${SUPERUSER} PASSWORD ${quoteLiteral(password)}`));
    }
    const nodes: CitusNodeInfo[] = clusters.map((cluster) => ({ host: HOST, port: cluster.port, password }));
    const [coordinator, ...workers] = nodes as [CitusNodeInfo, ...CitusNodeInfo[]];
    await wireCitusDatabase(coordinator, workers, 'postgres');
    const citusVersion = await withNode(coordinator, 'postgres', async (client) => {
      const active = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM citus_get_active_worker_nodes()');
      if (active.rows[0]?.n !== workers.length) throw new Error(`the coordinator sees ${active.rows[0]?.n ?? 0} active workers, not ${workers.length}`);
      const { rows } = await client.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'citus'`);
      return rows[0]?.v ?? '';
    });
    const info: CitusTargetInfo = {
      available: true,
      superuser: SUPERUSER,
      coordinator,
      workers,
      citusVersion,
      version: clusters[0]!.version,
      binDir: clusters[0]!.binDir,
    };
    return { info, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
