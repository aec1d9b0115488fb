/**
 * Bad input gets a named error: each case below answers within seconds with a clear message and
 * an exit code of 2 to 5 (never 6, "a bug"), and leaves the database (and the disk) as it was.
 * And the password never reaches the output, while the server's own words do, unchanged, even
 * when the password is one of them.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { catalogSnapshot } from './helpers/catalog.js';
import { partkit } from './helpers/cli.js';
import { cleanEnv, createRole, createTestDatabase, describeTarget, REPO_DIR, runPartkit, target, type TestDatabase } from './helpers/targets.js';

interface BadInput {
  readonly title: string;
  /** The arguments; `{url}` is the test database's URL, `{dir}` a fresh folder. */
  readonly args: readonly string[];
  readonly exit: 2 | 3 | 4 | 5;
  readonly message: RegExp;
  readonly hint?: RegExp;
  /** Text that must not appear anywhere in the output. */
  readonly never?: RegExp;
  /** Environment of the run (nothing else: no DATABASE_URL, no PG* variable). */
  readonly env?: Record<string, string>;
  /** Run as a user who may not write `{dir}` (`nobody` when the tests run as root). */
  readonly asOtherUser?: boolean;
  /** Prepares `{dir}` before the run. */
  readonly folder?: (dir: string) => void;
  /** What must not exist afterwards, relative to `{dir}`. */
  readonly notCreated?: readonly string[];
}

const CLI = path.join(REPO_DIR, 'dist', 'cli.js');

/**
 * The arguments of the first example of a --help text. yargs prints examples in two columns (the
 * command, its description) and wraps both: the command is the left column of the lines up to
 * the next line that starts with `partkit`.
 */
function firstExample(help: string): string[] {
  const lines = help.slice(help.indexOf('Examples:')).split('\n').slice(1);
  const first = lines[0] ?? '';
  // The description column starts after the last run of two or more spaces on the first line.
  const column = Math.max(...[...first.matchAll(/ {2,}(?=\S)/g)].map((match) => match.index + match[0].length));
  const words: string[] = [];
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '' || (index > 0 && /^\s*partkit /.test(line))) break;
    words.push(...line.slice(0, column).trim().split(/\s+/).filter(Boolean));
  }
  return words.slice(1);
}
const asRoot = process.getuid?.() === 0;

