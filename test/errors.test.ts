/**
 * Error classes at the CLI: a name too long for PostgreSQL exits 2 wherever it is found (the
 * command line, the config, a derived name, or the kit's own check on the server), and a month
 * that overlaps an existing partition is a ConflictError (exit 5), not a lock.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeTarget, runPartkit, type TestDatabase } from './helpers/targets.js';

interface ErrorJson {
  readonly error: { readonly type?: string; readonly message: string; readonly hint?: string; readonly exitCode: number };
}

describeTarget('bare18', 'error classes and exit codes', () => {
  let db: TestDatabase;
  const json = async (args: string[]) => {
    const result = await runPartkit([...args, '--json', '--database-url', db.url]);
    return { exitCode: result.exitCode, body: JSON.parse(result.stdout) as ErrorJson, stderr: result.stderr };
  };
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
    const result = await runPartkit(['provision', '--scheduler', 'external', '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(0);
  });
  afterAll(() => db?.drop());

  it('a name too long for PostgreSQL exits 2 from the command line, the config, a derived name and the kit on the server', async () => {
    // 60 bytes with a space and mixed case: the table exists, but its months' names (+ _y2026m01) would not fit.
    const long = `Long Name ${'x'.repeat(50)}`;
    expect(Buffer.byteLength(long)).toBe(60);
    await db.query(`CREATE TABLE public."${long}" (id bigint, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);

    const typed = await json(['partition', 'create', `public."${long}xxxx"`, '--month', '2026-01']);
    expect(typed.exitCode, typed.stderr).toBe(2);
    expect(typed.body.error).toMatchObject({ type: 'IdentifierTooLongError', exitCode: 2 });
    expect(typed.body.error.message).toMatch(/is 64 bytes long; PostgreSQL keeps only 63/);

    // The kit's create_monthly_partition raises name_too_long (42622) for the child name.
    const server = await json(['partition', 'create', `public."${long}"`, '--month', '2026-01']);
    expect(server.exitCode, server.stderr).toBe(2);
    expect(server.body.error.exitCode).toBe(2);
    expect(server.body.error.message).toMatch(/SQLSTATE 42622/);

    const configFile = path.join(tmpdir(), `partkit-errors-${process.pid}.json`);
    writeFileSync(configFile, JSON.stringify({ tables: [{ name: `public."${long}"` }] }));
    const config = await json(['provision', '--config', configFile]);
    expect(config.exitCode, config.stderr).toBe(2);
    expect(config.body.error).toMatchObject({ type: 'IdentifierTooLongError', exitCode: 2 });
    expect(config.body.error.message).toMatch(/field "tables\[0\]\.name"/);

    const derived = await json(['migrate', 'prep', `public."${'y'.repeat(55)}"`]);
    expect(derived.exitCode, derived.stderr).toBe(2);
    expect(derived.body.error).toMatchObject({ type: 'IdentifierTooLongError', exitCode: 2 });
    expect(derived.body.error.message).toMatch(/would be 67 bytes long/);
  });

  it('a month that overlaps an existing partition is a ConflictError (exit 5) and changes nothing', async () => {
    await db.query(`CREATE TABLE public."Odd Events" (id bigint, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
    await db.query(`CREATE TABLE public."Odd Events mid" PARTITION OF public."Odd Events" FOR VALUES FROM ('2020-01-15 00:00:00+00') TO ('2020-02-15 00:00:00+00')`);
    const conflict = await json(['partition', 'create', 'public."Odd Events"', '--month', '2020-01']);
    expect(conflict.exitCode, conflict.stderr).toBe(5);
    expect(conflict.body.error).toMatchObject({ type: 'ConflictError', exitCode: 5 });
    expect(conflict.body.error.message).toMatch(/2020-01 overlaps public\."Odd Events mid"/);
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'public."Odd Events"'::regclass`);
    expect(rows[0]!.n).toBe(1);
  });
});
