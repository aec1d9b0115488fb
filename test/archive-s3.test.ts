/**
 * `partkit archive export --to s3://...` against s3rver on loopback, a STAND-IN for S3 (see
 * test/helpers/s3.ts): the same SDK calls as for AWS S3, R2 or MinIO. On the plpgsql fallback
 * (bare18) and on pg_partman 5 (pg17), with a table name in mixed case with a space and a quote.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execa } from 'execa';
import { cleanEnv, createTestDatabase, describeTarget, REPO_DIR, runPartkit, spawnPartkit, type TargetName, type TestDatabase } from './helpers/targets.js';
import { monthOf } from './helpers/clock.js';
import { startTestS3, S3_ACCESS_KEY, S3_SECRET_KEY, type TestS3 } from './helpers/s3.js';

const TABLE = 'public."Chat ""Log"" Q"';
const TABLE_NAME = 'Chat "Log" Q';
/** The folder of this table's months under the bucket's prefix, as fileSafe spells it. */
const TABLE_KEY = 'public.Chat%20%22Log%22%20Q';
const BACK = [13, 14, 15];

interface ExportJson {
  directory: string;
  months: { archivedTable: string; month: string; action: string; rows: number; file: string; sha256: string; dropped: boolean }[];
  exported: number;
  skipped: number;
  dropped: number;
}

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3(['cold-bare18', 'cold-pg17-partman5']);
});
afterAll(async () => {
  await s3?.stop();
});

function sdk(): S3Client {
  return new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY } });
}

async function objectKeys(bucket: string): Promise<string[]> {
  const page = await sdk().send(new ListObjectsV2Command({ Bucket: bucket }));
  return (page.Contents ?? []).map((object) => object.Key!).sort();
}

async function objectBytes(bucket: string, key: string): Promise<Buffer> {
  const object = await sdk().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await object.Body!.transformToByteArray());
}

/** Highest VmHWM (peak resident set) of a running process, polled from /proc until it exits. */
function watchPeakRss(pid: number): { stop: () => number } {
  let peakKb = 0;
  const timer = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
      peakKb = Math.max(peakKb, kb);
    } catch {
      // Gone: the last reading stands.
    }
  }, 50);
  return {
    stop: () => {
      clearInterval(timer);
      return peakKb / 1024;
    },
  };
}

