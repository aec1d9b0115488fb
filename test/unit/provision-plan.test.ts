/**
 * provision's planner, in process: each case is a ProvisionState built by hand (what
 * readProvisionState would read from a server in that situation), the flags and a clock; the
 * planner returns the plan, or refuses before anything changes. No server: these run in
 * milliseconds. The same situations run against real servers in provision-plpgsql,
 * provision-partman, provision-changes, settings and citus test files.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Capabilities, ExtensionState, TableState } from '../../src/core/capabilities.js';
import { resolveConfig, type Config } from '../../src/core/config.js';
import { ConfigError, MissingCapabilityError, ConflictError } from '../../src/core/errors.js';
import type { KitMigration } from '../../src/core/kit-install.js';
import { addMonths, monthKey, type Partition } from '../../src/core/partitions.js';
import type { SqlStep, Step } from '../../src/core/plan.js';
import type { ManagedTable, PartmanConfig, RegisteredTable } from '../../src/core/checks/state.js';
import type { TimeIndexState } from '../../src/core/time-index.js';
import { planProvision, type ProvisionRequest } from '../../src/provision/plan.js';
import { decide } from '../../src/strategies/index.js';
import type { ProvisionState, ProvisionTableState } from '../../src/provision/state.js';

/** 2026-12-31 23:30 UTC: still December in UTC, already January 2027 in Auckland. */
const NEW_YEARS_EVE = new Date(Date.UTC(2026, 11, 31, 23, 30));
const KIT: KitMigration = { id: 1, name: 'kit', fileName: '1_kit.sql', hash: 'h', sql: 'SELECT 1' };

function configOf(tables: readonly Record<string, unknown>[], extra: Record<string, unknown> = {}): Config {
  return resolveConfig({ ...extra, tables }, 'test.json');
}

const ABSENT: ExtensionState = { available: false, defaultVersion: null, installed: false, version: null, schema: null, needsSuperuser: true };

type Partman = 'available 5' | 'installed 5' | 'installed 4' | 'none';

function partmanOf(kind: Partman): Capabilities['extensions']['pg_partman'] {
  const rights = { usage: true, create: true, partConfig: true };
  switch (kind) {
    case 'available 5':
      return { ...ABSENT, available: true, defaultVersion: '5.2.4', rights: null };
    case 'installed 5':
      return { available: true, defaultVersion: '5.2.4', installed: true, version: '5.2.4', schema: 'partman', needsSuperuser: true, rights };
    case 'installed 4':
      return { available: true, defaultVersion: '4.7.4', installed: true, version: '4.7.4', schema: 'partman', needsSuperuser: true, rights };
    case 'none':
      return { ...ABSENT, rights: null };
  }
}

/** A table as inspect reports it: absent, or partitioned by range on created_at with a primary key (id, created_at). */
function tableState(config: Config, index: number, exists: boolean, registered: { partman?: boolean; plpgsql?: boolean } = {}): TableState {
  const table = config.tables[index]!;
  return {
    name: `${table.name.schema}.${table.name.name}`,
    qualified: table.name,
    exists,
    relkind: exists ? 'p' : null,
    partitioned: exists,
    partitionStrategy: exists ? 'range' : null,
    partitionKey: exists ? [table.controlColumn] : [],
    controlColumn: { name: table.controlColumn, exists, type: exists ? 'timestamp with time zone' : null, notNull: exists },
    primaryKey: exists ? ['id', table.controlColumn] : null,
    primaryKeyIncludesControl: exists,
    estimatedRows: 0,
    children: 0,
    defaultPartition: exists ? `${table.name.name}_default` : null,
    registeredWith: { partman: registered.partman ?? false, plpgsql: registered.plpgsql ?? false },
  };
}

