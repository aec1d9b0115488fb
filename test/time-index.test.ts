/**
 * The time index (issue 11): every month of a managed table has an index leading with the control
 * column. New tables get it from sql/tables; provision adds it to an existing managed table
 * (idempotently); doctor and verify warn while a month lacks it; migrate prep adds it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeTarget, type TargetName, type TestDatabase } from './helpers/targets.js';
import { partkit } from './helpers/cli.js';

const configDir = mkdtempSync(path.join(tmpdir(), 'partkit-time-index-'));
const ODD = 'public."Odd ""Chat"" Log"';
const configFile = path.join(configDir, 'config.json');
writeFileSync(configFile, JSON.stringify({ tables: [{ name: 'public.messages' }, { name: ODD, controlColumn: 'Created At' }] }));
const prepConfig = path.join(configDir, 'prep.json');
writeFileSync(prepConfig, JSON.stringify({ tables: [{ name: 'public."Plain Log"', controlColumn: 'At' }] }));

/** Children of `table` and whether each has an index whose first key column is `column`, plus the parent's. */
async function timeIndexed(db: TestDatabase, table: string, column: string) {
  const { rows } = await db.query<{ child: string; indexed: boolean }>(
    `SELECT c.relname AS child,
            EXISTS (SELECT 1 FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
                     WHERE x.indrelid = c.oid AND x.indisvalid AND a.attname = $2) AS indexed
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`,
    [table, column],
  );
  const { rows: parent } = await db.query<{ valid: boolean }>(
    `SELECT x.indisvalid AS valid FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
      WHERE x.indrelid = $1::regclass AND a.attname = $2`,
    [table, column],
  );
  return { children: rows, parentValid: parent.map((row) => row.valid) };
}

interface CheckJson {
  table: string | null;
  check: string;
  ok: boolean;
  detail: string;
  warning?: boolean;
}

