import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/core/config.js';
import { runPartkit } from './helpers/targets.js';

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
  ];

  for (const [label, content, field] of invalid) {
    it(`rejects ${label} with exit 2 and names the field`, async () => {
      const result = await runPartkit(['doctor', '--config', configFile(label.replaceAll(' ', '-'), content)]);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toMatch(field);
      expect(result.stdout).toBe('');
    });
  }

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

  it('lists every command with a purpose in --help', async () => {
    const result = await runPartkit(['--help']);
    expect(result.exitCode).toBe(0);
    for (const command of ['doctor', 'provision', 'maintain']) expect(result.stdout).toMatch(new RegExp(`partkit ${command}\\s+\\S`));
  });
});
