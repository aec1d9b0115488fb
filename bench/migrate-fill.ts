/**
 * `migrate` benchmark: `partkit migrate fill` against one `INSERT … SELECT` of the same rows into
 * the same partitioned copy, side by side in one run, with the change capture on (the triggers
 * that `migrate prep` puts on the table). The table has a uuid primary key (random key order), the
 * case pgslice refuses and a primary-key-order fill is slowest on.
 *
 *   npm run bench:migrate -- [--rows 2000000] [--reps 2] [--batch-size 10000] [--database-url URL]
 *
 * Each repetition empties the copy, runs the single statement, empties it again, runs the fill
 * (which records its progress and replays the capture after every batch), and the order of the two
 * alternates between repetitions. It prints the medians and the ratio (single statement time / fill
 * time: 1.0 means as fast); it asserts nothing about speed.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { resolveConfig } from '../dist/core/config.js';
import { resolveConnection, type ConnectionTarget } from '../dist/core/connection.js';
import { Database, DEFAULT_EXECUTOR_OPTIONS } from '../dist/core/db.js';
import { startEmbeddedServer } from '../dist/throwaway/server.js';
import { silentLogger } from '../dist/core/log.js';
import { fill } from '../dist/migrate/fill.js';
import { prep } from '../dist/migrate/prep.js';
import { round3, summarise } from '../dist/bench/measure.js';

const SCHEMA = 'bench_migrate';
const EMBEDDED_SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', autovacuum: 'off', max_wal_size: '4GB' } as const;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { rows: { type: 'string' }, reps: { type: 'string' }, 'batch-size': { type: 'string' }, 'database-url': { type: 'string' } },
    strict: true,
  });
  const rows = Number(values.rows ?? 2_000_000);
  const reps = Number(values.reps ?? 2);
  const batchSize = Number(values['batch-size'] ?? 10_000);
  const server = values['database-url'] === undefined ? await startEmbeddedServer({ settings: EMBEDDED_SETTINGS }) : undefined;
  const target: ConnectionTarget = resolveConnection(server ? server.url : values['database-url']!);
  const client = new pg.Client({ ...target.config, application_name: 'partkit-bench' });
  await client.connect();
  let db: Database | undefined;
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await client.query(`CREATE SCHEMA ${SCHEMA}`);
    await client.query(`SET TimeZone = 'UTC'`);
    await client.query(`CREATE TABLE ${SCHEMA}.messages (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), session_id uuid NOT NULL, role text NOT NULL, content text NOT NULL, created_at timestamptz NOT NULL)`);
    log(`bench: ${rows} rows over 30 months into ${SCHEMA}.messages (uuid primary key)...`);
    for (let done = 0; done < rows; done += 250_000) {
      const n = Math.min(250_000, rows - done);
      await client.query(
        `INSERT INTO ${SCHEMA}.messages (session_id, role, content, created_at)
         SELECT md5((g % 5000)::text)::uuid, (ARRAY['user', 'assistant'])[1 + g % 2], 'message text number ' || g || ' ' || repeat('x', g % 80),
                now() - random() * interval '900 days'
           FROM generate_series($1::int, $2::int) g`,
        [done + 1, done + n],
      );
    }
    await client.query(`CREATE INDEX ON ${SCHEMA}.messages (session_id, created_at)`);
    await client.query(`VACUUM ANALYZE ${SCHEMA}.messages`);

    db = await Database.connect(target, { ...DEFAULT_EXECUTOR_OPTIONS, log: silentLogger });
    const config = resolveConfig({ tables: [{ name: `${SCHEMA}.messages`, timeZone: 'UTC' }] }, '(benchmark)');
    await prep(db, config, `${SCHEMA}.messages`, { strategy: 'plpgsql' });
    const copy = `${SCHEMA}.messages_partitioned`;
    const triggers = await client.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = '${SCHEMA}.messages'::regclass AND tgname LIKE 'partkit_capture_%'`);
    log(`bench: capture on (${triggers.rows[0].n} capture triggers on ${SCHEMA}.messages)`);

    const single: number[] = [];
    const filled: number[] = [];
    const runSingle = async () => {
      await client.query(`TRUNCATE ${copy}`);
      await client.query('CHECKPOINT');
      const started = performance.now();
      await client.query(`INSERT INTO ${copy} SELECT * FROM ${SCHEMA}.messages`);
      single.push(performance.now() - started);
    };
    const runFill = async () => {
      await client.query(`TRUNCATE ${copy}`);
      await client.query('CHECKPOINT');
      const started = performance.now();
      const result = await fill(db!, config, `${SCHEMA}.messages`, { batchSize, sleepMs: 0, rescan: true });
      filled.push(performance.now() - started);
      if (result.rowsCopied !== rows) throw new Error(`fill copied ${result.rowsCopied} rows, expected ${rows}`);
      log(`bench:   fill: ${result.batches} batches`);
    };
    for (let rep = 0; rep < reps; rep += 1) {
      if (rep % 2 === 0) {
        await runSingle();
        await runFill();
      } else {
        await runFill();
        await runSingle();
      }
      log(`bench: rep ${rep + 1}: INSERT … SELECT ${Math.round(single.at(-1)!)} ms, fill ${Math.round(filled.at(-1)!)} ms`);
    }
    const s = summarise(single);
    const f = summarise(filled);
    const ratio = round3(s.median / f.median);
    process.stdout.write(
      [
        `migrate fill vs one INSERT … SELECT (${rows} rows, uuid primary key, capture on, ${reps} reps, PostgreSQL ${server?.version ?? 'external'})`,
        `  INSERT … SELECT  median ${Math.round(s.median)} ms  (${Math.round(rows / (s.median / 1000))} rows/s)`,
        `  migrate fill     median ${Math.round(f.median)} ms  (${Math.round(rows / (f.median / 1000))} rows/s)`,
        `  ratio (fill speed / single statement speed): ${ratio}x`,
        '',
      ].join('\n'),
    );
    return 0;
  } finally {
    await db?.close();
    await client.end().catch(() => undefined);
    await server?.stop();
  }
}

process.exitCode = await main();