for (const [target, strategy] of [
  ['bare18', 'plpgsql'],
  ['pg17-partman5', 'partman'],
] as [TargetName, 'plpgsql' | 'partman'][]) {
  describeTarget(target, `archive export to S3 (s3rver stand-in), ${strategy} strategy on ${target}`, () => {
    let db: TestDatabase;
    const bucket = `cold-${target}`;
    const work = mkdtempSync(path.join(tmpdir(), `partkit-archive-s3-${strategy}-`));
    const config = path.join(work, 'partkit.json');
    writeFileSync(config, JSON.stringify({ tables: [{ name: TABLE, controlColumn: 'createdAt' }] }));
    const to = `s3://${bucket}/semibot`;
    const childName = (back: number) => {
      const m = monthOf(-back);
      return strategy === 'partman' ? `${TABLE_NAME}_p${m.key.replace('-', '')}01` : `${TABLE_NAME}_y${m.year}m${String(m.month).padStart(2, '0')}`;
    };
    const archived = (back: number) => `partkit_archive."${childName(back).replaceAll('"', '""')}"`;
    const rowsOf = (back: number) => 10 + back;

    function partkit(args: string[], env: Record<string, string> = s3.env(), timeoutMs?: number) {
      return runPartkit([...args, '--config', config, '--database-url', db.url], { env, ...(timeoutMs ? { timeoutMs } : {}) });
    }
    /** The same as a process of its own, for a run that is killed or whose memory is watched. */
    function partkitProcess(args: string[], env: Record<string, string>, timeoutMs: number) {
      return spawnPartkit([...args, '--config', config, '--database-url', db.url], { env, timeoutMs });
    }
    async function count(sql: string): Promise<number> {
      return Number((await db.query<{ n: string }>(sql)).rows[0]!.n);
    }
    /** Runs `work` while a writer inserts rows of the current month into the table; returns the ids it was given. */
    async function withLiveWriter<T>(work: () => Promise<T>): Promise<{ value: T; written: string[] }> {
      const written: string[] = [];
      let writing = true;
      const writer = (async () => {
        while (writing) {
          const { rows } = await db.query<{ id: string }>(`INSERT INTO ${TABLE} (body, "createdAt") VALUES ('live', now()) RETURNING id::text AS id`);
          written.push(rows[0]!.id);
        }
      })();
      try {
        return { value: await work(), written };
      } finally {
        writing = false;
        await writer;
      }
    }
    async function archivedTables(): Promise<string[]> {
      const { rows } = await db.query<{ name: string }>(`SELECT relname AS name FROM pg_class WHERE relnamespace = 'partkit_archive'::regnamespace AND relkind = 'r' ORDER BY 1`);
      return rows.map((row) => row.name);
    }

    beforeAll(async () => {
      db = await createTestDatabase(target, { kit: true });
      await db.query(`CREATE TABLE ${TABLE} (id bigint GENERATED ALWAYS AS IDENTITY, body text, "createdAt" timestamptz NOT NULL, PRIMARY KEY (id, "createdAt")) PARTITION BY RANGE ("createdAt")`);
      const provision = await partkit(['provision', '--scheduler', 'external']);
      if (provision.exitCode !== 0) throw new Error(`provision failed: ${provision.stderr}`);
      if (strategy === 'plpgsql') {
        for (let back = 1; back <= 15; back += 1) await db.query(`SELECT partkit.create_monthly_partition($1, $2, $3)`, [TABLE, monthOf(-back).year, monthOf(-back).month]);
      } else {
        const times = Array.from({ length: 15 }, (_, i) => `'${monthOf(-(i + 1)).start}'`).join(', ');
        // pg_partman keys its config by the name as it stored it.
        await db.query(`SET TimeZone = 'UTC'; SELECT partman.create_partition_time(p_parent_table := (SELECT parent_table FROM partman.part_config LIMIT 1), p_partition_times := ARRAY[${times}]::timestamptz[])`);
      }
      for (const back of BACK) {
        await db.query(`INSERT INTO ${TABLE} (body, "createdAt") SELECT 'row ' || i || ', "q"', $1::timestamptz + make_interval(secs => i) FROM generate_series(1, $2) i`, [
          `${monthOf(-back).key}-15 12:00:00+00`,
          rowsOf(back),
        ]);
      }
      const maintain = await partkit(['maintain', '--json']);
      if (maintain.exitCode !== 0) throw new Error(`maintain failed: ${maintain.stderr}${maintain.stdout}`);
      expect(await archivedTables()).toEqual(BACK.map(childName).sort());
    });
    afterAll(() => db?.drop());

    it('a missing bucket, wrong credentials and an endpoint that does not answer: exit 4 / 3 with a clear message, nothing written or dropped', async () => {
      const missing = await partkit(['archive', 'export', '--to', 's3://no-such-bucket/x', '--path-style', '--drop-after-export']);
      expect(missing.exitCode, missing.stderr).toBe(4);
      expect(missing.stderr).toMatch(/bucket no-such-bucket does not exist/);

      // s3rver checks the access key id but not V4 signatures, so the wrong credentials are a wrong key id here.
      const wrong = await partkit(['archive', 'export', '--to', to, '--path-style', '--drop-after-export'], s3.env({ AWS_ACCESS_KEY_ID: 'NOT-A-KEY', AWS_SECRET_ACCESS_KEY: 'not-the-secret' }));
      expect(wrong.exitCode, wrong.stderr).toBe(3);
      expect(wrong.stderr).toMatch(/refused the credentials for bucket/);
      expect(wrong.stderr).not.toContain('not-the-secret');

      // A port with a listener that accepts and never answers, and one with no listener at all.
      const silent: Server = createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const silentPort = (silent.address() as { port: number }).port;
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const closedPort = (closed.address() as { port: number }).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      try {
        const refused = await partkit(['archive', 'export', '--to', to, '--path-style', '--drop-after-export', '--endpoint', `http://127.0.0.1:${closedPort}`]);
        expect(refused.exitCode, refused.stderr).toBe(3);
        expect(refused.stderr).toMatch(/Cannot reach the object store at http:\/\/127\.0\.0\.1/);
        const hanging = await partkit(['archive', 'export', '--to', to, '--path-style', '--drop-after-export'], s3.env({ AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${silentPort}`, PARTKIT_S3_TIMEOUT_MS: '2000' }));
        expect(hanging.exitCode, hanging.stderr).toBe(3);
      } finally {
        silent.close();
      }
      expect(await objectKeys(bucket)).toEqual([]);
      expect(await archivedTables()).toEqual(BACK.map(childName).sort());
      expect(await count('SELECT count(*) AS n FROM partkit.archive_export')).toBe(0);
    });

    it('export writes each month under the prefix with a manifest whose checksum matches the object; a second run skips all', async () => {
      const result = await partkit(['archive', 'export', '--to', to, '--path-style', '--sse', 'AES256', '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
      const json = JSON.parse(result.stdout) as ExportJson;
      expect(json).toMatchObject({ directory: to, exported: 3, skipped: 0, dropped: 0 });
      const keys = await objectKeys(bucket);
      expect(keys).toEqual(BACK.flatMap((back) => [`semibot/${TABLE_KEY}/${monthOf(-back).key}.csv.gz`, `semibot/${TABLE_KEY}/${monthOf(-back).key}.json`]).sort());
      for (const back of BACK) {
        const data = await objectBytes(bucket, `semibot/${TABLE_KEY}/${monthOf(-back).key}.csv.gz`);
        const manifest = JSON.parse((await objectBytes(bucket, `semibot/${TABLE_KEY}/${monthOf(-back).key}.json`)).toString('utf8')) as { rows: number; sha256: string; bytes: number; archived_table: string };
        expect(manifest.sha256).toBe(createHash('sha256').update(data).digest('hex'));
        expect(manifest.bytes).toBe(data.length);
        expect(manifest.rows).toBe(rowsOf(back));
        expect(gunzipSync(data).toString('utf8').split('\n')[0]).toBe('id,body,createdAt');
        expect(json.months.find((month) => month.month === monthOf(-back).key)?.file).toBe(`${to}/${TABLE_KEY}/${monthOf(-back).key}.csv.gz`);
      }
      const records = (await db.query<{ file: string }>('SELECT file FROM partkit.archive_export ORDER BY month')).rows.map((row) => row.file);
      expect(records).toEqual([...BACK].reverse().map((back) => `${to}/${TABLE_KEY}/${monthOf(-back).key}.csv.gz`));

      const again = await partkit(['archive', 'export', '--to', to, '--path-style', '--json']);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ exported: 0, skipped: 3 });
    });

    it('a tampered object is not trusted for a drop: the month is exported again, then dropped', async () => {
      // s3rver keeps each object as a file; flip a byte in one of them, size unchanged.
      const month = monthOf(-14).key;
      const stored = findStoredObject(path.join(s3.directory, bucket), `${month}.csv.gz`);
      const bytes = readFileSync(stored);
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
      writeFileSync(stored, bytes);
      // A live writer inserts into the table while months are dropped; every row it got an id for must stay.
      const hotBefore = await count(`SELECT count(*) AS n FROM ${TABLE}`);
      const { value: result, written } = await withLiveWriter(() => partkit(['archive', 'export', '--to', to, '--path-style', '--drop-after-export', '--json']));
      expect(result.exitCode, result.stderr).toBe(0);
      expect(written.length).toBeGreaterThan(0);
      expect(await count(`SELECT count(*) AS n FROM ${TABLE}`)).toBe(hotBefore + written.length);
      expect(await count(`SELECT count(DISTINCT id) AS n FROM ${TABLE} WHERE id = ANY('{${written.join(',')}}'::bigint[])`)).toBe(written.length);
      const json = JSON.parse(result.stdout) as ExportJson;
      expect(json.months.find((m) => m.month === month)).toMatchObject({ action: 'exported', dropped: true });
      expect(json.months.filter((m) => m.action === 'skipped')).toHaveLength(2);
      expect(await archivedTables()).toEqual([]);
      expect(await count('SELECT count(*) AS n FROM partkit.archive_export WHERE dropped_at IS NULL')).toBe(0);
      // No temporary key is left visible.
      expect((await objectKeys(bucket)).filter((key) => key.includes('.partial'))).toEqual([]);
    });

    /** What the rows of month `back` hash to as inserted (computed by the server, not from a file). */
    async function insertedDigest(back: number): Promise<string> {
      const { rows } = await db.query<{ d: string }>(
        `SELECT md5(string_agg('row ' || i || ', "q"' || '|' || ($1::timestamptz + make_interval(secs => i))::text, ',' ORDER BY i)) AS d FROM generate_series(1, $2) i`,
        [`${monthOf(-back).key}-15 12:00:00+00`, rowsOf(back)],
      );
      return rows[0]!.d;
    }
    async function digestOf(relation: string): Promise<string> {
      const { rows } = await db.query<{ d: string }>(`SELECT md5(string_agg(body || '|' || "createdAt"::text, ',' ORDER BY "createdAt")) AS d FROM ${relation}`);
      return rows[0]!.d;
    }
    interface ListJson {
      tables: { table: string; months: { month: string; state: string; rows: number | null; relation: string | null; file: string | null; sha256: string | null; fileState: string | null; problem: string | null }[] }[];
      problems: number;
    }
    async function listJson(args: string[] = []): Promise<{ exitCode: number; json: ListJson; stderr: string }> {
      const result = await partkit(['archive', 'list', '--path-style', '--json', ...args]);
      return { exitCode: result.exitCode ?? -1, json: JSON.parse(result.stdout) as ListJson, stderr: result.stderr };
    }
    const monthIn = (json: ListJson, back: number) => json.tables[0]!.months.find((month) => month.month === monthOf(-back).key);
    const RESTORED = 'public."Restored ""13"""';
    const quotedChild = (back: number) => `public."${childName(back).replaceAll('"', '""')}"`;
    const relationCount = (name: string) => count(`SELECT count(*) AS n FROM pg_class WHERE relname = '${name.replaceAll("'", "''")}'`);

    it('archive list shows hot and dropped months with their files; --check reads them back', async () => {
      const plain = await listJson();
      expect(plain.exitCode, plain.stderr).toBe(0);
      expect(plain.json.tables.map((table) => table.table)).toEqual([TABLE]);
      expect(monthIn(plain.json, 1)).toMatchObject({ state: 'hot', relation: quotedChild(1) });
      for (const back of BACK) expect(monthIn(plain.json, back)).toMatchObject({ state: 'dropped', rows: rowsOf(back), relation: null, file: `${to}/${TABLE_KEY}/${monthOf(-back).key}.csv.gz`, fileState: null });
      const checked = await listJson(['--from', to, '--check']);
      expect(checked.exitCode, checked.stderr).toBe(0);
      for (const back of BACK) expect(monthIn(checked.json, back)).toMatchObject({ state: 'dropped', fileState: 'ok' });
      const text = await partkit(['archive', 'list', '--path-style', '--from', to, '--check']);
      expect(text.stdout).toContain(`${monthOf(-15).key}  dropped`);
      expect(text.stdout).toMatch(/every file under s3:\/\/.* reads back as its manifest says/);
    });

    it('a tampered object: archive list --check flags it and restore refuses on its checksum, creating nothing', async () => {
      const stored = findStoredObject(path.join(s3.directory, bucket), `${monthOf(-13).key}.csv.gz`);
      const original = readFileSync(stored);
      const bytes = Buffer.from(original);
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
      writeFileSync(stored, bytes);
      try {
        const checked = await listJson(['--from', to, '--check']);
        expect(checked.exitCode).toBe(1);
        expect(checked.json.problems).toBe(1);
        expect(monthIn(checked.json, 13)).toMatchObject({ fileState: 'mismatch' });
        expect(monthIn(checked.json, 14)).toMatchObject({ fileState: 'ok' });
        const restore = await partkit(['archive', 'restore', TABLE, '--month', monthOf(-13).key, '--from', to, '--path-style', '--into', RESTORED]);
        expect(restore.exitCode, restore.stderr).toBe(1);
        expect(restore.stderr).toMatch(/does not match its manifest/);
        expect(await relationCount('Restored "13"')).toBe(0);
      } finally {
        writeFileSync(stored, original);
      }
    });

    it('restore --into a new table: rows identical to those inserted; a second run does nothing', async () => {
      const result = await partkit(['archive', 'restore', TABLE, '--month', monthOf(-13).key, '--from', to, '--path-style', '--into', RESTORED, '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ action: 'restored', into: RESTORED, rows: rowsOf(13), attached: false });
      expect(await digestOf(RESTORED)).toBe(await insertedDigest(13));
      const again = await partkit(['archive', 'restore', TABLE, '--month', monthOf(-13).key, '--from', to, '--path-style', '--into', RESTORED, '--json']);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ action: 'skipped' });
      // Without --attach or --into there is no default destination (not the archive schema: purge would drop it again).
      const neither = await partkit(['archive', 'restore', TABLE, '--month', monthOf(-13).key, '--from', to, '--path-style']);
      expect(neither.exitCode).toBe(2);
      expect(neither.stderr).toMatch(/needs --attach .* or --into schema\.table/);
    });

    it('restore --attach: refused past retention; after raising it, --dry-run changes nothing, then the month is attached with a live writer running', async () => {
      const refused = await partkit(['archive', 'restore', TABLE, '--month', monthOf(-15).key, '--from', to, '--path-style', '--attach']);
      expect(refused.exitCode, refused.stderr).toBe(2);
      expect(refused.stderr).toMatch(/is past its retention \(1 year\): maintenance would archive it again/);
      expect(refused.stderr).toMatch(/--attach --keep/);
      expect(await relationCount(childName(15))).toBe(0);

      const longer = path.join(work, 'partkit-36.json');
      writeFileSync(longer, JSON.stringify({ tables: [{ name: TABLE, controlColumn: 'createdAt', retention: '36 months' }] }));
      const provision = await runPartkit(['provision', '--scheduler', 'external', '--config', longer, '--database-url', db.url]);
      expect(provision.exitCode, provision.stderr).toBe(0);

      const dry = await partkit(['archive', 'restore', TABLE, '--month', monthOf(-15).key, '--from', to, '--path-style', '--attach', '--dry-run']);
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/would be loaded from .* and attached/);
      expect(dry.stdout).toMatch(/ATTACH PARTITION/);
      expect(await relationCount(childName(15))).toBe(0);

      // A live writer inserts into the table the whole time; every row it got an id for must be there once.
      const hotBefore = await count(`SELECT count(*) AS n FROM ${TABLE}`);
      const { value: result, written } = await withLiveWriter(() => partkit(['archive', 'restore', TABLE, '--month', monthOf(-15).key, '--from', to, '--path-style', '--attach', '--json']));
      expect(result.exitCode, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ action: 'restored', attached: true, rows: rowsOf(15), into: quotedChild(15) });
      expect(written.length).toBeGreaterThan(0);
      const { rows: bound } = await db.query<{ bound: string }>(
        `SELECT pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid WHERE c.oid = $1::regclass AND i.inhparent = $2::regclass`,
        [quotedChild(15), TABLE],
      );
      expect(bound).toHaveLength(1);
      expect(bound[0]!.bound).toContain(monthOf(-15).key);
      // No bounds check is left behind: the partition bound replaces it.
      expect(await count(`SELECT count(*) AS n FROM pg_constraint WHERE conname = 'partkit_restore_bounds'`)).toBe(0);
      expect(await digestOf(`${TABLE} WHERE "createdAt" >= '${monthOf(-15).start}' AND "createdAt" < '${monthOf(-14).start}'`)).toBe(await insertedDigest(15));
      expect(await count(`SELECT count(*) AS n FROM ${TABLE}`)).toBe(hotBefore + written.length + rowsOf(15));
      expect(await count(`SELECT count(DISTINCT id) AS n FROM ${TABLE} WHERE id = ANY('{${written.join(',')}}'::bigint[])`)).toBe(written.length);

      const again = await partkit(['archive', 'restore', TABLE, '--month', monthOf(-15).key, '--from', to, '--path-style', '--attach', '--json']);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ action: 'skipped', attached: true });
      const listed = await listJson(['--from', to]);
      expect(monthIn(listed.json, 15)).toMatchObject({ state: 'hot' });
      expect(monthIn(listed.json, 14)).toMatchObject({ state: 'dropped', fileState: 'manifest' });
      // Back to the first config, for the tests below.
      expect((await runPartkit(['provision', '--scheduler', 'external', '--config', config, '--database-url', db.url])).exitCode).toBe(0);
    });

    it('restore --attach --keep holds a month past retention (kit archive_hold): maintenance leaves it attached and archives it again once released', async () => {
      const args = ['archive', 'restore', TABLE, '--month', monthOf(-14).key, '--from', to, '--path-style', '--attach', '--keep', '--json'];
      const hotBefore = await count(`SELECT count(*) AS n FROM ${TABLE}`);
      const { value: result, written } = await withLiveWriter(() => partkit(args));
      expect(result.exitCode, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ action: 'restored', attached: true, rows: rowsOf(14) });
      expect(await count(`SELECT count(*) AS n FROM ${TABLE}`)).toBe(hotBefore + written.length + rowsOf(14));
      expect(await count(`SELECT count(*) AS n FROM partkit.archive_hold WHERE month = '${monthOf(-14).key}'`)).toBe(1);

      const maintain = await partkit(['maintain', '--json']);
      expect(maintain.exitCode, maintain.stdout).toBe(0);
      const detached = (JSON.parse(maintain.stdout) as { events: { action: string; partition: string | null }[] }).events.filter((event) => event.action === 'detached').map((event) => event.partition);
      // Month 15 was attached without a hold, past the 12 months: archived again. Month 14 is held.
      expect(detached).toEqual([quotedChild(15)]);
      expect(await count(`SELECT count(*) AS n FROM pg_inherits WHERE inhrelid = '${quotedChild(14).replaceAll("'", "''")}'::regclass`)).toBe(1);
      expect(await digestOf(`${TABLE} WHERE "createdAt" >= '${monthOf(-14).start}' AND "createdAt" < '${monthOf(-13).start}'`)).toBe(await insertedDigest(14));

      await db.query(`DELETE FROM partkit.archive_hold`);
      const released = await partkit(['maintain', '--json']);
      expect(released.exitCode, released.stdout).toBe(0);
      expect((JSON.parse(released.stdout) as { events: { action: string; partition: string | null }[] }).events.filter((event) => event.action === 'detached').map((event) => event.partition)).toEqual([quotedChild(14)]);
    });

    if (target === 'bare18') {
      it('a 1M-row month streams to the bucket with flat memory; SIGKILL mid-upload, then a re-run: exported once, no partial object, nothing dropped unverified', async () => {
        const back = 16;
        const name = `${TABLE_NAME}_y${monthOf(-back).year}m${String(monthOf(-back).month).padStart(2, '0')}`;
        const big = `partkit_archive."${name.replaceAll('"', '""')}"`;
        await db.query(`CREATE TABLE ${big} (id bigint NOT NULL, body text, "createdAt" timestamptz NOT NULL)`);
        await db.query(`INSERT INTO ${big} SELECT i, md5(i::text) || ' some text, "quoted"', $1::timestamptz + make_interval(secs => i % 86400) FROM generate_series(1, 1000000) i`, [`${monthOf(-back).key}-02 00:00:00+00`]);
        const bigKey = `semibot/${TABLE_KEY}/${monthOf(-back).key}.csv.gz`;

        const killed = partkitProcess(['archive', 'export', '--to', to, '--path-style', '--drop-after-export'], s3.env(), 300_000);
        // Killed once the first 5 MiB part reached the store: the multipart upload is under way.
        const deadline = Date.now() + 120_000;
        while (Date.now() < deadline && !partUploaded(path.join(s3.directory, bucket))) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(partUploaded(path.join(s3.directory, bucket))).toBe(true);
        killed.kill('SIGKILL');
        const first = await killed;
        expect(first.exitCode === null || first.signal === 'SIGKILL' || first.isTerminated).toBe(true);
        expect(await objectKeys(bucket)).not.toContain(bigKey);
        expect((await objectKeys(bucket)).filter((key) => key.endsWith('.csv.gz') && !key.includes('.partial'))).not.toContain(bigKey);
        expect(await archivedTables()).toContain(name);

        const run = partkitProcess(['archive', 'export', '--to', to, '--path-style', '--drop-after-export', '--json'], s3.env(), 300_000);
        const rss = watchPeakRss(run.pid!);
        const result = await run;
        const peakMb = rss.stop();
        console.log(`archive export of a 1M-row month to s3 (s3rver stand-in): peak RSS ${peakMb.toFixed(1)} MB`);
        expect(result.exitCode, result.stderr).toBe(0);
        expect(peakMb).toBeGreaterThan(0);
        expect(peakMb).toBeLessThan(200);
        const json = JSON.parse(result.stdout) as ExportJson;
        expect(json.months.filter((m) => m.month === monthOf(-back).key)).toMatchObject([{ action: 'exported', rows: 1_000_000, dropped: true }]);
        const keys = await objectKeys(bucket);
        expect(keys.filter((key) => key.includes('.partial'))).toEqual([]);
        expect(keys.filter((key) => key === bigKey)).toHaveLength(1);
        const data = await objectBytes(bucket, bigKey);
        const manifest = JSON.parse((await objectBytes(bucket, bigKey.replace('.csv.gz', '.json'))).toString('utf8')) as { sha256: string; rows: number };
        expect(createHash('sha256').update(data).digest('hex')).toBe(manifest.sha256);
        expect(manifest.rows).toBe(1_000_000);
        expect(await archivedTables()).toEqual([]);
      }, 600_000);

      it('docker/scripts/archive_old_data.sh takes an s3:// ARCHIVE_DIR (credentials and endpoint from AWS_* variables)', async () => {
        const script = path.join(REPO_DIR, 'docker', 'scripts', 'archive_old_data.sh');
        const run = (env: Record<string, string>) =>
          execa(script, [], {
            env: cleanEnv({ PARTKIT_BIN: `${process.execPath} ${path.join(REPO_DIR, 'dist', 'cli.js')}`, PARTKIT_CONFIG: config, DATABASE_URL: db.url, ARCHIVE_DIR: to, ...s3.env(), ...env }),
            extendEnv: false,
            reject: false,
            timeout: 100_000,
          });
        const ok = await run({ ARCHIVE_S3_PATH_STYLE: '1', ARCHIVE_DROP: '1', ARCHIVE_S3_STORAGE_CLASS: 'STANDARD' });
        expect(ok.exitCode, ok.stderr).toBe(0);
        expect(ok.stdout).toMatch(/^archive export to s3:\/\/cold-bare18\/semibot: /m);
        expect(await archivedTables()).toEqual([]);
        const bad = await run({ ARCHIVE_S3_PATH_STYLE: 'yes' });
        expect(bad.exitCode).toBe(2);
        expect(bad.stderr).toMatch(/ARCHIVE_S3_PATH_STYLE must be 1 or 0/);
        const missing = await run({ ARCHIVE_DIR: 's3://no-such-bucket/x', ARCHIVE_S3_PATH_STYLE: '1' });
        expect(missing.exitCode).toBe(4);
      });
    }
  });
}

/** The file s3rver stores an object's bytes in (its layout: <bucket>/<key>._S3rver_object). */
function findStoredObject(root: string, suffix: string): string {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (full.endsWith(`${suffix}._S3rver_object`) && !full.includes('.partial')) found.push(full);
    }
  };
  walk(root);
  if (found.length !== 1) throw new Error(`expected one stored object ending in ${suffix}, found ${found.length}`);
  return found[0]!;
}

/** True once s3rver holds a part of a multipart upload in this bucket (its layout: <bucket>/._S3rver_uploads/<uploadId>/<partNumber>). */
function partUploaded(bucketDir: string): boolean {
  const uploads = path.join(bucketDir, '._S3rver_uploads');
  if (!existsSync(uploads)) return false;
  return readdirSync(uploads).some((upload) => readdirSync(path.join(uploads, upload)).some((name) => /^\d+$/.test(name)));
}
