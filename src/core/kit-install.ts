/**
 * The one installer of the kit's schema. Its statements are what `partkit provision` inlines into
 * its plan (walkPlan, src/core/plan.ts) and what sql/install.psql holds (generated from the same
 * statements by `npm run sql:generate`); test/unit/kit-sql.test.ts fails when that file, or the
 * baseline migration generated from sql/kit/, is stale.
 *
 * Where the SQL lives:
 *   sql/kit/<object>.sql     one file per kit object, with its current definition;
 *   sql/kit/objects.txt      their install order;
 *   sql/migrations/          the numbered files postgres-migrations records: 1_kit.sql is generated
 *                            from sql/kit/ (until the first release; see sql/README.md).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { quoteIdent, quoteLiteral } from './identifiers.js';
import { sqlPath } from './sql-files.js';

/** One file of the kit's migrations, as postgres-migrations names and hashes it. */
export interface KitMigration {
  readonly id: number;
  readonly name: string;
  readonly fileName: string;
  /** sha1(file name + content): the hash postgres-migrations records. */
  readonly hash: string;
  readonly sql: string;
}

/** A statement of the install, before a sink (the plan's walk or the psql script) takes it. */
export interface InstallStatement {
  readonly sql: string;
  readonly comments?: readonly string[];
  /** The statement is this migration file's content: the psql script includes it with \ir. */
  readonly file?: string;
  /** A SELECT whose one row only serves the statement: the psql script swallows it with \gset. */
  readonly quietSelect?: boolean;
}

export interface KitInstall {
  /** Lock, schema, search_path, postgres-migrations' table and the check of recorded hashes. */
  readonly prologue: readonly InstallStatement[];
  /** Per migration file (id > 0): its SQL, then its bookkeeping row. */
  readonly files: readonly { readonly file: KitMigration; readonly statements: readonly InstallStatement[] }[];
  /** The caller's search_path back. */
  readonly epilogue: readonly InstallStatement[];
}

/** postgres-migrations' own advisory lock key: the kit is never installed twice at once, by it or by this. */
export const MIGRATIONS_LOCK_KEY = '-8525285245963000605';

/** The hash postgres-migrations records for a file: sha1 of its name followed by its content. */
export function migrationHash(fileName: string, content: string): string {
  return createHash('sha1').update(fileName + content, 'utf8').digest('hex');
}

/**
 * The install of `known` (id 0 is postgres-migrations' own table) into the schema `schemaSql`
 * (a quoted identifier, or a psql variable reference such as :"schema"). Runs inside one
 * transaction: postgres-migrations' lock, the kit schema as the only search_path while the files
 * run (functions pin it with SET search_path FROM CURRENT), postgres-migrations' `migrations` table,
 * a stop when a recorded file changed, each file followed by its row, the caller's search_path back.
 */
export function kitInstall(schemaSql: string, known: readonly KitMigration[]): KitInstall {
  const [table, ...files] = known;
  if (table === undefined || table.id !== 0) throw new Error('internal: the kit migrations must start with postgres-migrations\' own table (id 0)');
  const record = (file: KitMigration, upsert: boolean): InstallStatement => ({
    sql: `INSERT INTO migrations (id, name, hash) VALUES (${file.id}, ${quoteLiteral(file.name)}, ${quoteLiteral(file.hash)})${upsert ? ' ON CONFLICT (id) DO NOTHING' : ''}`,
  });
  const hashes = known.map((file) => `(${file.id}, ${quoteLiteral(file.hash)})`).join(', ');
  return {
    prologue: [
      { sql: `SELECT pg_advisory_xact_lock(${MIGRATIONS_LOCK_KEY}) IS NULL AS locked`, quietSelect: true, comments: ["-- postgres-migrations' own lock key: no other install of the kit runs at the same time"] },
      { sql: `CREATE SCHEMA IF NOT EXISTS ${schemaSql}` },
      {
        sql: `SELECT set_config('partkit.search_path', current_setting('search_path'), false) IS NULL AS saved`,
        quietSelect: true,
        comments: [
          '-- The kit objects are made with search_path = the kit schema alone (functions pin it with SET search_path FROM CURRENT).',
          '-- Set for the session, not LOCAL, and put back at the end: the same inside a transaction (a rollback undoes it),',
          "-- and still right when a migration file is run without one (plain psql -f), where SET LOCAL does nothing.",
        ],
      },
      { sql: `SET search_path TO ${schemaSql}` },
      { sql: table.sql.trim().replace(/;$/, ''), comments: [`-- postgres-migrations' bookkeeping table (its ${table.fileName})`] },
      {
        sql: `DO $partkit$
DECLARE
    v_changed text;
BEGIN
    SELECT string_agg(m.id || '_' || m.name, ', ' ORDER BY m.id) INTO v_changed
      FROM migrations m JOIN (VALUES ${hashes}) AS k (id, hash) ON k.id = m.id
     WHERE m.hash <> k.hash;
    IF v_changed IS NOT NULL THEN
        RAISE EXCEPTION 'partkit migrations % were applied from different file contents', v_changed;
    END IF;
END
$partkit$`,
        comments: ['-- A recorded file whose hash differs was changed after it was applied: stop, as postgres-migrations would.'],
      },
      record(table, true),
    ],
    files: files.map((file) => ({ file, statements: [{ sql: file.sql, file: file.fileName, comments: [`-- kit migration ${file.fileName}`] }, record(file, false)] })),
    epilogue: [
      { sql: `SELECT set_config('search_path', current_setting('partkit.search_path'), false) IS NULL AS restored`, quietSelect: true, comments: ['-- Back to the search_path the script started with.'] },
    ],
  };
}

