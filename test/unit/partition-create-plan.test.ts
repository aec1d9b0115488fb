/**
 * partition create's planner, in process: a PartitionCreateState built by hand (what
 * readPartitionCreateState would read), the months asked for and a clock. `--month current|next`
 * are counted from the clock in the table's zone: at a month end, a New Year and a leap day the
 * zone decides the month. No server; partition-create.test.ts runs the same against real ones.
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/core/config.js';
import { ConflictError, MissingCapabilityError } from '../../src/core/errors.js';
import { addMonths, monthKey, type Month, type Partition } from '../../src/core/partitions.js';
import type { SqlStep } from '../../src/core/plan.js';
import { planPartitionMonths, requestedMonths, type PartitionCreateState } from '../../src/partitions/create.js';

const config = resolveConfig({ tables: [{ name: 'public.messages', timeZone: 'Pacific/Auckland' }] }, 'test.json');
const NAME = { schema: 'public', name: 'messages' };

function child(key: string, suffix = `_y${key.slice(0, 4)}m${key.slice(5)}`): Partition {
  const [year, month] = key.split('-').map(Number) as [number, number];
  return { schema: 'public', name: `messages${suffix}`, isDefault: false, lower: `${key}-01 00:00:00`, upper: `${monthKey(addMonths({ year, month }, 1))}-01 00:00:00`, bound: `FOR VALUES FROM ('${key}-01') TO (...)`, estimatedRows: 0, bytes: 0 };
}

const DEFAULT: Partition = { schema: 'public', name: 'messages_default', isDefault: true, lower: null, upper: null, bound: 'DEFAULT', estimatedRows: 10, bytes: 8192 };

/** A table the kit manages (plpgsql) in `timeZone`, with a default partition and these months. */
function kitTable(timeZone: string, months: readonly string[], overrides: Partial<PartitionCreateState> = {}): PartitionCreateState {
  return {
    database: 'app',
    name: NAME,
    table: { relkind: 'p', partstrat: 'r', keys: 1, controlType: 'timestamp with time zone' },
    similar: [],
    partmanSchema: null,
    registered: null,
    kitInstalled: true,
    managed: { timeZone, idRanges: false },
    timeZone,
    partitions: [DEFAULT, ...months.map((key) => child(key))],
    waiting: [],
    now: new Date(0),
    ...overrides,
  };
}

function partmanTable(waiting: readonly string[], overrides: Partial<PartitionCreateState> = {}): PartitionCreateState {
  return kitTable('UTC', ['2026-12'], { partmanSchema: 'partman', registered: { interval: '1 mon', monthly: true }, partitions: [DEFAULT, child('2026-12', '_p20261201')], waiting, ...overrides });
}

const created = (state: PartitionCreateState, requested: readonly Month[] | { offset: number }, now = state.now) => planPartitionMonths(state, config, requested, now).created;

describe('current and next, from the clock, in the table zone', () => {
  it.each<[string, Date, string, number, string]>([
    ['New Year: still December in UTC', new Date(Date.UTC(2026, 11, 31, 23, 30)), 'UTC', 0, '2026-12'],
    ['New Year: already January in Auckland', new Date(Date.UTC(2026, 11, 31, 23, 30)), 'Pacific/Auckland', 0, '2027-01'],
    ['New Year: next in Auckland is February', new Date(Date.UTC(2026, 11, 31, 23, 30)), 'Pacific/Auckland', 1, '2027-02'],
    ['a month end: still January in New York at 02:00 UTC on February 1', new Date(Date.UTC(2027, 1, 1, 2)), 'America/New_York', 0, '2027-01'],
    ['a leap day: February 29 is February', new Date(Date.UTC(2028, 1, 29, 12)), 'UTC', 0, '2028-02'],
    ['a leap day: its next month is March', new Date(Date.UTC(2028, 1, 29, 23, 59)), 'UTC', 1, '2028-03'],
    ['the last minute of a leap day is March 1 in Berlin', new Date(Date.UTC(2028, 1, 29, 23, 30)), 'Europe/Berlin', 0, '2028-03'],
  ])('%s', (_, now, zone, offset, month) => {
    expect(created(kitTable(zone, []), { offset }, now)).toEqual([month]);
  });

  it('uses the clock it is given, not the one in the state', () => {
    const state = kitTable('UTC', [], { now: new Date(Date.UTC(2030, 5, 15)) });
    expect(created(state, { offset: 0 }, new Date(Date.UTC(2027, 2, 3)))).toEqual(['2027-03']);
  });
});

