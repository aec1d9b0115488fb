/**
 * Read once (src/core/snapshot.ts): provision reads everything in one read-only snapshot, and a
 * read in it that meets a busy lock starts the whole snapshot again with the executor's back-off
 * (a statement cannot be retried alone in a transaction it has ended). Here another session holds
 * ACCESS EXCLUSIVE on the kit's registry, which provision reads first: held for several lock
 * timeouts, provision waits it out and plans as before; held for good, provision gives up with exit 5
 * after its attempts, naming that session.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configFiles, partkit } from './helpers/cli.js';
import { createTestDatabase, describeTarget, type TestDatabase } from './helpers/targets.js';

describeTarget('bare18', 'provision reads once, and starts its snapshot again on a busy lock (bare18)', () => {
  let db: TestDatabase;
  let config: string;

  beforeAll(async () => {
    db = await createTestDatabase('bare18', { kit: true });
    config = configFiles('read-once').write('partkit', { tables: [{ name: 'public.messages', premake: 2 }] });
    await partkit(db, ['provision', '--json', '--scheduler', 'external'], { config });
  });

  afterAll(async () => {
    await db?.drop();
  });

  /** Another session holding ACCESS EXCLUSIVE on partkit.managed_table until `release` is called. */
  async function holdRegistry(): Promise<{ pid: number; release: () => Promise<void> }> {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE partkit.managed_table IN ACCESS EXCLUSIVE MODE');
    const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return {
      pid: rows[0]!.pid,
      release: async () => {
        await holder.query('COMMIT');
        await holder.end();
      },
    };
  }

  it('waits out a lock held for a while: the snapshot starts again, and the plan is the same (nothing to do)', async () => {
    const held = await holdRegistry();
    const run = partkit(db, ['provision', '--dry-run', '--json', '--scheduler', 'external', '--lock-timeout', '100ms', '--lock-retries', '30'], { config });
    // Held until provision waits for it, then five lock timeouts longer: a provision that did not
    // start its snapshot again would have given up (exit 5) long before the release.
    let waited = false;
    for (let tries = 0; tries < 500 && !waited; tries += 1) {
      const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'partkit.managed_table'::regclass AND NOT granted");
      waited = rows[0]!.n > 0;
      if (!waited) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    await held.release();
    const result = await run;
    expect(waited).toBe(true);
    expect(result.json.changes).toBe(0);
  });

  it('gives up on a lock held for good with exit 5 after its attempts, naming the session that holds it; once it is gone provision plans as before', async () => {
    const held = await holdRegistry();
    try {
      // Each attempt waits the default lock timeout, long enough for the executor's monitor to see who blocks it.
      const result = await partkit(db, ['provision', '--scheduler', 'external', '--lock-retries', '2'], { config, expectedExit: 5 });
      expect(result.stderr).toMatch(/Another session holds a lock partkit needs to inspect the tables \(2 attempt\(s\)/);
      expect(result.stderr).toContain(`pg_terminate_backend(${held.pid})`);
    } finally {
      await held.release();
    }
    const again = await partkit(db, ['provision', '--dry-run', '--json', '--scheduler', 'external'], { config });
    expect(again.json.changes).toBe(0);
  });
});