describeTarget('bare18', 'bad input gets a named error (exit 2-5), within seconds, and changes nothing', () => {
  let db: TestDatabase;
  let tcp: { host: string; port: number };
  beforeAll(async () => {
    db = await createTestDatabase('bare18', { kit: true });
    await partkit(db, ['provision', '--scheduler', 'external']);
    // An archived month big enough that its COPY fills every buffer when nothing reads it.
    await db.query(`INSERT INTO public.messages (session_id, role, content, created_at)
                    SELECT gen_random_uuid(), 'user', md5(g::text) || md5((g * 7)::text), now() - interval '20 months' + g * interval '1 second'
                      FROM generate_series(1, 40000) g`);
    await partkit(db, ['maintain']);
    const info = target('bare18');
    tcp = { host: info.host, port: info.port };
  });
  afterAll(() => db?.drop());

  const cases: BadInput[] = [
    { title: 'maintain --table with a malformed name', args: ['maintain', '--table', 'public."x', '--database-url', '{url}'], exit: 2, message: /Invalid table name .*public\..*x.*: unterminated quoted identifier/ },
    {
      title: 'a URL with bad %-encoding (in the password)',
      args: ['status', '--database-url', 'postgresql://postgres:se%zzcret@127.0.0.1:1/db'],
      exit: 3,
      message: /bad %-sequence in its password/,
      hint: /%25/,
      never: /se%zzcret/,
    },
    { title: 'a URL with bad %-encoding (in the database name)', args: ['status', '--database-url', 'postgresql://postgres@127.0.0.1:1/sem%ibot'], exit: 3, message: /bad %-sequence in its database name/ },
    {
      title: 's3:/bucket (one slash) is not written as a local folder s3:',
      args: ['archive', 'export', '--to', 's3:/bucket', '--database-url', '{url}'],
      exit: 2,
      message: /"s3:\/bucket" is neither a folder nor an s3:\/\/ address \(an S3 address has two slashes/,
      notCreated: ['s3:'],
    },
    {
      title: 'archive export into a folder this user cannot write',
      args: ['archive', 'export', '--to', '{dir}/cold', '--database-url', '{url}'],
      asOtherUser: true,
      folder: (dir) => mkdirSync(path.join(dir, 'cold'), { mode: 0o555 }),
      exit: 4,
      message: /Cannot write to .*cold: permission denied/,
    },
    {
      title: "archive export when the table's folder under --to cannot be written (the month's COPY has started)",
      args: ['archive', 'export', '--to', '{dir}/cold', '--database-url', '{url}'],
      asOtherUser: true,
      folder: (dir) => {
        mkdirSync(path.join(dir, 'cold', 'public.messages'), { recursive: true, mode: 0o755 });
        chmodSync(path.join(dir, 'cold'), 0o777);
      },
      exit: 4,
      message: /Cannot write to .*cold\/public\.messages: permission denied/,
    },
    { title: 'an export path under /proc', args: ['archive', 'export', '--to', '/proc/partkit-bad-input/cold', '--database-url', '{url}'], exit: 2, message: /Cannot create --to folder \/proc\/partkit-bad-input\/cold/ },
    {
      title: 'a server that asks for a password when none is given',
      args: ['status', '--database-url', 'postgresql://postgres@{tcp}/postgres'],
      exit: 3,
      message: /the server asks for a password, and none was given/,
      hint: /PGPASSWORD/,
      never: /client password must be a string/,
    },
    {
      title: 'no URL and no PG* variable: the defaults that were tried are named',
      args: ['status'],
      env: { PARTKIT_CONNECT_TIMEOUT_MS: '2000' },
      exit: 3,
      message: /localhost:5432.*no --database-url, DATABASE_URL or PG\* variable is set, so partkit tried libpq's defaults/,
      hint: /--database-url postgres:\/\/user:password@host:5432\/database/,
    },
    { title: 'a typo in a table name (migrate fill)', args: ['migrate', 'fill', 'public.mesages', '--database-url', '{url}'], exit: 4, message: /Table public\.mesages does not exist/, hint: /Did you mean public\.messages\? partkit migrate fill public\.messages$/, never: /prep public\.mesages/ },
    { title: 'a typo in a table name (maintain --table)', args: ['maintain', '--table', 'public.mesages', '--database-url', '{url}'], exit: 4, message: /Table public\.mesages does not exist/, hint: /partkit maintain --table public\.messages/ },
    { title: 'a typo in a table name (partition create)', args: ['partition', 'create', 'public.mesages', '--month', '2026-01', '--database-url', '{url}'], exit: 4, message: /Table public\.mesages does not exist/, hint: /partkit partition create public\.messages --month 2026-01/ },
    { title: 'a typo in a table name (migrate status)', args: ['migrate', 'status', 'public."Messages"', '--database-url', '{url}'], exit: 4, message: /Table public\."Messages" does not exist/, hint: /partkit migrate status public\.messages/ },
    { title: 'a typo in a table name (deprovision --table)', args: ['deprovision', '--table', 'public.mesages', '--database-url', '{url}'], exit: 4, message: /Table public\.mesages does not exist/, hint: /partkit deprovision --table public\.messages$/ },
    { title: 'a typo in a table name (archive release)', args: ['archive', 'release', 'public.mesages', '--month', '2025-01', '--database-url', '{url}'], exit: 4, message: /Table public\.mesages does not exist/, hint: /partkit archive release public\.messages --month 2025-01$/ },
    { title: 'a typo in a table name (migrate abort)', args: ['migrate', 'abort', 'public.mesages', '--database-url', '{url}'], exit: 4, message: /Table public\.mesages does not exist/, hint: /partkit migrate abort public\.messages$/ },
    { title: '--junit without a file', args: ['verify', '--junit', '--database-url', '{url}'], exit: 2, message: /--junit needs a value/, hint: /partkit verify --help/ },
    { title: 'a word where a number is expected (migrate fill --batch-size)', args: ['migrate', 'fill', 'public.messages', '--batch-size', 'lots', '--database-url', '{url}'], exit: 2, message: /--batch-size needs a number/ },
    { title: 'a word where a number is expected (verify --max-default-rows)', args: ['verify', '--max-default-rows', 'none', '--database-url', '{url}'], exit: 2, message: /--max-default-rows needs a number/ },
    // There is no `archive purge` command (purge runs inside maintenance): asking for one is a usage error that names it.
    { title: 'archive purge, which is not a command, with half of some options', args: ['archive', 'purge', '--older-than', '--database-url', '{url}'], exit: 2, message: /Unknown argument.*purge/ },
    { title: 'archive restore --keep without --attach', args: ['archive', 'restore', 'public.messages', '--month', '2025-01', '--from', '{dir}', '--keep', '--database-url', '{url}'], exit: 2, message: /--keep holds a month attached, so it needs --attach/ },
  ];

  for (const bad of cases) {
    it(bad.title, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'partkit-bad-input-'));
      chmodSync(dir, 0o755);
      bad.folder?.(dir);
      const args = bad.args.map((arg) => arg.replaceAll('{url}', db.url).replaceAll('{dir}', dir).replaceAll('{tcp}', `${tcp.host}:${tcp.port}`));
      const before = await catalogSnapshot(db);
      const started = Date.now();
      const result =
        bad.asOtherUser && asRoot
          ? await execa('runuser', ['-u', 'nobody', '--', process.execPath, CLI, ...args], { cwd: dir, env: cleanEnv(bad.env), extendEnv: false, reject: false, timeout: 60_000 })
          : await runPartkit(args, { cwd: dir, ...(bad.env ? { env: bad.env } : {}), timeoutMs: 60_000 });
      const seconds = (Date.now() - started) / 1000;
      const output = `${result.stdout}\n${result.stderr}`;
      expect(result.exitCode, output).toBe(bad.exit);
      expect(result.stderr).toMatch(/^partkit: /m);
      expect(result.stderr, output).toMatch(bad.message);
      if (bad.hint) expect(/^hint: (.*)$/m.exec(result.stderr)?.[1], output).toMatch(bad.hint);
      if (bad.never) expect(output).not.toMatch(bad.never);
      expect(output).not.toMatch(/internal error|bug in partkit/);
      // Generous on a loaded machine; the cases that hung or looped before never came back at all.
      expect(seconds).toBeLessThan(30);
      expect(await catalogSnapshot(db)).toEqual(before);
      for (const name of bad.notCreated ?? []) expect(existsSync(path.join(dir, name)), `${name} was created in ${dir}: ${readdirSync(dir).join(', ')}`).toBe(false);
    });
  }

  it('the first example of `archive restore --help` runs (it fails only because there is no export to restore)', async () => {
    const help = await runPartkit(['archive', 'restore', '--help']);
    const args = firstExample(help.stdout);
    expect(args.slice(0, 3), help.stdout).toEqual(['archive', 'restore', 'public.messages']);
    const result = await runPartkit([...args, '--database-url', db.url]);
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/There is no export of public\.messages for 2025-11/);
  });
});

