/**
 * What test files use to reach the citus target started by test/targets/global-setup.ts
 * (test/targets/citus-target.ts): a fresh Citus database per call, made on the coordinator and
 * both workers and wired up (extension, coordinator host, workers), and queries on any node.
 *
 *   describeCitus('provision on Citus', () => {
 *     let db: CitusDatabase;
 *     beforeAll(async () => { db = await createCitusDatabase(); });
 *     afterAll(() => db.drop());
 *     it('distributes', async () => { await runPartkit(['provision', '--database-url', db.url]); });
 *   });
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import type { QueryResult, QueryResultRow } from 'pg';
import { describe, expect, inject } from 'vitest';
import { quoteIdent } from '../../src/core/identifiers.js';
import { wireCitusDatabase, withNode, type CitusNodeInfo, type CitusTargetInfo } from '../targets/citus-target.js';

export type { CitusTargetInfo };

/** The citus target's connection details; `available` is false (with `reason`) when it is missing. */
export function citusTarget(): CitusTargetInfo {
  const info = inject('partkitCitus');
  if (info === undefined) throw new Error('test/targets/global-setup.ts did not run (use vitest.config.ts).');
  return info;
}

/** A `describe` that is skipped, loudly, when the citus target is missing (only possible outside CI). */
export function describeCitus(title: string, fn: () => void): void {
  const info = citusTarget();
  if (info.available) {
    describe(title, fn);
    return;
  }
  console.warn(`\n!!! SKIPPED "${title}": test target citus is missing: ${info.reason ?? 'unknown reason'}\n`);
  describe.skip(`${title} [SKIPPED: citus missing]`, fn);
}

export interface CitusDatabase {
  readonly name: string;
  /** Superuser URL to this database on the coordinator. */
  readonly url: string;
  /** Runs one statement as the superuser on the coordinator, through a pool this object owns. */
  query<Row extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
  /** Runs one statement as the superuser in this database on worker `index` (0 or 1). */
  workerQuery<Row extends QueryResultRow = QueryResultRow>(index: number, sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
  /** Unschedules its pg_cron jobs, drops it on every node. Safe to call twice. */
  drop(): Promise<void>;
}

function nodeUrl(node: CitusNodeInfo, db: string): string {
  return `postgresql://postgres:${encodeURIComponent(node.password)}@${node.host}:${node.port}/${encodeURIComponent(db)}`;
}


/** A fresh, uniquely named database (`t_<test file>_<random>`) on every node, wired up for Citus. */
export async function createCitusDatabase(): Promise<CitusDatabase> {
  const info = citusTarget();
  if (!info.available) throw new Error(`Test target citus is missing: ${info.reason ?? 'unknown reason'}`);
  const testPath = expect.getState().testPath ?? '';
  const file = path.basename(testPath).replace(/\.test\.[cm]?[jt]s$/, '').toLowerCase().replace(/[^a-z0-9]+/g, '_').slice(0, 40);
  const name = `t_${file || 'x'}_${randomBytes(4).toString('hex')}`;
  const nodes = [info.coordinator, ...info.workers];
  for (const node of nodes) await withNode(node, 'postgres', (client) => client.query(`CREATE DATABASE ${quoteIdent(name)}`));
  await wireCitusDatabase(info.coordinator, info.workers, name);
  const pool = new pg.Pool({ connectionString: nodeUrl(info.coordinator, name), max: 4, allowExitOnIdle: true });
  pool.on('error', () => undefined); // terminated idle clients during drop() are expected
  let dropping: Promise<void> | undefined;
  return {
    name,
    url: nodeUrl(info.coordinator, name),
    query: (sql, params) => pool.query(sql, params),
    workerQuery: (index, sql, params) => withNode(info.workers[index]!, name, (client) => client.query(sql, params)),
    drop() {
      dropping ??= (async () => {
        await pool.end();
        await withNode(info.coordinator, 'postgres', (client) => client.query('SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1', [name]).catch(() => undefined));
        for (const node of nodes) {
          await withNode(node, 'postgres', (client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
        }
      })();
      return dropping;
    },
  };
}

/** How `table` (as SQL writes it) is distributed: its distribution column, and how many of its months are distributed tables. */
export async function distributionOf(db: CitusDatabase, table: string): Promise<{ column: string | null; months: number }> {
  const { rows } = await db.query<{ column: string | null; months: number }>(
    `SELECT (SELECT column_to_column_name(logicalrelid, partkey) FROM pg_dist_partition WHERE logicalrelid = $1::regclass) AS column,
            (SELECT count(*)::int FROM pg_dist_partition p JOIN pg_inherits i ON i.inhrelid = p.logicalrelid WHERE i.inhparent = $1::regclass) AS months`,
    [table],
  );
  return rows[0] ?? { column: null, months: 0 };
}
