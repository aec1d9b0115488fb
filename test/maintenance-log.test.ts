import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeTarget, runPartkit, type TestDatabase } from './helpers/targets.js';

describeTarget('bare18', 'the maintenance log', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18', { kit: true });
    const result = await runPartkit(['provision', '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(0);
  });
  afterAll(() => db?.drop());

  it('records every run and keeps 90 days of it', async () => {
    const { rows: old } = await db.query<{ id: string }>(
      `INSERT INTO partkit.maintenance_run (started_at, finished_at, ok, source) VALUES (now() - interval '100 days', now() - interval '100 days', true, 'test') RETURNING id`,
    );
    await db.query(`INSERT INTO partkit.maintenance_event (run_id, parent_schema, parent_table, action) VALUES ($1, 'public', 'messages', 'created')`, [old[0]!.id]);
    const { rows: recent } = await db.query<{ id: string }>(
      `INSERT INTO partkit.maintenance_run (started_at, finished_at, ok, source) VALUES (now() - interval '10 days', now() - interval '10 days', true, 'test') RETURNING id`,
    );

    const result = await runPartkit(['maintain', '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(0);

    const { rows } = await db.query<{ id: string; ok: boolean; source: string }>(`SELECT id, ok, source FROM partkit.maintenance_run ORDER BY id`);
    const ids = rows.map((row) => row.id);
    expect(ids).not.toContain(old[0]!.id);
    expect(ids).toContain(recent[0]!.id);
    expect(rows.at(-1)).toMatchObject({ ok: true, source: 'partkit maintain' });
    const { rows: orphans } = await db.query(`SELECT 1 FROM partkit.maintenance_event WHERE run_id = $1`, [old[0]!.id]);
    expect(orphans).toHaveLength(0);
  });
});