function caps(config: Config, partman: Partman, tables: readonly TableState[], overrides: Partial<Capabilities> = {}): Capabilities {
  return {
    server: { version: '17.2', versionNum: 170002, timezone: 'UTC', now: NEW_YEARS_EVE },
    database: 'app',
    user: { name: 'app_owner', superuser: false, adminRoles: ['rds_superuser'], canCreateInDatabase: true },
    host: 'unknown',
    extensions: {
      pg_partman: partmanOf(partman),
      pg_cron: { ...ABSENT, preloaded: false, databaseName: null, canScheduleInDatabase: null, settingsHidden: false, rights: { schema: null, usage: null, scheduleInDatabase: null, alterJob: null } },
    },
    kit: { schema: config.kitSchema, installed: false },
    tables,
    citus: { installed: false, version: null, coordinator: false, activeWorkers: 0, tables: [] },
    ...overrides,
  };
}

/** A month child covering `key` with bounds at midnight in the table's zone, as listPartitions reports it. */
function month(schema: string, parent: string, key: string, suffix: (key: string) => string): Partition {
  const [year, m] = key.split('-').map(Number) as [number, number];
  const next = monthKey(addMonths({ year, month: m }, 1));
  return { schema, name: `${parent}${suffix(key)}`, isDefault: false, lower: `${key}-01 00:00:00`, upper: `${next}-01 00:00:00`, bound: '', estimatedRows: 0, bytes: 0 };
}

const plpgsqlSuffix = (key: string) => `_y${key.slice(0, 4)}m${key.slice(5)}`;
const partman5Suffix = (key: string) => `_p${key.replace('-', '')}01`;

function defaultPartition(schema: string, parent: string): Partition {
  return { schema, name: `${parent}_default`, isDefault: true, lower: null, upper: null, bound: 'DEFAULT', estimatedRows: 0, bytes: 0 };
}

/** The time index of a provisioned table: on the parent, and on every child. */
function indexed(partitions: readonly Partition[]): TimeIndexState {
  return {
    parentIndex: 'created_at_idx',
    parentIndexValid: true,
    parentIndexMethod: 'btree (created_at)',
    children: partitions.map((partition) => ({ schema: partition.schema, name: partition.name, isDefault: partition.isDefault, indexed: true, attached: true })),
  };
}

const NOT_READ: ProvisionTableState = { partitions: [], managed: null, partConfig: null, timeIndex: null, toArchive: [] };

function managedRow(config: Config, index: number, strategy: 'plpgsql' | 'partman', overrides: Partial<ManagedTable> = {}): RegisteredTable {
  const table = config.tables[index]!;
  return {
    name: table.name,
    controlColumn: table.controlColumn,
    controlType: 'timestamptz',
    premake: table.premake,
    retention: table.retention,
    archiveSchema: table.archiveSchema,
    purgeAfter: table.purgeAfter,
    timeZone: table.timeZone,
    strategy,
    partmanSchema: strategy === 'partman' ? 'partman' : null,
    idRanges: false,
    registeredAt: '2026-11-01T00:00:00.000Z',
    ...overrides,
  };
}

function partConfigOf(config: Config, index: number): PartmanConfig {
  const table = config.tables[index]!;
  return { control: table.controlColumn, interval: '1 mon', premake: table.premake, retention: table.retention, retentionSchema: table.archiveSchema, retentionKeepTable: true, infiniteTimePartitions: true };
}

function state(config: Config, capabilities: Capabilities, overrides: Partial<ProvisionState> = {}): ProvisionState {
  return {
    database: 'app',
    settings: { config, from: 'file', recorded: null, registered: [] },
    caps: capabilities,
    kitMigrations: [KIT],
    pendingMigrations: ['1_kit.sql'],
    grants: { pendingMigrations: ['1_kit.sql'], existingSchemas: [], tableSchemas: [{ name: 'public', canCreate: true }], ownersNotMemberOf: [] },
    distribution: { tables: new Map(), distributed: [] },
    tables: config.tables.map(() => NOT_READ),
    cronJobs: new Map(),
    ...overrides,
  };
}

