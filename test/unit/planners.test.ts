/**
 * The planners, in process: fed an inspected state, they plan the steps (or months) a command
 * would run, with no server. The real servers check the same plans in the provision, migrate and
 * partition-create test files; here the inputs can be the awkward ones: a month end in a zone
 * already in the next month, a New Year, mixed-case names with spaces and quotes.
 */
import { describe, expect, it } from 'vitest';
import type { Capabilities, TableState } from '../../src/core/capabilities.js';
import { resolveConfig, type Config } from '../../src/core/config.js';
import { addMonths, coveredMonth, currentMonth, monthKey, type Partition } from '../../src/core/partitions.js';
import type { SqlStep } from '../../src/core/plan.js';
import { requestedMonths } from '../../src/partitions/create.js';
import { readState, stateComment } from '../../src/migrate/capture.js';
import { boundLiteral, childName } from '../../src/migrate/prep.js';
import { partmanChildName } from '../../src/strategies/partman.js';
import { plpgsqlStrategy } from '../../src/strategies/plpgsql.js';
import { desiredManagedRow, initialMonths, missingMonths } from '../../src/strategies/registration.js';
import type { ProvisionContext, TableInput } from '../../src/strategies/types.js';

const ODD = '"My Schema"."Odd ""Name"" Tbl"';

function config(table: Record<string, unknown>): Config {
  return resolveConfig({ tables: [table] }, 'unit test');
}

/** The capabilities the planners read (server clock, kit schema); the rest is not consulted. */
function context(cfg: Config, now: Date): ProvisionContext {
  const caps = { server: { version: '17.0', versionNum: 170000, timezone: 'UTC', now } } as unknown as Capabilities;
  return { caps, decision: { strategy: 'plpgsql', scheduler: 'external', reasons: [], advice: [] }, config: cfg, partmanMajor: null, partmanSchema: 'partman', now };
}

/** An attached month child as listPartitions reports it (bounds in the table's zone). */
function child(name: string, key: string): Partition {
  const [year, month] = key.split('-').map(Number) as [number, number];
  const next = monthKey(addMonths({ year, month }, 1));
  return { schema: 'My Schema', name, isDefault: false, lower: `${key}-01 00:00:00`, upper: `${next}-01 00:00:00`, bound: '', estimatedRows: 0, bytes: 0 };
}

function input(cfg: Config, overrides: Partial<TableInput> = {}): TableInput {
  return {
    table: cfg.tables[0]!,
    state: { defaultPartition: null } as unknown as TableState,
    creating: true,
    controlType: 'timestamptz',
    partitions: [],
    managed: null,
    partConfig: null,
    ...overrides,
  };
}

describe('months from the server clock', () => {
  // 2026-12-31 23:30 UTC: still December in UTC, already January 2027 in Auckland, mid-afternoon in New York.
  const now = new Date(Date.UTC(2026, 11, 31, 23, 30));

  it('takes the current month in the table zone, across a New Year', () => {
    expect(currentMonth('UTC', now)).toEqual({ year: 2026, month: 12 });
    expect(currentMonth('Pacific/Auckland', now)).toEqual({ year: 2027, month: 1 });
    expect(currentMonth('America/New_York', now)).toEqual({ year: 2026, month: 12 });
  });

  it('plans the current month through premake, and only the months no child covers', () => {
    const cfg = config({ name: ODD, premake: 3, timeZone: 'Pacific/Auckland' });
    const months = initialMonths(cfg.tables[0]!, now);
    expect(months.map(monthKey)).toEqual(['2027-01', '2027-02', '2027-03', '2027-04']);
    const existing = input(cfg, { partitions: [child('a', '2027-02'), child('b', '2027-04')] });
    expect(missingMonths(existing, months).map(monthKey)).toEqual(['2027-01', '2027-03']);
  });

  it('counts a child as covering a month only when its bounds are exactly that month', () => {
    expect(coveredMonth(child('x', '2024-02'))).toBe('2024-02');
    expect(coveredMonth({ ...child('x', '2024-02'), upper: '2024-04-01 00:00:00' })).toBeUndefined();
    expect(coveredMonth({ ...child('x', '2024-02'), lower: '2024-02-01 01:00:00' })).toBeUndefined();
    expect(coveredMonth({ ...child('d', '2024-02'), lower: null, upper: null, isDefault: true })).toBeUndefined();
  });
});

