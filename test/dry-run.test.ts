import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { attachedPartitions, createTestDatabase, describeTarget, psql, runPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';

async function kitFootprint(db: TestDatabase) {
  const { rows } = await db.query<{ schemas: number; tables: number }>(
    `SELECT (SELECT count(*)::int FROM pg_namespace WHERE nspname IN ('partkit', 'partman', 'partkit_archive')) AS schemas,
            (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public') AS tables`,
  );
  return rows[0]!;
}

for (const name of ['bare18', 'pg15-partman4'] as TargetName[]) {
  describeTarget(name, `--dry-run on ${name}`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(name);
    });
    afterAll(() => db?.drop());

    it('prints a psql script, changes nothing, and psql applies it to the same result as provision', async () => {
      const dry = await runPartkit(['provision', '--dry-run', '--database-url', db.url]);
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/^-- partkit plan: \d+ step\(s\)/);
      expect(dry.stdout).toMatch(/CREATE TABLE "public"\."messages"/);
      if (name === 'pg15-partman4') expect(dry.stdout).toMatch(/\\connect "postgres"[\s\S]*cron\.schedule_in_database[\s\S]*\\connect "t_/);
      expect(await kitFootprint(db)).toEqual({ schemas: 0, tables: 0 });

      const applied = await psql(name, db, dry.stdout);
      expect(applied.exitCode, applied.stderr).toBe(0);
      const after = await kitFootprint(db);
      expect(after.schemas).toBe(name === 'bare18' ? 2 : 3);
      expect(after.tables).toBeGreaterThan(20);

      const second = await runPartkit(['provision', '--json', '--database-url', db.url]);
      expect(second.exitCode, second.stderr).toBe(0);
      expect(JSON.parse(second.stdout).changes).toBe(0);
    });

    it('maintain --dry-run prints the call and runs nothing', async () => {
      const { rows: before } = await db.query(`SELECT count(*)::int AS n FROM partkit.maintenance_run`);
      const dry = await runPartkit(['maintain', '--dry-run', '--database-url', db.url]);
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/CALL "partkit"\.run_maintenance_proc\(p_table_name => NULL, p_lock_timeout => '[^']+', p_attempts => 1\);/);
      const { rows: after } = await db.query(`SELECT count(*)::int AS n FROM partkit.maintenance_run`);
      expect(after[0]!.n).toBe(before[0]!.n);
    });
  });
}

describeTarget('bare18', '--dry-run of a mixed-case table with spaces and quotes', () => {
  const odd = `"My 'Odd' Schema"."Odd ""Name"" Tbl"`;
  let db: TestDatabase;
  let config: string;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
    await db.query(`CREATE SCHEMA "My 'Odd' Schema"`);
    await db.query(`CREATE TABLE ${odd} (id bigint, "Created At" timestamptz NOT NULL, PRIMARY KEY (id, "Created At")) PARTITION BY RANGE ("Created At")`);
    config = path.join(mkdtempSync(path.join(tmpdir(), 'partkit-dry-run-')), 'partkit.json');
    writeFileSync(config, JSON.stringify({ tables: [{ name: odd, controlColumn: 'Created At' }] }));
  });
  afterAll(() => db?.drop());

  it('prints a script that psql applies as printed; provision afterwards plans nothing', async () => {
    const dry = await runPartkit(['provision', '--dry-run', '--scheduler', 'external', '--config', config, '--database-url', db.url]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(await attachedPartitions(db, odd)).toEqual([]);
    const applied = await psql('bare18', db, dry.stdout);
    expect(applied.exitCode, applied.stderr).toBe(0);
    const kids = await attachedPartitions(db, odd);
    expect(kids.map((k) => k.schema)).toEqual(Array(6).fill("My 'Odd' Schema"));
    expect(kids.at(-1)!.name).toBe('Odd "Name" Tbl_default');
    const second = await runPartkit(['provision', '--json', '--scheduler', 'external', '--config', config, '--database-url', db.url]);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout).changes).toBe(0);
  });
});