/** A state in which every configured table was provisioned with `strategy` on this clock: the kit, the records and the months are there. */
function provisioned(config: Config, strategy: 'plpgsql' | 'partman', partman: Partman, months: readonly string[]): ProvisionState {
  const tables = config.tables.map((_, index) => tableState(config, index, true, { [strategy]: true }));
  const suffix = strategy === 'plpgsql' ? plpgsqlSuffix : partman5Suffix;
  const read = config.tables.map((table, index): ProvisionTableState => {
    const partitions = [defaultPartition(table.name.schema, table.name.name), ...months.map((key) => month(table.name.schema, table.name.name, key, suffix))];
    return { partitions, managed: managedRow(config, index, strategy), partConfig: strategy === 'partman' ? partConfigOf(config, index) : null, timeIndex: indexed(partitions), toArchive: [] };
  });
  return state(config, caps(config, partman, tables, { kit: { schema: config.kitSchema, installed: true } }), {
    settings: { config, from: 'file', recorded: { scheduler: 'external', schedule: config.maintenance.schedule, jobName: null, recordedAt: '2026-11-01T00:00:00.000Z' }, registered: read.map((table) => table.managed as RegisteredTable) },
    pendingMigrations: [],
    grants: { pendingMigrations: [], existingSchemas: ['partkit_archive'], tableSchemas: [{ name: 'public', canCreate: true }], ownersNotMemberOf: [] },
    tables: read,
  });
}

function descriptions(steps: readonly Step[]): string[] {
  return steps.map((step) => step.description);
}

function plan(input: ProvisionState, request: ProvisionRequest = {}, now = NEW_YEARS_EVE): Step[] {
  return [...planProvision(input, request, now).plan.steps];
}

const MESSAGES = [{ name: 'public.messages', premake: 2 }];
/** The months a premake of 2 keeps on NEW_YEARS_EVE in UTC. */
const UTC_MONTHS = ['2026-12', '2027-01', '2027-02'];

