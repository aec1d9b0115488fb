/**
 * docs/orm.md with the real drizzle-kit (0.31, a devDependency; it runs offline), on each naming of
 * months: pg_partman 4 (`_pYYYY_MM`, pg15-partman4), pg_partman 5 (`_pYYYYMMDD`, pg17-partman5) and
 * the fallback (`_yYYYYmMM`, bare18). A database is provisioned with the four Semibot tables and an
 * `audit_log` in the middle of `partkit migrate` (its `_partitioned` copy, its months, its capture),
 * next to an app table `users`. Without a filter, `drizzle-kit pull` reads every month and default
 * partition as a table of the app's. With the `tablesFilter` that `partkit config show --orm-filter`
 * prints, pull finds only the app's own tables, and `drizzle-kit push --force` of the app's schema
 * changes the app's table and leaves every one of partkit's alone; without the filter, the same push
 * drops every month (pg17-partman5 only: it destroys the set).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configFiles } from './helpers/cli.js';
import { cleanEnv, createTestDatabase, describeTarget, REPO_DIR, runPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';

const DRIZZLE_KIT = path.join(REPO_DIR, 'node_modules', '.bin', 'drizzle-kit');

/**
 * The app's schema as drizzle-orm declares it: its own tables only (not the ones partkit manages),
 * with one change to push (users gets an email column). audit_log is the app's until its swap.
 */
const APP_SCHEMA = `import { bigint, integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export const users = pgTable('users', { id: integer('id').primaryKey(), name: text('name'), email: text('email') });
export const auditLog = pgTable('audit_log', {
  id: bigint('id', { mode: 'number' }).primaryKey(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'string' }).notNull(),
  detail: text('detail'),
});
`;

const TARGETS: readonly { name: TargetName; month: RegExp }[] = [
  { name: 'pg15-partman4', month: /^messages_p\d{4}_\d{2}$/ },
  { name: 'pg17-partman5', month: /^messages_p\d{8}$/ },
  { name: 'bare18', month: /^messages_y\d{4}m\d{2}$/ },
];

