/**
 * What test files use to reach the real servers started by test/targets/global-setup.ts:
 * a fresh database per call, roles for non-superuser tests, the built CLI and the real psql.
 *
 *   describeTarget('pg15-partman4', 'install', () => {
 *     let db: TestDatabase;
 *     beforeAll(async () => { db = await createTestDatabase('pg15-partman4'); });
 *     afterAll(() => db.drop());
 *     it('installs', async () => {
 *       const result = await runPartkit(['install', '--database-url', db.url]);
 *       expect(result.exitCode).toBe(0);
 *     });
 *   });
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import pg from 'pg';
import type { QueryResult, QueryResultRow } from 'pg';
import { describe, expect, inject } from 'vitest';
import type { TargetInfo, TargetName } from '../targets/global-setup.js';
import { fakeClockEnv } from '../targets/debian-cluster.js';
import { testClock } from './clock.js';
import { runCliInProcess } from './cli-in-process.mjs';

export type { TargetInfo, TargetName };

export const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));
/** PG 15's psql from the host; it speaks plain SQL to servers 14 to 18. */
export const HOST_PSQL = '/usr/lib/postgresql/15/bin/psql';

export interface Target extends TargetInfo {
  /** Superuser URL (password included) to `db`. Throws if the target is missing. */
  adminUrl(db?: string): string;
}

/** The connection details of a target; `available` is false (with `reason`) when it is missing. */
export function target(name: TargetName): Target {
  const all = inject('partkitTargets');
  const info = all?.[name];
  if (info === undefined) {
    throw new Error(`Unknown test target "${name}", or test/targets/global-setup.ts did not run (use vitest.config.ts).`);
  }
  return {
    ...info,
    adminUrl(db = 'postgres') {
      if (!info.available) throw new Error(`Test target ${name} is missing: ${info.reason ?? 'unknown reason'}`);
      return connectionUrl(info, info.superuser, info.password, db);
    },
  };
}

/** A `describe` that is skipped, loudly, when the target is missing (only possible outside CI). */
export function describeTarget(name: TargetName, title: string, fn: () => void): void {
  const info = target(name);
  if (info.available) {
    describe(title, fn);
    return;
  }
  console.warn(`\n!!! SKIPPED "${title}": test target ${name} is missing: ${info.reason ?? 'unknown reason'}\n`);
  describe.skip(`${title} [SKIPPED: ${name} missing]`, fn);
}

// ---------------------------------------------------------------------------------------------
// Databases and roles

export interface TestDatabase {
  readonly target: TargetName;
  readonly name: string;
  /** Superuser URL to this database. */
  readonly url: string;
  /** Runs one statement as the superuser in this database, through a pool this object owns. */
  query<Row extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
  /**
   * Closes the pool, unschedules pg_cron jobs that run in this database, drops it (terminating
   * its connections) and drops the roles made for it with createRole. Safe to call twice.
   */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** Role that owns the new database (must exist). */
  readonly owner?: string;
  /**
   * Clone the target's kit template (see kitTemplate) instead of starting empty: the kit's schema
   * `partkit` is installed, and pg_partman in schema `partman` where the server has it. For tests
   * where installing the kit is set-up, not what is tested.
   */
  readonly kit?: boolean;
}

/** A fresh, uniquely named database (`t_<test file>_<random>`) on the target. */
export async function createTestDatabase(name: TargetName, options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const info = target(name);
  const dbName = uniqueDatabaseName();
  const owner = options.owner === undefined ? '' : ` OWNER ${quoteIdent(options.owner)}`;
  const template = options.kit ? ` TEMPLATE ${quoteIdent(await kitTemplate(name))}` : '';
  await adminQuery(name, `CREATE DATABASE ${quoteIdent(dbName)}${owner}${template}`);

  const url = info.adminUrl(dbName);
  const pool = new pg.Pool({ connectionString: url, max: 4, allowExitOnIdle: true });
  pool.on('error', () => undefined); // terminated idle clients during drop() are expected
  const roles: TestRole[] = [];
  let dropping: Promise<void> | undefined;

  const database: TestDatabase & { roles: TestRole[] } = {
    target: name,
    name: dbName,
    url,
    roles,
    query: (sql, params) => pool.query(sql, params),
    drop() {
      dropping ??= (async () => {
        await pool.end();
        await dropDatabase(name, dbName);
        for (const role of roles.splice(0)) await role.drop();
      })();
      return dropping;
    },
  };
  return database;
}