describe('a fresh server', () => {
  const config = configOf(MESSAGES);
  const fresh = (partman: Partman) => state(config, caps(config, partman, [tableState(config, 0, false)]));

  it.each<[Partman, string[]]>([
    [
      'available 5',
      [
        "install partkit's objects in schema partkit (1_kit.sql)",
        'create schema partman',
        'install pg_partman 5.2.4 in schema partman',
        'create archive schema partkit_archive (months past retention are moved here)',
        'create table public.messages partitioned by range (created_at) with its indexes',
        'give public.messages time-ordered ids (a UUIDv7 default; an explicit NULL id made from created_at)',
        'register public.messages with pg_partman 5.x: monthly on created_at, premake 2, from 2026-12 (UTC)',
        'make sure public.messages has its default partition messages_default',
      ],
    ],
    [
      'installed 4',
      [
        "install partkit's objects in schema partkit (1_kit.sql)",
        'create archive schema partkit_archive (months past retention are moved here)',
        'create table public.messages partitioned by range (created_at) with its indexes',
        'give public.messages time-ordered ids (a UUIDv7 default; an explicit NULL id made from created_at)',
        'register public.messages with pg_partman 4.x: monthly on created_at, premake 2, from 2026-12 (UTC)',
        'make sure public.messages has its default partition messages_default',
      ],
    ],
    [
      'none',
      [
        "install partkit's objects in schema partkit (1_kit.sql)",
        'create archive schema partkit_archive (months past retention are moved here)',
        'create table public.messages partitioned by range (created_at) with its indexes',
        'give public.messages time-ordered ids (a UUIDv7 default; an explicit NULL id made from created_at)',
        'record plpgsql settings of public.messages in partkit.managed_table',
        'create the default partition of public.messages',
        'create partition public.messages 2026-12',
        'create partition public.messages 2027-01',
        'create partition public.messages 2027-02',
      ],
    ],
  ])('with pg_partman %s: installs, creates, registers and schedules', (partman, first) => {
    const steps = plan(fresh(partman));
    expect(descriptions(steps).slice(0, first.length)).toEqual(first);
    expect(descriptions(steps).at(-1)).toBe('record scheduler external, schedule "0 * * * *" in partkit.maintenance_schedule');
    const install = steps[0]!;
    expect(install.kind === 'migrations' && install.pending).toEqual(['1_kit.sql']);
  });

  it("passes pg_partman 5's and 4's create_parent arguments, the month start in the table's zone", () => {
    const register = (partman: Partman) => plan(fresh(partman)).find((step) => step.description.startsWith('register')) as SqlStep;
    expect(register('installed 5').sql).toContain("p_interval := '1 month', p_type := 'range'");
    expect(register('installed 4').sql).toContain("p_type := 'native', p_interval := '1 month'");
    expect(register('installed 5').params).toEqual(['public.messages', 'created_at', 2, '2026-12-01 00:00:00']);
    const auckland = configOf([{ name: 'public.messages', premake: 2, timeZone: 'Pacific/Auckland' }]);
    const there = plan(state(auckland, caps(auckland, 'installed 5', [tableState(auckland, 0, false)]))).find((step) => step.description.startsWith('register')) as SqlStep;
    expect(there.params?.[3]).toBe('2027-01-01 00:00:00');
    expect(there.timeZone).toBe('Pacific/Auckland');
  });

  it('takes its months from the clock it is given, not from the state', () => {
    const leapDay = new Date(Date.UTC(2028, 1, 29, 12));
    const months = (now: Date) => descriptions(plan(fresh('none'), {}, now)).filter((text) => text.startsWith('create partition'));
    expect(months(leapDay)).toEqual(['create partition public.messages 2028-02', 'create partition public.messages 2028-03', 'create partition public.messages 2028-04']);
    expect(months(NEW_YEARS_EVE)).toEqual(UTC_MONTHS.map((key) => `create partition public.messages ${key}`));
  });
});

