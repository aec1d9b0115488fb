/**
 * status's report from a state built by hand (what readStatusState reads in one snapshot): no
 * server. status.test.ts reads the same from real servers.
 */
import { describe, expect, it } from 'vitest';
import type { Capabilities, TableState } from '../../src/core/capabilities.js';
import type { RegisteredTable } from '../../src/core/checks/state.js';
import { resolveConfig } from '../../src/core/config.js';
import type { Partition } from '../../src/core/partitions.js';
import { statusOf, type StatusState } from '../../src/commands/status.js';

const config = resolveConfig({ tables: [{ name: 'public.messages', retention: '6 months' }] }, 'test.json');

const EXISTS = { name: 'public.messages', exists: true, partitioned: true, controlColumn: { type: 'timestamp with time zone' } } as unknown as TableState;

const MONTH: Partition = { schema: 'public', name: 'messages_y2027m01', isDefault: false, lower: '2027-01-01 00:00:00', upper: '2027-02-01 00:00:00', bound: "FOR VALUES FROM ('2027-01-01 00:00:00+00') TO ('2027-02-01 00:00:00+00')", estimatedRows: 42, bytes: 16384 };
const ODD: Partition = { ...MONTH, name: 'messages_q1', upper: '2027-04-01 00:00:00' };
const DEFAULT: Partition = { ...MONTH, name: 'messages_default', isDefault: true, lower: null, upper: null, bound: 'DEFAULT' };

const REGISTERED: RegisteredTable = {
  name: { schema: 'public', name: 'messages' },
  controlColumn: 'created_at',
  controlType: 'timestamptz',
  premake: 4,
  retention: '1 year',
  archiveSchema: 'old_rows',
  purgeAfter: null,
  timeZone: 'Europe/Berlin',
  strategy: 'plpgsql',
  partmanSchema: null,
  idRanges: false,
  registeredAt: '2026-11-01T00:00:00.000Z',
};

function state(overrides: Partial<StatusState> = {}): StatusState {
  return {
    settings: { config, from: 'file', recorded: null, registered: [REGISTERED] },
    caps: { database: 'app', tables: [EXISTS], extensions: { pg_cron: { databaseName: 'postgres' } } } as unknown as Capabilities,
    scheduler: 'external',
    tables: [{ managed: REGISTERED, partConfig: null, partitions: [DEFAULT, MONTH, ODD], defaultRows: 1_000_000, archived: [] }],
    job: null,
    lastCronRun: null,
    lastRun: null,
    ...overrides,
  };
}

describe('status from the state read', () => {
  it('reports the settings the kit recorded, not the config file, and the months in the recorded zone', () => {
    const [table] = statusOf(state()).tables;
    expect(table).toMatchObject({ table: 'public.messages', strategy: 'plpgsql', premake: 4, retention: '1 year', archiveSchema: 'old_rows', timeZone: 'Europe/Berlin' });
    expect(table!.children.map((child) => [child.name, child.month])).toEqual([
      ['messages_y2027m01', '2027-01'],
      ['messages_q1', null],
    ]);
    expect(table!.default).toEqual({ schema: 'public', name: 'messages_default', rows: 1_000_000, rowsCapped: true, bytes: 16384 });
  });

  it('names no strategy for a table nobody registered, and gives the config settings', () => {
    const [table] = statusOf(state({ settings: { config, from: 'file', recorded: null, registered: [] }, tables: [{ managed: null, partConfig: null, partitions: [], defaultRows: 0, archived: [] }] })).tables;
    expect(table).toMatchObject({ strategy: null, premake: config.tables[0]!.premake, retention: '6 months', timeZone: 'UTC', default: null, children: [] });
  });

  it('gives the command for an external scheduler, and the pg_cron job with its database', () => {
    expect(statusOf(state()).maintenance).toMatchObject({ scheduler: 'external', job: null, externalCommand: expect.stringContaining('npx --no-install partkit maintain') });
    const job = { jobid: 3, name: 'partkit_maintenance_app', schedule: '0 * * * *', command: 'CALL partkit.run_maintenance_proc()', database: 'app', username: 'app', active: true };
    expect(statusOf(state({ scheduler: 'pg_cron', job })).maintenance).toMatchObject({ scheduler: 'pg_cron', job: { ...job, cronDatabase: 'postgres' }, externalCommand: null });
  });
});