describeTarget('bare18', 'secrets: the password is taken out of what is printed, the server words stay as written', () => {
  let db: TestDatabase;
  let base: string;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
    const info = target('bare18');
    base = `postgresql://%USER%:%PASSWORD%@${info.host}:${info.port}`;
  });
  afterAll(() => db?.drop());

  const url = (user: string, password: string, database: string) => base.replace('%USER%', encodeURIComponent(user)).replace('%PASSWORD%', encodeURIComponent(password)) + `/${encodeURIComponent(database)}`;
  const run = async (databaseUrl: string) => {
    const text = await runPartkit(['status', '--database-url', databaseUrl]);
    const json = await runPartkit(['status', '--json', '--database-url', databaseUrl]);
    return { text, json, message: (JSON.parse(json.stdout) as { error: { message: string } }).error.message };
  };

  it('a password equal to the user name: "password authentication failed for user <name>" keeps the name', async () => {
    const role = await createRole('semibot', db);
    const { text, message } = await run(url(role.name, role.name, db.name));
    expect(text.exitCode).toBe(3);
    expect(text.stderr).toContain(`password authentication failed for user "${role.name}"`);
    expect(message).toContain(`password authentication failed for user "${role.name}"`);
    expect(text.stderr).not.toContain('***');
  });

  it('a password equal to the database name: "database <name> does not exist" keeps the name', async () => {
    const role = await createRole('semibot', db, { password: 'semibot_db_x' });
    const { text, message } = await run(url(role.name, role.password, 'semibot_db_x'));
    expect(text.exitCode).toBe(3);
    expect(text.stderr).toContain('database "semibot_db_x" does not exist');
    expect(message).toContain('database "semibot_db_x" does not exist');
    expect(text.stderr).toMatch(/Cannot connect to semibot_\w+@[\d.]+:\d+\/semibot_db_x: database "semibot_db_x" does not exist/);
  });

  it('a password that is a word of the error: the message keeps the word', async () => {
    const role = await createRole('semibot', db, { password: 'does' });
    const { text, message } = await run(url(role.name, 'does', 'nosuch_db'));
    expect(text.exitCode).toBe(3);
    expect(text.stderr).toContain('database "nosuch_db" does not exist');
    expect(message).toContain('database "nosuch_db" does not exist');
  });

  it('the password itself is never printed: not from a URL that does not parse, not in --json', async () => {
    const secret = 'Pa55/w0rd@x';
    const raw = `postgresql://someone:${secret}@127.0.0.1:notaport/db`;
    const text = await runPartkit(['status', '--database-url', raw]);
    const json = await runPartkit(['status', '--json', '--database-url', raw]);
    expect(text.exitCode).toBe(3);
    expect(text.stderr).toMatch(/not a valid URL \(postgresql:\/\/someone:\*\*\*@127\.0\.0\.1:notaport\/db\)/);
    for (const output of [text.stdout, text.stderr, json.stdout, json.stderr]) {
      expect(output).not.toContain('Pa55');
      expect(output).not.toContain('w0rd');
    }
  });
});