describe('a provisioned server', () => {
  it.each<['plpgsql' | 'partman', Partman]>([
    ['plpgsql', 'none'],
    ['partman', 'installed 5'],
  ])('plans nothing on a second run (%s)', (strategy, partman) => {
    const config = configOf(MESSAGES);
    expect(plan(provisioned(config, strategy, partman, UTC_MONTHS))).toEqual([]);
  });

  it('plans the next month once the clock has moved on', () => {
    const config = configOf(MESSAGES);
    const february = new Date(Date.UTC(2027, 1, 1, 0, 0));
    expect(descriptions(plan(provisioned(config, 'plpgsql', 'none', UTC_MONTHS), {}, february))).toEqual(['create partition public.messages 2027-03', 'create partition public.messages 2027-04']);
  });

  it('plans a retention change as one update of the record (plpgsql) or of part_config and the record together (pg_partman)', () => {
    const before = configOf(MESSAGES);
    const after = configOf([{ ...MESSAGES[0], retention: '6 months' }]);
    const plpgsql = { ...provisioned(before, 'plpgsql', 'none', UTC_MONTHS), settings: { ...provisioned(before, 'plpgsql', 'none', UTC_MONTHS).settings, config: after } };
    expect(descriptions(plan(plpgsql))).toEqual(['update public.messages in partkit.managed_table: retention 12 months -> 6 months']);
    const partmanBefore = provisioned(before, 'partman', 'installed 5', UTC_MONTHS);
    const partman = plan({ ...partmanBefore, settings: { ...partmanBefore.settings, config: after } }) as SqlStep[];
    expect(partman.map((step) => step.group)).toEqual(['settings of public.messages', 'settings of public.messages']);
    expect(partman[0]!.description).toMatch(/part_config/);
    expect(partman[0]!.params).toContain('6 months');
    expect(partman[1]!.description).toBe('update public.messages in partkit.managed_table: retention 12 months -> 6 months');
  });

  it('plans only the table added to the config', () => {
    const before = configOf(MESSAGES);
    const done = provisioned(before, 'plpgsql', 'none', UTC_MONTHS);
    const after = configOf([...MESSAGES, { name: 'public.usage_records', premake: 2 }]);
    const added = state(after, caps(after, 'none', [done.caps.tables[0]!, tableState(after, 1, false)], { kit: done.caps.kit }), {
      ...done,
      settings: { ...done.settings, config: after },
      caps: caps(after, 'none', [done.caps.tables[0]!, tableState(after, 1, false)], { kit: done.caps.kit }),
      tables: [done.tables[0]!, NOT_READ],
    });
    const steps = plan(added) as SqlStep[];
    expect(steps.every((step) => step.table === 'public.usage_records')).toBe(true);
    expect(descriptions(steps)).toEqual([
      'create table public.usage_records partitioned by range (created_at) with its indexes',
      'give public.usage_records time-ordered ids (a UUIDv7 default; an explicit NULL id made from created_at)',
      'record plpgsql settings of public.usage_records in partkit.managed_table',
      'create the default partition of public.usage_records',
      ...UTC_MONTHS.map((key) => `create partition public.usage_records ${key}`),
      'give the partitions of public.usage_records their id ranges (time-ordered ids)',
    ]);
  });

  it('refuses a time zone change for a table whose months have midnights in the old zone as bounds', () => {
    const before = configOf(MESSAGES);
    const done = provisioned(before, 'plpgsql', 'none', UTC_MONTHS);
    const berlin = configOf([{ ...MESSAGES[0], timeZone: 'Europe/Berlin' }]);
    // listPartitions reports the bounds in the configured zone: UTC midnights are 01:00 in Berlin.
    const shifted = done.tables[0]!.partitions.map((partition) => (partition.isDefault ? partition : { ...partition, lower: partition.lower!.replace('00:00:00', '01:00:00'), upper: partition.upper!.replace('00:00:00', '01:00:00') }));
    const changed: ProvisionState = { ...done, settings: { ...done.settings, config: berlin }, tables: [{ ...done.tables[0]!, partitions: shifted }] };
    expect(() => plan(changed)).toThrow(ConfigError);
    expect(() => plan(changed)).toThrow(/was provisioned in UTC, and its 3 month\(s\) \(messages_y2026m12, messages_y2027m01, messages_y2027m02\) have midnights in UTC as bounds/);
  });

  it('refuses a registered table the config no longer lists, unless --table narrowed it', () => {
    const both = configOf([...MESSAGES, { name: 'public.usage_records', premake: 2 }]);
    const done = provisioned(both, 'plpgsql', 'none', UTC_MONTHS);
    const one = configOf(MESSAGES);
    const narrowed: ProvisionState = { ...done, settings: { ...done.settings, config: one }, caps: { ...done.caps, tables: [done.caps.tables[0]!] }, tables: [done.tables[0]!] };
    expect(() => plan(narrowed)).toThrow(ConflictError);
    expect(() => plan(narrowed)).toThrow(/registry has public\.usage_records/);
    expect(plan(narrowed, { only: true })).toEqual([]);
  });

  it('unschedules the recorded pg_cron job when maintenance moves to an external scheduler', () => {
    const config = configOf(MESSAGES);
    const done = provisioned(config, 'plpgsql', 'none', UTC_MONTHS);
    const job = { jobid: 7, name: 'partkit_maintenance_app', schedule: '0 * * * *', command: 'CALL partkit.run_maintenance_proc()', database: 'app', username: 'app_owner', active: true };
    const moving: ProvisionState = {
      ...done,
      settings: { ...done.settings, recorded: { scheduler: 'pg_cron', schedule: '0 * * * *', jobName: job.name, recordedAt: '2026-11-01T00:00:00.000Z' } },
      cronJobs: new Map([[job.name, job]]),
    };
    const steps = plan(moving, { scheduler: 'external' }) as SqlStep[];
    expect(descriptions(steps)).toEqual(['unschedule pg_cron job partkit_maintenance_app (maintenance moves to an external scheduler)', 'record scheduler pg_cron -> external, job name partkit_maintenance_app -> none in partkit.maintenance_schedule']);
    expect(steps[0]!.params).toEqual([7]);
    // A job this user may not look for is not taken as absent.
    expect(() => plan({ ...moving, cronJobs: new Map([[job.name, null]]) }, { scheduler: 'external' })).toThrow(/may not read cron\.job/);
  });
});

