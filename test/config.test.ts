import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/core/config.js';
import { parseQualifiedName } from '../src/core/identifiers.js';
import { REPO_DIR, runPartkit } from './helpers/targets.js';

const dir = mkdtempSync(path.join(tmpdir(), 'partkit-config-'));
function configFile(name: string, content: unknown): string {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('configuration', () => {
  it('defaults to the four Semibot tables, monthly, premake 4, 12 months retention, UTC', () => {
    const config = resolveConfig({}, 'test');
    expect(config.tables.map((t) => `${t.name.schema}.${t.name.name}`)).toEqual(['public.messages', 'public.execution_logs', 'public.api_key_logs', 'public.usage_records']);
    for (const table of config.tables) {
      expect(table).toMatchObject({ controlColumn: 'created_at', interval: '1 month', premake: 4, retention: '12 months', archiveSchema: 'partkit_archive', purgeAfter: null, timeZone: 'UTC' });
    }
  });

  it('distribution: per table or in defaults, null keeps a table local, colocateWith defaults to "default"', () => {
    const config = resolveConfig(
      {
        defaults: { distribution: { column: 'organization_id' } },
        tables: [{ name: 'public.messages', distribution: { column: 'session_id', colocateWith: 'none' } }, { name: 'public.usage_records' }, { name: 'public.api_key_logs', distribution: null }],
      },
      'test',
    );
    expect(config.tables.map((table) => table.distribution)).toEqual([{ column: 'session_id', colocateWith: 'none' }, { column: 'organization_id', colocateWith: 'default' }, null]);
    expect(resolveConfig({}, 'test').tables.every((table) => table.distribution === null)).toBe(true);
  });

  it('applies defaults and per-table overrides, and parses quoted names', () => {
    const config = resolveConfig(
      {
        defaults: { premake: 6, timeZone: 'Asia/Shanghai' },
        tables: [{ name: 'public.messages', retention: '2 years' }, { name: 'app."Odd ""Name"" Logs"', premake: 2, purge: { enabled: true, after: '3 years' } }],
      },
      'test',
    );
    expect(config.tables[0]).toMatchObject({ premake: 6, retention: '2 years', timeZone: 'Asia/Shanghai' });
    expect(config.tables[1]).toMatchObject({ name: { schema: 'app', name: 'Odd "Name" Logs' }, premake: 2, purgeAfter: '3 years' });
  });

  const invalid: [string, unknown, RegExp][] = [
    ['unknown key', { tables: [{ name: 'messages', retension: '1 year' }] }, /tables\[0\].*retension/],
    ['unknown top-level key', { tabels: [] }, /tabels/],
    ['bad interval', { defaults: { interval: '1 fortnight' } }, /defaults\.interval/],
    ['weekly interval', { tables: [{ name: 'messages', interval: '1 week' }] }, /tables\[0\]\.interval.*1 month/],
    ['bad retention', { tables: [{ name: 'messages', retention: 'forever' }] }, /tables\[0\]\.retention/],
    ['retention shorter than the interval', { tables: [{ name: 'messages', retention: '2 weeks' }] }, /tables\[0\]\.retention.*shorter than the partition interval/],
    ['bad time zone', { defaults: { timeZone: 'Mars/Olympus' } }, /defaults\.timeZone/],
    ['duplicate table', { tables: [{ name: 'messages' }, { name: 'public.messages' }] }, /tables\[1\]\.name.*duplicate/],
    ['injection attempt in a name', { tables: [{ name: 'messages; DROP TABLE users' }] }, /tables\[0\]\.name.*Invalid table name/],
    ['premake not a number', { defaults: { premake: 'four' } }, /defaults\.premake/],
    ['archive off with retention', { tables: [{ name: 'messages', archive: false }] }, /tables\[0\]\.archive/],
    ['archiveSchema equal to a table\'s own schema', { archiveSchema: 'public' }, /field "archiveSchema": "public" is the schema of tables\[0\] \(public\.messages\)/],
    ['archiveSchema equal to a quoted table\'s schema', { archiveSchema: 'App Data', tables: [{ name: '"App Data".events', retention: null }] }, /field "archiveSchema": "App Data" is the schema of tables\[0\]/],
    // A newline in any of these once ended a `--` comment of the --dry-run script and ran what followed.
    ['a newline in maintenance.jobName', { maintenance: { jobName: 'x\nDROP TABLE public.y;\n--' } }, /field "maintenance\.jobName": contains the control character U\+000A/],
    ['a newline in archiveSchema', { archiveSchema: 'arch\nDROP TABLE public.y;\n--' }, /field "archiveSchema": contains the control character U\+000A/],
    ['a carriage return in kitSchema', { kitSchema: 'kit\rDROP TABLE public.y;' }, /field "kitSchema": contains the control character U\+000D/],
    ['a tab in partmanSchema', { partmanSchema: 'part\tman' }, /field "partmanSchema": contains the control character U\+0009/],
    ['a newline in a quoted table name', { tables: [{ name: 'public."y\nDROP TABLE public.y;\n--"' }] }, /field "tables\[0\]\.name": contains the control character U\+000A/],
    ['a DEL in a control column', { tables: [{ name: 'messages', controlColumn: 'created\u007fat' }] }, /field "tables\[0\]\.controlColumn": contains the control character U\+007F/],
    ['a newline in a time zone', { defaults: { timeZone: 'UTC\n' } }, /field "defaults\.timeZone": contains the control character U\+000A/],
    ['a newline in the schedule', { maintenance: { schedule: '0 * * * *\nDROP TABLE public.y;' } }, /field "maintenance\.schedule": contains the control character U\+000A/],
    ['a newline in retention', { defaults: { retention: '12 months\n' } }, /field "defaults\.retention": contains the control character U\+000A/],
    // Citus (src/citus/): the column is required, unknown keys and self co-location are refused.
    ['a distribution without a column', { tables: [{ name: 'messages', distribution: { colocateWith: 'default' } }] }, /field "tables\[0\]\.distribution\.column"/],
    ['an unknown key in distribution', { defaults: { distribution: { column: 'session_id', shards: 8 } } }, /field "defaults\.distribution".*unknown key "shards"/],
    ['a table co-located with itself', { tables: [{ name: 'public.messages', distribution: { column: 'session_id', colocateWith: 'messages' } }] }, /field "tables\[0\]\.distribution\.colocateWith": a table cannot be co-located with itself/],
  ];

  for (const [label, content, field] of invalid) {
    it(`rejects ${label} with exit 2 and names the field`, async () => {
      const result = await runPartkit(['doctor', '--config', configFile(label.replaceAll(' ', '-'), content)]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toMatch(field);
      expect(result.stdout).toBe('');
    });
  }

  it('rejects a table name with a control character on the command line, quoted or not, with exit 2', async () => {
    for (const name of ['public."y\nDROP TABLE public.z;\n--"', 'messages\t', '"Odd\u0001Name"']) {
      expect(() => parseQualifiedName(name)).toThrow(/contains the control character U\+00(0A|09|01)/);
      const result = await runPartkit(['partition', 'create', name, '--month', '2026-03']);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toMatch(/Invalid table name .*contains the control character/);
    }
    expect(parseQualifiedName('app."Odd ""Name"" Logs"')).toEqual({ schema: 'app', name: 'Odd "Name" Logs' });
  });

  it('rejects a file that is not JSON, and a missing file, with exit 2', async () => {
    const broken = await runPartkit(['doctor', '--config', configFile('broken', '{ "tables": [')]);
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr).toMatch(/not valid JSON/);
    const missing = await runPartkit(['doctor', '--config', path.join(dir, 'nope.json')]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/Cannot read config file/);
  });

  it('reads PARTKIT_CONFIG when --config is not given', async () => {
    const result = await runPartkit(['doctor'], { env: { PARTKIT_CONFIG: configFile('env', { defaults: { timeZone: 'Nowhere/Land' } }) } });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/defaults\.timeZone/);
  });

  it('rejects unknown commands and options with exit 2', async () => {
    expect((await runPartkit(['frobnicate'])).exitCode).toBe(2);
    expect((await runPartkit(['doctor', '--no-such-option'])).exitCode).toBe(2);
  });

  it('config show prints the resolved configuration without connecting; invalid files exit 2', async () => {
    const file = configFile('show', { defaults: { premake: 6 }, tables: [{ name: 'app."Odd Logs"', timeZone: 'Asia/Shanghai', purge: { enabled: true, after: '3 years' } }] });
    const result = await runPartkit(['config', 'show', '--json', '--config', file]);
    expect(result.exitCode, result.stderr).toBe(0);
    const shown = JSON.parse(result.stdout);
    expect(shown.source).toBe(file);
    expect(shown.tables).toEqual([
      { name: 'app."Odd Logs"', controlColumn: 'created_at', interval: '1 month', premake: 6, retention: '12 months', archiveSchema: 'partkit_archive', purgeAfter: '3 years', timeZone: 'Asia/Shanghai', distribution: null, ids: 'uuidv7' },
    ]);
    const text = await runPartkit(['config', 'show']);
    expect(text.stdout).toMatch(/public\.messages: monthly on created_at, premake 4, retention 12 months into partkit_archive, purge off, zone UTC/);
    const invalid = await runPartkit(['config', 'show', '--config', configFile('show-bad', { defaults: { premake: 0 } })]);
    expect(invalid.exitCode).toBe(2);
    expect(invalid.stderr).toMatch(/defaults\.premake/);
  });

  it('archive export modes: 0600/0700 by default, octal strings validated, shown by config show', async () => {
    expect(resolveConfig({}, 'test').archiveExport).toEqual({ fileMode: 0o600, dirMode: 0o700 });
    expect(resolveConfig({ archiveExport: { fileMode: '0640', dirMode: '750' } }, 'test').archiveExport).toEqual({ fileMode: 0o640, dirMode: 0o750 });
    for (const [archiveExport, field] of [
      [{ fileMode: '644' + '4' }, /archiveExport\.fileMode": expected an octal mode/],
      [{ fileMode: 'rw-------' }, /archiveExport\.fileMode": expected an octal mode/],
      [{ fileMode: '0400' }, /archiveExport\.fileMode": the owner needs read and write/],
      [{ dirMode: '0600' }, /archiveExport\.dirMode": the owner needs read, write and search/],
      [{ umask: '077' }, /archiveExport": unknown key "umask"/],
    ] as const) {
      const result = await runPartkit(['config', 'show', '--config', configFile('modes', { archiveExport })]);
      expect(result.exitCode, JSON.stringify(archiveExport)).toBe(2);
      expect(result.stderr).toMatch(field);
    }
    const shown = await runPartkit(['config', 'show', '--json', '--config', configFile('modes-ok', { archiveExport: { dirMode: '0750' } })]);
    expect(JSON.parse(shown.stdout).archiveExport).toEqual({ fileMode: '0600', dirMode: '0750' });
  });

  it('config schema describes exactly the keys the validator accepts', async () => {
    const result = await runPartkit(['config', 'schema']);
    expect(result.exitCode, result.stderr).toBe(0);
    const schema = JSON.parse(result.stdout) as { additionalProperties: boolean; properties: Record<string, { properties?: Record<string, unknown>; additionalProperties?: boolean }> };
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties).sort()).toEqual(['$schema', 'archiveExport', 'archiveSchema', 'defaults', 'kitSchema', 'maintenance', 'partmanSchema', 'strategy', 'tables']);
    expect(Object.keys(schema.properties.archiveExport!.properties!).sort()).toEqual(['dirMode', 'fileMode']);
    expect(Object.keys(schema.properties.defaults!.properties!).sort()).toEqual(['archive', 'controlColumn', 'distribution', 'ids', 'interval', 'premake', 'purge', 'retention', 'timeZone']);
    expect(schema.properties.defaults!.additionalProperties).toBe(false);
    // The README's full example is accepted by the validator, key for key.
    const readme = readFileSync(path.join(REPO_DIR, 'README.md'), 'utf8');
    const example = /## Configuration[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)![1]!;
    expect(() => resolveConfig(JSON.parse(example), 'README')).not.toThrow();
    expect(Object.keys(JSON.parse(example)).every((key) => key in schema.properties)).toBe(true);
  });

  it('lists every command with a purpose in --help', async () => {
    const result = await runPartkit(['--help']);
    expect(result.exitCode).toBe(0);
    for (const command of ['doctor', 'provision', 'maintain']) expect(result.stdout).toMatch(new RegExp(`partkit ${command}\\s+\\S`));
  });
});