/** The install's statements for a plan: the prologue, the pending files, the epilogue. */
export function kitInstallStatements(schema: string, known: readonly KitMigration[], pending: readonly string[]): InstallStatement[] {
  const install = kitInstall(quoteIdent(schema), known);
  const wanted = new Set(pending);
  return [...install.prologue, ...install.files.filter(({ file }) => wanted.has(file.fileName)).flatMap(({ statements }) => statements), ...install.epilogue];
}

// ---------------------------------------------------------------------------------------------
// Generated files: the baseline migration from sql/kit/, and sql/install.psql from kitInstall.

const GENERATED_NOTE = 'Generated by `npm run sql:generate`: do not edit; see sql/README.md.';

/** The kit's objects in install order (sql/kit/objects.txt), with the SQL of each. */
export function kitObjects(): { readonly name: string; readonly sql: string }[] {
  return readFileSync(sqlPath('kit/objects.txt'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((name) => ({ name, sql: readFileSync(sqlPath(`kit/${name}.sql`), 'utf8') }));
}

/** sql/migrations/1_kit.sql: every object of sql/kit/, in order. */
export function kitBaseline(): string {
  const parts = kitObjects().map(({ name, sql }) => `-- ---------------------------------------------------------------- sql/kit/${name}.sql\n${sql.trimEnd()}\n`);
  return [
    '-- partkit: the kit\'s schema objects, made from sql/kit/ (one file per object, in the order of',
    `-- sql/kit/objects.txt). ${GENERATED_NOTE}`,
    '-- The schema is never named here: the installer sets search_path to the kit\'s schema.',
    '',
    parts.join('\n'),
  ].join('\n');
}

/** postgres-migrations' own first file (its bookkeeping table), as the package ships it. */
function migrationsTableFile(): KitMigration {
  const require = createRequire(import.meta.url);
  const fileName = '0_create-migrations-table.sql';
  const file = path.join(path.dirname(require.resolve('postgres-migrations')), 'migrations', fileName);
  const sql = readFileSync(file, 'utf8');
  return { id: 0, name: 'create-migrations-table', fileName, hash: migrationHash(fileName, sql), sql };
}

/** The migration files as they will be once generated: postgres-migrations' table, then the baseline. */
export function generatedMigrations(): KitMigration[] {
  const fileName = '1_kit.sql';
  const sql = kitBaseline();
  return [migrationsTableFile(), { id: 1, name: 'kit', fileName, hash: migrationHash(fileName, sql), sql }];
}

/** One statement as psql runs it: a file by \ir, a SELECT that only serves the script swallowed by \gset. */
function psqlLines(statement: InstallStatement): string[] {
  const comments = [...(statement.comments ?? [])];
  if (statement.file !== undefined) return [...comments, `\\ir migrations/${statement.file}`];
  const text = statement.sql.trim();
  return [...comments, statement.quietSelect ? `${text} \\gset partkit_` : `${text};`];
}

/** sql/install.psql: the same install as `partkit provision`'s, for DBAs who want psql alone. */
export function installPsql(known: readonly KitMigration[]): string {
  const install = kitInstall(':"schema"', known);
  const lines = [
    "-- Installs partkit's schema with psql alone, the same statements `partkit provision` inlines into its",
    '-- plan (src/core/kit-install.ts):',
    '--',
    '--   psql -v ON_ERROR_STOP=1 -v schema=partkit -f sql/install.psql',
    '--',
    "-- It fills postgres-migrations' `migrations` table the way that library would, so a later",
    '-- `partkit provision` finds every file applied; files already recorded there are skipped, so running',
    `-- it twice does no harm. ${GENERATED_NOTE}`,
    '\\set ON_ERROR_STOP on',
    '\\if :{?schema}',
    '\\else',
    '\\set schema partkit',
    '\\endif',
    '',
    'BEGIN;',
    ...install.prologue.flatMap(psqlLines),
  ];
  for (const { file, statements } of install.files) {
    lines.push('', `SELECT NOT EXISTS (SELECT 1 FROM migrations WHERE id = ${file.id}) AS partkit_pending \\gset`, '\\if :partkit_pending');
    lines.push(...statements.flatMap(psqlLines), '\\endif');
  }
  lines.push('', ...install.epilogue.flatMap(psqlLines), 'COMMIT;');
  return `${lines.join('\n')}\n`;
}

/** Every generated file under sql/, by its path relative to sql/, with the content it must have. */
export function generatedSqlFiles(): { readonly path: string; readonly content: string }[] {
  const known = generatedMigrations();
  return [
    { path: `migrations/${known[1]!.fileName}`, content: known[1]!.sql },
    { path: 'install.psql', content: installPsql(known) },
  ];
}