for (const name of ['pg15-partman4', 'bare18'] as TargetName[]) {
  describeTarget(name, `time index on every month (${name})`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(name);
    });
    afterAll(() => db?.drop());

    it('provision creates the Semibot tables with a created_at index on every month, and verify does not warn', async () => {
      await db.query(`CREATE TABLE ${ODD} (id bigint NOT NULL, "Created At" timestamptz NOT NULL, PRIMARY KEY (id, "Created At")) PARTITION BY RANGE ("Created At")`);
      const first = await partkit(db, ['provision', '--json'], { config: configFile, expectedExit: null });
      expect(first.exitCode, first.stderr).toBe(0);
      const messages = await timeIndexed(db, 'public.messages', 'created_at');
      expect(messages.children.length).toBeGreaterThanOrEqual(5);
      expect(messages.children.every((child) => child.indexed)).toBe(true);
      expect(messages.parentValid).toEqual([true]);
      // The odd table existed without one: provision added it to each of its months too.
      const odd = await timeIndexed(db, ODD, 'Created At');
      expect(odd.children.length).toBeGreaterThanOrEqual(5);
      expect(odd.children.every((child) => child.indexed)).toBe(true);
      expect(odd.parentValid).toEqual([true]);
      const again = await partkit(db, ['provision', '--json'], { config: configFile, expectedExit: null });
      expect(again.json.changes).toBe(0);
      const verified = await partkit(db, ['verify', '--json', '--scheduler', 'external', '--max-maintenance-age', '1d'], { config: configFile, expectedExit: null });
      const checks = (verified.json.checks as CheckJson[]).filter((check) => check.check === 'time-index');
      expect(checks.map((check) => [check.ok, check.warning ?? false])).toEqual([
        [true, false],
        [true, false],
      ]);
    });

    it('an installation without the index: doctor and verify warn, provision adds it CONCURRENTLY to every month, and a second provision plans nothing', async () => {
      // As a table provisioned before the index was part of the DDL: drop it from the parent (and so from every month).
      const { rows } = await db.query<{ name: string }>(
        `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE x.indrelid = ANY (ARRAY['public.messages'::regclass, $1::regclass]) AND x.indnatts = 1 AND NOT x.indisprimary`,
        [ODD],
      );
      expect(rows).toHaveLength(2);
      for (const row of rows) await db.query(`DROP INDEX ${row.name}`);
      expect((await timeIndexed(db, ODD, 'Created At')).children.some((child) => child.indexed)).toBe(false);

      const doctor = await partkit(db, ['doctor', '--json'], { config: configFile, expectedExit: null });
      expect(doctor.exitCode, doctor.stderr).toBe(0);
      const tables = doctor.json.tables as { table: string; warnings: string[] }[];
      expect(tables.map((table) => table.warnings.join(' '))).toEqual([
        expect.stringMatching(/children have no index leading with created_at .*run `partkit provision`/),
        expect.stringMatching(/children have no index leading with Created At .*run `partkit provision`/),
      ]);
      const doctorText = await partkit(db, ['doctor'], { config: configFile, expectedExit: null });
      expect(doctorText.stdout).toMatch(/WARNING: .*no index leading with created_at/);

      const verified = await partkit(db, ['verify', '--json', '--scheduler', 'external', '--max-maintenance-age', '1d'], { config: configFile, expectedExit: null });
      const checks = (verified.json.checks as CheckJson[]).filter((check) => check.check === 'time-index');
      expect(checks.map((check) => [check.ok, check.warning])).toEqual([
        [true, true],
        [true, true],
      ]);
      expect(checks[1]!.detail).toMatch(/Odd "Chat" Log/);
      const verifyText = await partkit(db, ['verify', '--scheduler', 'external', '--max-maintenance-age', '1d'], { config: configFile, expectedExit: null });
      expect(verifyText.stdout).toMatch(/! warn public\.messages +time-index/);

      const dry = await partkit(db, ['provision', '--dry-run'], { config: configFile, expectedExit: null });
      expect(dry.stdout).toMatch(/CREATE INDEX IF NOT EXISTS "Odd ""Chat"" Log_Created At_idx" ON ONLY "public"\."Odd ""Chat"" Log" USING btree \("Created At"\)/);
      expect(dry.stdout).toMatch(/CREATE INDEX CONCURRENTLY IF NOT EXISTS "messages_default_created_at_idx" ON "public"\."messages_default" USING btree \("created_at"\)/);
      const fixed = await partkit(db, ['provision', '--json'], { config: configFile, expectedExit: null });
      expect(fixed.exitCode, fixed.stderr).toBe(0);
      for (const [table, column] of [
        ['public.messages', 'created_at'],
        [ODD, 'Created At'],
      ] as const) {
        const state = await timeIndexed(db, table, column);
        expect(state.children.every((child) => child.indexed)).toBe(true);
        expect(state.parentValid).toEqual([true]);
      }
      const again = await partkit(db, ['provision', '--json'], { config: configFile, expectedExit: null });
      expect(again.json.changes).toBe(0);
      const after = await partkit(db, ['doctor', '--json'], { config: configFile, expectedExit: null });
      expect((after.json.tables as { warnings: string[] }[]).every((table) => table.warnings.length === 0)).toBe(true);
      const verifiedAfter = await partkit(db, ['verify', '--json', '--scheduler', 'external', '--max-maintenance-age', '1d'], { config: configFile, expectedExit: null });
      expect((verifiedAfter.json.checks as CheckJson[]).filter((check) => check.check === 'time-index' && check.warning)).toEqual([]);
    });

    it('migrate prep adds a time index when the original has none, and says so', async () => {
      await db.query(`CREATE TABLE public."Plain Log" (id bigint PRIMARY KEY, "At" timestamptz NOT NULL, body text)`);
      await db.query(`INSERT INTO public."Plain Log" SELECT g, now() - g * interval '1 day' FROM generate_series(1, 60) g`);
      const prep = await partkit(db, ['migrate', 'prep', 'public."Plain Log"', '--json'], { config: prepConfig, expectedExit: null });
      expect(prep.exitCode, prep.stderr).toBe(0);
      expect((prep.json.notes as string[]).join('\n')).toMatch(/has no index leading with At, so Plain Log_partitioned gets one/);
      const state = await timeIndexed(db, 'public."Plain Log_partitioned"', 'At');
      expect(state.children.length).toBeGreaterThan(2);
      expect(state.children.every((child) => child.indexed)).toBe(true);
      const again = await partkit(db, ['migrate', 'prep', 'public."Plain Log"', '--json'], { config: prepConfig, expectedExit: null });
      expect(again.json.changes).toBe(0);
    });
  });
}