/** Table names in drizzle-kit's generated schema.ts. */
function pulledTables(folder: string): string[] {
  const schema = readFileSync(path.join(folder, 'schema.ts'), 'utf8');
  return [...schema.matchAll(/pgTable\("([^"]+)"/g)].map((match) => match[1]!).sort();
}

/** Every table of the database's partitions, the kit's and the archive's (what partkit made), by schema-qualified name. */
async function partkitRelations(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND (c.relispartition OR n.nspname IN ('partkit', 'partman') OR c.relname IN ('messages', 'execution_logs', 'api_key_logs', 'usage_records', 'audit_log_partitioned', 'audit_log_capture'))
      ORDER BY 1`,
  );
  return rows.map((row) => row.name);
}

for (const { name, month } of TARGETS) {
  describeTarget(name, `drizzle-kit with partkit's filter on ${name}`, () => {
    let db: TestDatabase;
    /** Inside the repository (git-ignored .cache), so that the schema file resolves drizzle-orm from node_modules. */
    let work: string;
    const files = configFiles('orm');
    // provision takes partitioned tables only; the filter is printed from the config the app has once audit_log's migration starts.
    const config = files.write('partkit', {});
    const withAuditLog = files.write('with-audit-log', { tables: [{ name: 'public.messages' }, { name: 'public.execution_logs' }, { name: 'public.api_key_logs' }, { name: 'public.usage_records' }, { name: 'public.audit_log' }] });
    let filter: string[];

    /** Runs drizzle-kit in `work` with a JSON config (its url, the app's schema, and `tablesFilter` when given). */
    async function drizzleKit(command: 'pull' | 'push', out: string, tablesFilter?: string[]) {
      const configFile = path.join(work, `${out}.json`);
      writeFileSync(configFile, JSON.stringify({ dialect: 'postgresql', out: path.join(work, out), schema: path.join(work, 'schema.ts'), schemaFilter: ['public'], dbCredentials: { url: db.url }, ...(tablesFilter ? { tablesFilter } : {}) }));
      const args = command === 'push' ? ['push', '--config', configFile, '--force'] : ['pull', '--config', configFile];
      const result = await execa(DRIZZLE_KIT, args, { cwd: work, env: cleanEnv(), extendEnv: false, reject: false, timeout: 110_000, input: '' });
      expect(result.exitCode, `drizzle-kit ${command}\n${result.stdout}\n${result.stderr}`).toBe(0);
      return result;
    }

    beforeAll(async () => {
      db = await createTestDatabase(name);
      mkdirSync(path.join(REPO_DIR, '.cache'), { recursive: true });
      work = mkdtempSync(path.join(REPO_DIR, '.cache', 'orm-'));
      writeFileSync(path.join(work, 'schema.ts'), APP_SCHEMA);
      await db.query('CREATE TABLE public.users (id integer PRIMARY KEY, name text)');
      await db.query('CREATE TABLE public.audit_log (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, detail text)');
      await db.query(`INSERT INTO public.audit_log SELECT i, now() - i * interval '1 day', 'e' FROM generate_series(1, 90) AS i`);
      const provisioned = await runPartkit(['provision', '--scheduler', 'external', '--config', config, '--database-url', db.url]);
      expect(provisioned.exitCode, provisioned.stderr).toBe(0);
      const prepped = await runPartkit(['migrate', 'prep', 'public.audit_log', '--config', config, '--database-url', db.url]);
      expect(prepped.exitCode, prepped.stderr).toBe(0);
      const printed = await runPartkit(['config', 'show', '--orm-filter', '--json', '--config', withAuditLog]);
      expect(printed.exitCode, printed.stderr).toBe(0);
      filter = (JSON.parse(printed.stdout) as { tablesFilter: string[] }).tablesFilter;
    });
    afterAll(async () => {
      await db?.drop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('without a filter, drizzle-kit pull reads every month and default partition as an app table', async () => {
      await drizzleKit('pull', 'pulled-unfiltered');
      const tables = pulledTables(path.join(work, 'pulled-unfiltered'));
      expect(tables).toContain('messages_default');
      expect(tables.filter((table) => month.test(table)).length).toBeGreaterThanOrEqual(5);
      expect(tables).toContain('audit_log_capture');
      // ... and not the partitioned table itself, which it cannot see.
      expect(tables).not.toContain('messages');
    });

    it("with partkit's tablesFilter, pull finds the app's own tables only, and push changes them and nothing of partkit's", async () => {
      expect(filter).toHaveLength(5);
      await drizzleKit('pull', 'pulled-filtered', filter);
      // audit_log is still the app's plain table until the swap; its copy, months and capture are partkit's.
      expect(pulledTables(path.join(work, 'pulled-filtered'))).toEqual(['audit_log', 'users']);
      const before = await partkitRelations(db);
      expect(before.length).toBeGreaterThan(30);
      await drizzleKit('push', 'pushed-filtered', filter);
      expect(await partkitRelations(db)).toEqual(before);
      const columns = await db.query<{ name: string }>(`SELECT column_name AS name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' ORDER BY 1`);
      expect(columns.rows.map((row) => row.name)).toEqual(['email', 'id', 'name']);
      const verify = await runPartkit(['verify', '--scheduler', 'external', '--config', config, '--database-url', db.url]);
      expect(verify.exitCode, verify.stdout).toBe(0);
    });

    if (name === 'pg17-partman5') {
      it('without the filter, the same push drops every month and default partition (the filter is what keeps them)', async () => {
        await drizzleKit('push', 'pushed-unfiltered');
        const left = await db.query(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'public.messages'::regclass`);
        expect(left.rows[0]!.n).toBe(0);
      });
    }
  });
}