/** The template database with the kit installed, one per target, made by the first test file that asks. */
export const KIT_TEMPLATE = 'partkit_template_kit';
const kitTemplates = new Map<TargetName, Promise<string>>();

/**
 * Makes (once per target and run; test files in other workers wait on an advisory lock) a template
 * database holding what `partkit provision` installs before it touches a table: the kit's schema
 * through sql/install.psql, which records each migration the way postgres-migrations does (so
 * provision on a clone finds the kit installed), and pg_partman where it is available. It takes no
 * connections afterwards (CREATE DATABASE ... TEMPLATE fails while anyone is connected to it).
 * pg_cron stays where it lives, in `postgres`: a clone has no jobs until it is provisioned.
 */
export function kitTemplate(name: TargetName): Promise<string> {
  let made = kitTemplates.get(name);
  if (made === undefined) {
    made = withAdmin(name, 'postgres', async (client) => {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [KIT_TEMPLATE]);
      try {
        const ready = await client.query('SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate', [KIT_TEMPLATE]);
        if (ready.rowCount) return KIT_TEMPLATE;
        const building = `${KIT_TEMPLATE}_building`;
        await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(building)}`);
        await client.query(`CREATE DATABASE ${quoteIdent(building)}`);
        const installed = await psql(name, building, path.join(REPO_DIR, 'sql', 'install.psql'), { vars: { schema: 'partkit' } });
        if (installed.exitCode !== 0) throw new Error(`installing the kit into the template of ${name} failed:\n${installed.stderr}`);
        await withAdmin(name, building, async (db) => {
          const partman = await db.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman'`);
          if (partman.rowCount) await db.query('CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman');
        });
        await client.query(`ALTER DATABASE ${quoteIdent(building)} RENAME TO ${quoteIdent(KIT_TEMPLATE)}`);
        await client.query(`ALTER DATABASE ${quoteIdent(KIT_TEMPLATE)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
        return KIT_TEMPLATE;
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [KIT_TEMPLATE]);
      }
    });
    made.catch(() => kitTemplates.delete(name));
    kitTemplates.set(name, made);
  }
  return made;
}

async function dropDatabase(name: TargetName, dbName: string): Promise<void> {
  await withAdmin(name, 'postgres', async (client) => {
    const cron = await client.query(`SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'`);
    if (cron.rowCount) {
      await client.query('SELECT cron.unschedule(jobid) FROM cron.job WHERE database = $1', [dbName]);
    }
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName]);
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(dbName)} WITH (FORCE)`);
  });
}

export interface TestRole {
  /** The role's actual name (the requested one plus a random suffix unless `exactName`). */
  readonly name: string;
  readonly password: string;
  /** URL to the database the role was made for, as this role. */
  readonly url: string;
  /** URL to another database of the same target, as this role. */
  urlFor(db: string): string;
  /** DROP OWNED BY (in its database and in postgres), then DROP ROLE. Safe to call twice. */
  drop(): Promise<void>;
}

export interface CreateRoleOptions {
  /** Default: random. */
  readonly password?: string;
  /** Use `name` as given (e.g. a mixed-case name) instead of adding a unique suffix. Roles are cluster-wide. */
  readonly exactName?: boolean;
  /** Role attributes, e.g. ['CREATEDB'], ['CREATEROLE'], ['NOINHERIT'], ['CONNECTION LIMIT 5']. Never SUPERUSER. */
  readonly attributes?: readonly string[];
  /** Make the role the owner of the database (so it may create schemas there, as an app owner can). */
  readonly ownsDatabase?: boolean;
  /** Statements run as the superuser in the database after the role exists; `{role}` is replaced by its quoted name. */
  readonly grants?: readonly string[];
}

/** A LOGIN role with a password, for tests that must not run as the superuser. Dropped by `db.drop()`. */
export async function createRole(name: string, db: TestDatabase, options: CreateRoleOptions = {}): Promise<TestRole> {
  const info = target(db.target);
  const roleName = options.exactName ? name : `${name}_${randomBytes(3).toString('hex')}`;
  const password = options.password ?? randomBytes(12).toString('base64url');
  const attributes = options.attributes ?? [];
  for (const attribute of attributes) {
    if (!/^(NO)?(CREATEDB|CREATEROLE|INHERIT|BYPASSRLS|REPLICATION)$|^CONNECTION LIMIT -?\d+$/i.test(attribute)) {
      throw new Error(`createRole: attribute "${attribute}" is not allowed`);
    }
  }
  const role = quoteIdent(roleName);
  await adminQuery(db.target, `CREATE ROLE ${role} LOGIN PASSWORD ${quoteLiteral(password)} ${attributes.join(' ')}`);
  if (options.ownsDatabase) await adminQuery(db.target, `ALTER DATABASE ${quoteIdent(db.name)} OWNER TO ${role}`);
  for (const grant of options.grants ?? []) await db.query(grant.replaceAll('{role}', role));

  let dropping: Promise<void> | undefined;
  const testRole: TestRole = {
    name: roleName,
    password,
    url: connectionUrl(info, roleName, password, db.name),
    urlFor: (other) => connectionUrl(info, roleName, password, other),
    drop() {
      dropping ??= (async () => {
        const exists = await adminQuery(db.target, 'SELECT 1 FROM pg_roles WHERE rolname = $1', [roleName]);
        if (!exists.rowCount) return;
        const dbExists = await adminQuery(db.target, 'SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
        if (dbExists.rowCount) await adminQuery(db.target, `DROP OWNED BY ${role}`, [], db.name);
        await adminQuery(db.target, `DROP OWNED BY ${role}`);
        await adminQuery(db.target, `DROP ROLE ${role}`);
      })();
      return dropping;
    },
  };
  const tracked = (db as Partial<{ roles: TestRole[] }>).roles;
  tracked?.push(testRole);
  return testRole;
}

/** Runs one statement as the superuser in `db` (default `postgres`) on a short-lived connection. */
export function adminQuery<Row extends QueryResultRow = QueryResultRow>(
  name: TargetName,
  sql: string,
  params: unknown[] = [],
  db = 'postgres',
): Promise<QueryResult<Row>> {
  return withAdmin(name, db, (client) => client.query<Row>(sql, params));
}

async function withAdmin<T>(name: TargetName, db: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: target(name).adminUrl(db) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function uniqueDatabaseName(): string {
  const testPath = expect.getState().testPath ?? '';
  const file = path
    .basename(testPath)
    .replace(/\.test\.[cm]?[jt]s$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 40);
  return `t_${file || 'x'}_${randomBytes(4).toString('hex')}`;
}

function connectionUrl(info: TargetInfo, user: string, password: string, db: string): string {
  return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${info.host}:${info.port}/${encodeURIComponent(db)}`;
}