describe('plpgsql planTable', () => {
  const now = new Date(Date.UTC(2026, 11, 31, 23, 30));

  it('plans the record, the default partition and each month, with the name quoted once and passed as a parameter', () => {
    const cfg = config({ name: ODD, premake: 2 });
    const steps = plpgsqlStrategy.planTable(context(cfg, now), input(cfg)) as SqlStep[];
    expect(steps.map((step) => step.description)).toEqual([
      'record plpgsql settings of "My Schema"."Odd ""Name"" Tbl" in partkit.managed_table',
      'create the default partition of "My Schema"."Odd ""Name"" Tbl"',
      'create partition "My Schema"."Odd ""Name"" Tbl" 2026-12',
      'create partition "My Schema"."Odd ""Name"" Tbl" 2027-01',
      'create partition "My Schema"."Odd ""Name"" Tbl" 2027-02',
    ]);
    for (const step of steps.slice(1)) {
      expect(step.sql).not.toContain('Odd');
      expect(step.params?.[0]).toBe('"My Schema"."Odd ""Name"" Tbl"');
    }
    expect(steps[0]!.params?.slice(0, 2)).toEqual(['My Schema', 'Odd "Name" Tbl']);
    expect(steps.slice(2).map((step) => step.params?.slice(1))).toEqual([
      [2026, 12],
      [2027, 1],
      [2027, 2],
    ]);
  });

  it('plans nothing on a second run: the record as configured, a default partition, every month there', () => {
    const cfg = config({ name: ODD, premake: 2 });
    const ctx = context(cfg, now);
    const done = input(cfg, {
      creating: false,
      state: { defaultPartition: 'Odd "Name" Tbl_default' } as unknown as TableState,
      partitions: ['2026-12', '2027-01', '2027-02'].map((key) => child(`c${key}`, key)),
      managed: desiredManagedRow(ctx, input(cfg), 'plpgsql'),
    });
    expect(plpgsqlStrategy.planTable(ctx, done)).toEqual([]);
  });

  it('plans only what changed: a new premake adds its month and updates the record', () => {
    const before = config({ name: ODD, premake: 2 });
    const after = config({ name: ODD, premake: 3 });
    const ctx = context(after, now);
    const existing = input(after, {
      creating: false,
      state: { defaultPartition: 'd' } as unknown as TableState,
      partitions: ['2026-12', '2027-01', '2027-02'].map((key) => child(`c${key}`, key)),
      managed: desiredManagedRow(context(before, now), input(before), 'plpgsql'),
    });
    expect(plpgsqlStrategy.planTable(ctx, existing).map((step) => step.description)).toEqual([
      'update "My Schema"."Odd ""Name"" Tbl" in partkit.managed_table: premake 2 -> 3',
      'create partition "My Schema"."Odd ""Name"" Tbl" 2027-03',
    ]);
  });
});

describe('partition create: the months asked for', () => {
  it('expands --from/--to inclusively across a New Year', () => {
    expect((requestedMonths({ from: '2026-11', to: '2027-02' }) as { year: number; month: number }[]).map(monthKey)).toEqual(['2026-11', '2026-12', '2027-01', '2027-02']);
  });

  it('keeps current and next relative to the server clock', () => {
    expect(requestedMonths({ month: 'current' })).toEqual({ offset: 0 });
    expect(requestedMonths({ month: ' next ' })).toEqual({ offset: 1 });
  });

  it.each([
    [{ month: '2026-13' }, /is not a month/],
    [{ month: '2026-1' }, /is not a month/],
    [{ month: '2026-01', from: '2026-01' }, /either --month or --from\/--to/],
    [{ from: '2026-01' }, /Say which months/],
    [{ from: '2027-01', to: '2026-12' }, /is after/],
    [{ from: '2000-01', to: '2010-01' }, /spans 121 months/],
  ])('refuses %j', (options, message) => {
    expect(() => requestedMonths(options)).toThrow(message);
  });
});

describe('child names and bounds', () => {
  it('names each strategy child as its maintenance expects, for a mixed-case name', () => {
    expect(partmanChildName('Odd "Name" Tbl', '2027-01', 4)).toBe('Odd "Name" Tbl_p2027_01');
    expect(partmanChildName('Odd "Name" Tbl', '2027-01', 5)).toBe('Odd "Name" Tbl_p20270101');
    expect(childName('Odd "Name" Tbl', { year: 2027, month: 1 }, 'plpgsql', 0)).toBe('Odd "Name" Tbl_y2027m01');
    expect(childName('t', { year: 2027, month: 1 }, 'partman', 5)).toBe('t_p20270101');
  });

  it('writes a month start as a date or a wall-clock timestamp', () => {
    expect(boundLiteral({ year: 2024, month: 2 }, 'date')).toBe('2024-02-01');
    expect(boundLiteral({ year: 2024, month: 2 }, 'timestamptz')).toBe('2024-02-01 00:00:00');
  });
});

describe('migrate fill progress', () => {
  it('round-trips through the comment it is stored in, keys with quotes included', () => {
    const state = { after: ['O\'Brien "x"', '2026-12-31 23:59:59+00'], block: null, end: null, done: false, rowsCopied: 1500, rowsPerSecond: 12.5 };
    expect(readState(stateComment(state))).toEqual(state);
  });

  it('reads a missing or unreadable comment as a fill that has not started', () => {
    const fresh = { after: null, done: false, rowsCopied: 0 };
    expect(readState(null)).toEqual(fresh);
    expect(readState('someone else\'s comment')).toEqual(fresh);
    expect(readState('partkit migrate capture: {not json')).toEqual(fresh);
  });
});