describe('decide: the strategies say whether this server can run them', () => {
  const config = configOf([{ name: 'public.messages' }]);
  const cases: { name: string; partman: Partman; requested: 'auto' | 'partman' | 'plpgsql'; canCreate?: boolean; strategy: string; reason: RegExp; advice: RegExp | null }[] = [
    { name: 'auto, pg_partman installed', partman: 'installed 5', requested: 'auto', strategy: 'partman', reason: /^pg_partman 5\.2\.4 is installed in schema partman$/, advice: null },
    { name: 'auto, pg_partman 4 installed', partman: 'installed 4', requested: 'auto', strategy: 'partman', reason: /^pg_partman 4\.7\.4 is installed/, advice: null },
    { name: 'auto, pg_partman available', partman: 'available 5', requested: 'auto', strategy: 'partman', reason: /^pg_partman 5\.2\.4 is available and will be installed in schema partman$/, advice: null },
    { name: 'auto, pg_partman available to a user who cannot create it', partman: 'available 5', requested: 'auto', canCreate: false, strategy: 'partman', reason: /is available and will be installed/, advice: /^The user app_owner cannot create pg_partman; an administrator must run: .*CREATE EXTENSION IF NOT EXISTS pg_partman/ },
    { name: 'auto, no pg_partman', partman: 'none', requested: 'auto', strategy: 'plpgsql', reason: /^pg_partman is not available on this server: partkit's own plpgsql functions manage the partitions$/, advice: /^To use pg_partman instead: / },
    { name: 'pg_partman asked for where there is none', partman: 'none', requested: 'partman', strategy: 'partman', reason: /^but pg_partman is not available on this server$/, advice: /CREATE EXTENSION IF NOT EXISTS pg_partman/ },
    { name: 'plpgsql asked for where pg_partman is installed', partman: 'installed 5', requested: 'plpgsql', strategy: 'plpgsql', reason: /^strategy plpgsql was requested$/, advice: null },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const user = c.canCreate === false ? { name: 'app_owner', superuser: false, adminRoles: [], canCreateInDatabase: true } : undefined;
      const decision = decide(caps(config, c.partman, [], user ? { user } : {}), config, c.requested);
      expect(decision.strategy).toBe(c.strategy);
      expect(decision.reasons.some((reason) => c.reason.test(reason)), decision.reasons.join('\n')).toBe(true);
      // The strategy's advice comes first, the scheduler's (pg_cron absent here) after it.
      const strategyAdvice = decision.advice.filter((line) => !/pg_cron|schedule inside the database/.test(line));
      if (c.advice === null) expect(strategyAdvice).toEqual([]);
      else expect(strategyAdvice.length === 1 && c.advice.test(strategyAdvice[0]!), decision.advice.join('\n')).toBe(true);
      // The scheduler's reasons follow the strategy's.
      expect(decision.scheduler).toBe('external');
      expect(decision.reasons.at(-1)).toMatch(/external scheduler/);
    });
  }
});