function quoteIdent(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** An attached partition as the catalog prints it (bounds in the session's TimeZone). */
export interface AttachedPartition {
  readonly schema: string;
  readonly name: string;
  /** pg_get_expr(relpartbound): 'FOR VALUES FROM (...) TO (...)' or 'DEFAULT'. */
  readonly bound: string;
  /** The FROM and TO literals; null for the default partition. */
  readonly lower: string | null;
  readonly upper: string | null;
}

/** The partitions attached to `table` (SQL syntax), oldest first, the default last. */
export async function attachedPartitions(db: TestDatabase, table: string): Promise<AttachedPartition[]> {
  const { rows } = await db.query<AttachedPartition>(
    `SELECT n.nspname AS schema, c.relname AS name, b.bound,
            (regexp_match(b.bound, 'FROM \\(''([^'']+)''\\)'))[1] AS lower,
            (regexp_match(b.bound, 'TO \\(''([^'']+)''\\)'))[1] AS upper
       FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) b
      WHERE i.inhparent = $1::regclass
      ORDER BY b.bound = 'DEFAULT', b.bound`,
    [table],
  );
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Processes: the built CLI and psql

/** The inherited environment without DATABASE_URL and the libpq PG* variables, so nothing leaks in by accident. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key === 'DATABASE_URL' || key.startsWith('PG') || key === 'FORCE_COLOR') continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

export interface RunPartkitOptions {
  /** Added to the cleaned environment (DATABASE_URL, PG* only if given here). */
  readonly env?: Record<string, string>;
  /** Written to the CLI's stdin (runs it as a process). */
  readonly input?: string;
  /** Working folder (runs it as a process unless it is the repository). */
  readonly cwd?: string;
  /** Killed after this long; default 110 s (under vitest's 120 s test timeout). Only for a process. */
  readonly timeoutMs?: number;
  /** Seconds to shift partkit's clock by (libfaketime, so a process); default: the run's clock (test/helpers/clock.ts). */
  readonly clockOffsetSeconds?: number;
  /** Run `node dist/cli.js` as a process even when an in-process run would prove the same. */
  readonly process?: boolean;
}

/** What a run of the CLI printed and how it ended (execa's fields, in process or not). */
export interface PartkitRun {
  readonly exitCode?: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Live workloads (a writer and its oracle) running in this test's process. While one runs, partkit
 * runs in a process of its own (the runner below), as it does next to a real application: in
 * process, its CPU would stall the workload's event loop and the workload would measure the test,
 * not partkit.
 */
let liveWorkloads = 0;

/** Called by a live writer when it starts; the returned function when it stops. */
export function startLiveWorkload(): () => void {
  liveWorkloads += 1;
  let ended = false;
  return () => {
    if (!ended) liveWorkloads -= 1;
    ended = true;
  };
}

/** Commands that install process-wide signal and exit hooks (a throwaway server): always a process. */
const PROCESS_COMMANDS = new Set(['demo', 'bench']);

/**
 * Runs the CLI with `args` on the run's clock and returns its exit code and output; never throws on
 * a non-zero exit. In process (src/run-cli.ts from dist/, as the binary runs it) unless the run needs
 * a process of its own: a clock other than the run's (libfaketime), stdin, another working folder, a
 * command with process-wide hooks, or `process: true`; the CLI is then `node dist/cli.js`, as
 * spawnPartkit runs it. During a live workload in this process (startLiveWorkload) it runs in the
 * test file's runner process (test/helpers/cli-runner.mjs), out of the workload's way.
 */
export async function runPartkit(args: readonly string[], options: RunPartkitOptions = {}): Promise<PartkitRun> {
  // partkit reads "now" from the server (serverNow) for everything that depends on the date, so a run
  // on the run's clock needs no libfaketime of its own even when the servers' clocks are shifted.
  const ownClock = options.clockOffsetSeconds !== undefined && options.clockOffsetSeconds !== testClock().offsetSeconds;
  const needsProcess =
    options.process === true || ownClock || options.input !== undefined || (options.cwd !== undefined && path.resolve(options.cwd) !== path.resolve(REPO_DIR)) || PROCESS_COMMANDS.has(args[0] ?? '');
  if (needsProcess) return spawnPartkit(args, options);
  if (liveWorkloads > 0) return runInRunner(args, cleanEnv(options.env), options.timeoutMs ?? 110_000);
  return runCliInProcess(args, { env: cleanEnv(options.env) });
}

/**
 * The process test/helpers/cli-runner.mjs, started on the first run during a live workload and kept
 * for the test file: partkit runs there as `node dist/cli.js` would (on the run's clock, from the
 * repository), out of the workload's event loop, without node's start for every run.
 */
let runner: { child: ChildProcess; pending: Map<number, (run: PartkitRun) => void>; ready: Promise<void> } | undefined;
let runnerRuns = 0;

function cliRunner(): NonNullable<typeof runner> {
  if (runner !== undefined && runner.child.exitCode === null && runner.child.connected) return runner;
  const child = fork(path.join(REPO_DIR, 'test', 'helpers', 'cli-runner.mjs'), [], {
    cwd: REPO_DIR,
    env: cleanEnv(fakeClockEnv(testClock().offsetSeconds)),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (run: PartkitRun) => void>();
  let started!: () => void;
  const ready = new Promise<void>((resolve) => (started = resolve));
  child.on('message', (message: { ready?: true; id?: number } & PartkitRun) => {
    if (message.ready) return started();
    pending.get(message.id!)?.({ exitCode: message.exitCode, stdout: message.stdout, stderr: message.stderr });
    pending.delete(message.id!);
  });
  child.on('exit', (code, signal) => {
    for (const settle of pending.values()) settle({ exitCode: undefined, stdout: '', stderr: `test/helpers/cli-runner.mjs ended (exit ${code}, signal ${signal}) during the run` });
    pending.clear();
    started();
  });
  child.unref();
  child.channel?.unref();
  runner = { child, pending, ready };
  return runner;
}

async function runInRunner(args: readonly string[], env: Record<string, string>, timeoutMs: number): Promise<PartkitRun> {
  const { child, pending, ready } = cliRunner();
  await ready;
  const id = (runnerRuns += 1);
  return new Promise<PartkitRun>((resolve) => {
    pending.set(id, resolve);
    child.channel?.ref();
    child.send({ id, args, env, timeoutMs });
  }).finally(() => {
    if (pending.size === 0) child.channel?.unref();
  });
}

/**
 * Runs `node dist/cli.js ...args` (built by `npm test`'s pretest) as a process on the run's clock, or
 * on the clock of `clockOffsetSeconds`: for tests that signal, kill or watch it while it runs. Never
 * throws on a non-zero exit.
 */
export function spawnPartkit(args: readonly string[], options: RunPartkitOptions = {}) {
  const clockEnv = fakeClockEnv(options.clockOffsetSeconds ?? testClock().offsetSeconds);
  return execa(process.execPath, [path.join(REPO_DIR, 'dist', 'cli.js'), ...args], {
    cwd: options.cwd ?? REPO_DIR,
    env: cleanEnv({ ...clockEnv, ...options.env }),
    extendEnv: false,
    reject: false,
    timeout: options.timeoutMs ?? 110_000,
    ...(options.input === undefined ? {} : { input: options.input }),
  });
}

/**
 * Runs a command line exactly as partkit printed it (a hint), the way a user pastes it into bash,
 * with `partkit` being the built CLI on the run's clock. Never throws on a non-zero exit.
 */
export function runPrinted(line: string, env: Record<string, string> = {}) {
  const cli = path.join(REPO_DIR, 'dist', 'cli.js');
  return execa('bash', ['-c', `partkit() { "${process.execPath}" "${cli}" "$@"; }\n${line}`], {
    env: cleanEnv({ ...fakeClockEnv(testClock().offsetSeconds), ...env }),
    extendEnv: false,
    reject: false,
    timeout: 110_000,
  });
}

export interface PsqlOptions {
  /** `-v name=value` variables, e.g. `{ schema: 'partkit' }`. */
  readonly vars?: Record<string, string>;
  /** Connect as this role instead of the superuser. */
  readonly role?: TestRole;
  /** psql binary; default the target's own (pg15, pg17), else the host's PG 15 psql. */
  readonly client?: string;
  /** Stop at the first error (default true); false runs the file as plain `psql -f` does, error or not. */
  readonly onErrorStop?: boolean;
  /** More arguments before -f, e.g. ['-1'] (one transaction) or ['-At']. */
  readonly flags?: readonly string[];
  /** Statements run after the file, in the same session (psql's -c). */
  readonly after?: readonly string[];
  /** More environment, e.g. PGOPTIONS. */
  readonly env?: Record<string, string>;
}

/**
 * Runs the real psql with ON_ERROR_STOP against `db` of a target. `sqlOrFile` is a path to an
 * existing .sql/.psql file (run with -f, so \ir works) or SQL text (fed on stdin). Never throws
 * on a non-zero exit.
 */
export function psql(name: TargetName, db: string | TestDatabase, sqlOrFile: string, options: PsqlOptions = {}) {
  const info = target(name);
  if (!info.available) throw new Error(`Test target ${name} is missing: ${info.reason ?? 'unknown reason'}`);
  const database = typeof db === 'string' ? db : db.name;
  const ownClient = info.binDir === '' ? '' : path.join(info.binDir, 'psql');
  const client = options.client ?? (ownClient !== '' && existsSync(ownClient) ? ownClient : HOST_PSQL);
  const isFile = /\.p?sql$/.test(sqlOrFile) && existsSync(sqlOrFile);
  const args = ['-X', '-q', ...(options.onErrorStop === false ? [] : ['-v', 'ON_ERROR_STOP=1']), '-h', info.host, '-p', String(info.port), '-U', options.role?.name ?? info.superuser, '-d', database];
  for (const [key, value] of Object.entries(options.vars ?? {})) args.push('-v', `${key}=${value}`);
  args.push(...(options.flags ?? []), '-f', isFile ? sqlOrFile : '-');
  for (const statement of options.after ?? []) args.push('-c', statement);
  return execa(client, args, {
    env: cleanEnv({ PGPASSWORD: options.role?.password ?? info.password, PGCONNECT_TIMEOUT: '10', ...options.env }),
    extendEnv: false,
    reject: false,
    timeout: 110_000,
    ...(isFile ? {} : { input: sqlOrFile }),
  });
}