describe('the months planned', () => {
  it('skips the months a child covers and creates the others, all in one transaction (plpgsql)', () => {
    const state = kitTable('UTC', ['2027-01']);
    const planned = planPartitionMonths(state, config, requestedMonths({ from: '2026-12', to: '2027-02' }) as Month[], state.now);
    expect(planned.created).toEqual(['2026-12', '2027-02']);
    expect(planned.skipped).toEqual(['2027-01']);
    const steps = planned.plan.steps as SqlStep[];
    expect(steps.map((step) => step.description)).toEqual(['create partition public.messages 2026-12', 'create partition public.messages 2027-02']);
    expect(steps.map((step) => step.params)).toEqual([['"public"."messages"', 2026, 12], ['"public"."messages"', 2027, 2]]);
    expect(new Set(steps.map((step) => step.group))).toEqual(new Set(['partition create public.messages']));
  });

  it('plans nothing when every month asked for is there (a second run)', () => {
    expect(planPartitionMonths(kitTable('UTC', ['2027-01']), config, [{ year: 2027, month: 1 }], new Date(0)).plan.steps).toEqual([]);
  });

  it("makes pg_partman's months with create_partition_time in the set's zone, with id ranges when the table has them", () => {
    const state = partmanTable([], { timeZone: 'Pacific/Auckland', managed: { timeZone: 'Pacific/Auckland', idRanges: true } });
    const steps = planPartitionMonths(state, config, [{ year: 2027, month: 1 }, { year: 2027, month: 2 }], state.now).plan.steps as SqlStep[];
    expect(steps.map((step) => step.description)).toEqual(['create 2 month(s) of public.messages with pg_partman (2027-01, 2027-02; Pacific/Auckland)', 'give the partitions of public.messages their id ranges (time-ordered ids)']);
    expect(steps[0]!.params).toEqual(['public.messages', ['2027-01-01 00:00:00', '2027-02-01 00:00:00']]);
    expect(steps[0]!.timeZone).toBe('Pacific/Auckland');
    expect(steps[0]!.group).toBe(steps[1]!.group);
  });
});

describe('refusals, before any step', () => {
  it("refuses pg_partman's months whose rows wait in the default partition", () => {
    expect(() => created(partmanTable(['2027-02']), [{ year: 2027, month: 1 }, { year: 2027, month: 2 }])).toThrow(ConflictError);
    expect(() => created(partmanTable(['2027-02']), [{ year: 2027, month: 1 }, { year: 2027, month: 2 }])).toThrow('The default partition public.messages_default holds rows of 2027-02; pg_partman cannot create those months next to them.');
    expect(created(partmanTable(['2027-02']), [{ year: 2027, month: 1 }])).toEqual(['2027-01']);
  });

  it('refuses a month another partition overlaps', () => {
    const quarter: Partition = { ...child('2027-01'), name: 'messages_q1', upper: '2027-04-01 00:00:00', bound: "FOR VALUES FROM ('2027-01-01') TO ('2027-04-01')" };
    const state = kitTable('UTC', [], { partitions: [DEFAULT, quarter] });
    expect(() => created(state, [{ year: 2027, month: 2 }])).toThrow("Cannot create these months of public.messages: 2027-02 overlaps public.messages_q1 (FOR VALUES FROM ('2027-01-01') TO ('2027-04-01')).");
  });

  it.each<[string, Partial<PartitionCreateState>, RegExp]>([
    ['a table that is not there, naming the closest', { table: null, similar: [{ schema: 'public', name: 'messages_old' }] }, /^Table public\.messages does not exist in database app/],
    ['a plain table', { table: { relkind: 'r', partstrat: null, keys: null, controlType: null } }, /is not a partitioned table/],
    ['a table partitioned by list', { table: { relkind: 'p', partstrat: 'l', keys: 1, controlType: 'text' } }, /is not partitioned by RANGE on one timestamptz, timestamp or date column/],
    ['a pg_partman set of another interval', { registered: { interval: '7 days', monthly: false }, partmanSchema: 'partman' }, /partition interval "7 days", not exactly 1 month/],
    ['a server without the kit', { kitInstalled: false, managed: null }, /create_monthly_partition\(text,integer,integer\) and managed_table are not installed in schema partkit of database app/],
  ])('refuses %s', (_, overrides, message) => {
    expect(() => created(kitTable('UTC', [], overrides), [{ year: 2027, month: 1 }])).toThrow(MissingCapabilityError);
    expect(() => created(kitTable('UTC', [], overrides), [{ year: 2027, month: 1 }])).toThrow(message);
  });

  it('names the command with the closest table and the same months', () => {
    try {
      created(kitTable('UTC', [], { table: null, similar: [{ schema: 'public', name: 'messages_old' }] }), { offset: 1 });
      expect.unreachable();
    } catch (error) {
      expect((error as MissingCapabilityError).hint).toBe('Did you mean public.messages_old? partkit partition create public.messages_old --month next');
    }
  });
});