describe('refusals, before any step', () => {
  const config = configOf(MESSAGES);

  it('names the GRANT of a missing right', () => {
    const done = provisioned(config, 'plpgsql', 'none', UTC_MONTHS);
    const lacking: ProvisionState = { ...done, grants: { ...done.grants, tableSchemas: [{ name: 'public', canCreate: false }], ownersNotMemberOf: [{ owner: 'app_admin', tables: ['public.messages'] }] } };
    expect(() => plan(lacking)).toThrow(MissingCapabilityError);
    try {
      plan(lacking);
    } catch (error) {
      expect((error as MissingCapabilityError).message).toContain('CREATE on schema "public"');
      expect((error as MissingCapabilityError).hint).toContain('in database app: GRANT CREATE ON SCHEMA "public" TO "app_owner"; GRANT "app_admin" TO "app_owner";');
    }
  });

  it('refuses a kit whose migrations this user may not read', () => {
    const unreadable: ProvisionState = { ...provisioned(config, 'plpgsql', 'none', UTC_MONTHS), pendingMigrations: null };
    expect(() => plan(unreadable)).toThrow(/may not read "partkit"\.migrations/);
  });

  it('refuses a table that is not partitioned, naming the table', () => {
    const plain = { ...tableState(config, 0, true), relkind: 'r', partitioned: false, partitionStrategy: null, partitionKey: [], defaultPartition: null };
    expect(() => plan(state(config, caps(config, 'none', [plain])))).toThrow(MissingCapabilityError);
  });
});

describe('Citus', () => {
  const config = configOf([{ name: 'public.messages', premake: 2, distribution: { column: 'session_id' } }]);
  const citus = { installed: true, version: '13.0', coordinator: true, activeWorkers: 2, tables: [{ parent: null, months: [] }] };

  it('distributes a new table before the strategy registers it, so its months follow', () => {
    const steps = descriptions(plan(state(config, caps(config, 'none', [tableState(config, 0, false)], { citus }))));
    const distribute = steps.indexOf('distribute public.messages by session_id across the Citus workers (colocate_with default); its months follow it');
    expect(distribute).toBeGreaterThan(steps.indexOf('create table public.messages partitioned by range (created_at) with its indexes'));
    expect(distribute).toBeLessThan(steps.indexOf('record plpgsql settings of public.messages in partkit.managed_table'));
  });

  it('refuses a server without Citus, and an existing table whose primary key lacks the distribution column', () => {
    expect(() => plan(state(config, caps(config, 'none', [tableState(config, 0, false)])))).toThrow(/has no citus extension/);
    const existing = state(config, caps(config, 'none', [tableState(config, 0, true)], { citus: { ...citus, tables: [{ parent: { relation: 'public.messages', isParent: true, bound: null, method: null, column: null, colocationId: null, shards: 0, groups: [], activeGroups: [] }, months: [] }] } }), {
      distribution: { tables: new Map([[0, { columns: ['id', 'session_id', 'created_at'], uniqueKeys: [{ index_name: 'messages_pkey', constraint_name: 'messages_pkey', is_primary: true, columns: ['id', 'created_at'] }] }]]), distributed: [] },
    });
    expect(() => plan(existing)).toThrow(/primary key \(id, created_at\) does not include the distribution column session_id/);
  });
});

describe('the planner reads nothing', () => {
  it('imports no module that connects to a server', () => {
    const src = path.resolve(import.meta.dirname, '../../src');
    const seen = new Set<string>();
    const external = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const match of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\s+(?!type\s)([^;]*?)from\s+'([^']+)'/gms)) {
        const target = match[2]!;
        if (!target.startsWith('.')) external.add(target);
        else visit(path.resolve(path.dirname(file), target.replace(/\.js$/, '.ts')));
      }
    };
    visit(path.join(src, 'provision/plan.ts'));
    const files = [...seen].map((file) => path.relative(src, file));
    expect(files).toContain('strategies/partman.ts');
    for (const connecting of ['core/db.ts', 'core/connection.ts', 'core/context.ts', 'provision/state.ts']) expect(files).not.toContain(connecting);
    expect([...external].filter((name) => name === 'pg' || name.startsWith('pg-'))).toEqual([]);
  });
});
