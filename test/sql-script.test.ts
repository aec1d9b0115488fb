/**
 * `partkit provision --dry-run --format sql` is the design's database/migrations/010_table_partitioning.sql:
 * a plain SQL file (no psql meta-command, no path on this machine) that an application's own
 * migration runner applies. Planned against one database, copied to another folder, applied to a
 * fresh database by the postgres-migrations package as an app would; then partkit's own checks
 * must see the kit installed and the tables provisioned. On the plpgsql fallback (bare18) and on
 * pg_partman 5.2 (pg17-partman5).
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { migrate } from 'postgres-migrations';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeTarget, runPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';

for (const [name, strategy] of [
  ['bare18', 'plpgsql'],
  ['pg17-partman5', 'partman'],
] as [TargetName, string][]) {
  describeTarget(name, `provision --dry-run --format sql as an app's migration file on ${name}`, () => {
    let planned: TestDatabase;
    let fresh: TestDatabase;
    const folder = mkdtempSync(path.join(tmpdir(), 'partkit-sql-script-'));
    const appFolder = mkdtempSync(path.join(tmpdir(), 'partkit-app-migrations-'));
    beforeAll(async () => {
      [planned, fresh] = await Promise.all([createTestDatabase(name), createTestDatabase(name)]);
    });
    afterAll(async () => {
      await planned?.drop();
      await fresh?.drop();
    });

    it('prints plain SQL: the kit inlined, no psql meta-command, no BEGIN/COMMIT, no local path', async () => {
      const printed = await runPartkit(['provision', '--dry-run', '--format', 'sql', '--scheduler', 'external', '--database-url', planned.url]);
      expect(printed.exitCode, printed.stderr).toBe(0);
      const file = path.join(folder, '010_table_partitioning.sql');
      writeFileSync(file, printed.stdout);
      expect(printed.stdout).not.toMatch(/^\s*\\/m);
      expect(printed.stdout).not.toMatch(/^(BEGIN|COMMIT);$/m);
      expect(printed.stdout).not.toContain('install.psql');
      expect(printed.stdout).not.toContain(process.cwd());
      expect(printed.stdout).toContain('CREATE OR REPLACE FUNCTION');
      expect(printed.stdout).toMatch(/--scheduler external/);
      // Planning changed nothing.
      expect((await planned.query(`SELECT to_regnamespace('partkit') IS NULL AS none`)).rows[0]!.none).toBe(true);
    });

    it('postgres-migrations applies it to a fresh database next to the app\'s own migrations; verify passes and provision has nothing left to do', async () => {
      // The app's folder: its earlier migrations, then partkit's file, copied from elsewhere.
      for (let id = 1; id <= 9; id += 1) writeFileSync(path.join(appFolder, `00${id}_app_${id}.sql`), `CREATE TABLE app_table_${id} (id int PRIMARY KEY);\n`);
      copyFileSync(path.join(folder, '010_table_partitioning.sql'), path.join(appFolder, '010_table_partitioning.sql'));
      const client = new pg.Client({ connectionString: fresh.url });
      await client.connect();
      try {
        const applied = await migrate({ client }, appFolder, { logger: () => undefined });
        expect(applied.map((file) => file.fileName)).toContain('010_table_partitioning.sql');
      } finally {
        await client.end();
      }
      // The app's bookkeeping is the app's (public), partkit's is partkit's.
      expect((await fresh.query(`SELECT count(*)::int AS n FROM public.migrations WHERE name = 'table_partitioning'`)).rows[0]!.n).toBe(1);
      expect((await fresh.query(`SELECT count(*)::int AS n FROM partkit.migrations WHERE name = 'table_partitioning'`)).rows[0]!.n).toBe(0);
      expect((await fresh.query(`SELECT current_setting('search_path') AS path`)).rows[0]!.path).not.toContain('partkit');

      const verify = await runPartkit(['verify', '--json', '--scheduler', 'external', '--database-url', fresh.url]);
      expect(verify.exitCode, `${verify.stdout}\n${verify.stderr}`).toBe(0);
      const again = await runPartkit(['provision', '--json', '--scheduler', 'external', '--database-url', fresh.url]);
      expect(again.exitCode, again.stderr).toBe(0);
      const result = JSON.parse(again.stdout) as { changes: number; strategy: string; steps: string[] };
      expect(result.steps).toEqual([]);
      expect(result.changes).toBe(0);
      expect(result.strategy).toBe(strategy);
    });

    if (name === 'pg17-partman5') {
      it('a pg_cron job goes to --cron-file (it runs in pg_cron\'s database), and the script says so; without it partkit refuses', async () => {
        const refused = await runPartkit(['provision', '--dry-run', '--format', 'sql', '--database-url', planned.url]);
        expect(refused.exitCode).toBe(2);
        expect(refused.stderr).toMatch(/--cron-file/);
        const cronFile = path.join(folder, '010_table_partitioning.cron.sql');
        const printed = await runPartkit(['provision', '--dry-run', '--format', 'sql', '--cron-file', cronFile, '--database-url', planned.url]);
        expect(printed.exitCode, printed.stderr).toBe(0);
        expect(printed.stdout).not.toContain('cron.schedule_in_database');
        expect(printed.stdout).toContain(cronFile);
        expect(existsSync(cronFile)).toBe(true);
        const cron = readFileSync(cronFile, 'utf8');
        expect(cron).toContain('cron.schedule_in_database');
        expect(cron).not.toMatch(/^\s*\\/m);
      });
    }
  });
}
