/**
 * migrate prep's planner, in process: each case is a PrepState built by hand (what readPrepState
 * would read from a server in that situation), the config and the options; planPrep returns the
 * plan, or refuses before anything changes. No server: the whole file runs in milliseconds. The
 * same situations run against real servers in test/migrate.test.ts, test/migrate-online.test.ts,
 * test/citus-migrate.test.ts and test/bad-input.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Capabilities } from '../../src/core/capabilities.js';
import { resolveConfig, type Config } from '../../src/core/config.js';
import { ConflictError, MissingCapabilityError } from '../../src/core/errors.js';
import { displayName, parseQualifiedName } from '../../src/core/identifiers.js';
import { addMonths, monthKey, type Partition } from '../../src/core/partitions.js';
import type { Column, Index, MigrationInspection, Relation } from '../../src/migrate/inspect.js';
import { migrationNames, tableSettings } from '../../src/migrate/inspect.js';
import { planPrep, type PrepOptions, type PrepPlan } from '../../src/migrate/prep-plan.js';
import type { CopyState, PrepState, SourceState } from '../../src/migrate/prep-state.js';

/** 2026-12-15 12:00 UTC: the current month is 2026-12; with premake 4 the copy gets 2026-12 to 2027-04. */
const NOW = new Date(Date.UTC(2026, 11, 15, 12));
const TARGET = '"public"."messages_partitioned"';
const GROUP = { group: 'migrate prep public.messages', table: 'public.messages' };

function configOf(table: Record<string, unknown> = {}): Config {
  return resolveConfig({ tables: [{ name: 'public.messages', ...table }] }, 'test.json');
}

function capsOf(overrides: { partman?: '5' | '4' | 'none'; citus?: boolean; now?: Date } = {}): Capabilities {
  const partman = overrides.partman ?? 'none';
  const version = partman === 'none' ? null : partman === '5' ? '5.2.4' : '4.7.4';
  return {
    server: { version: '17.2', versionNum: 170002, timezone: 'UTC', now: overrides.now ?? NOW },
    database: 'app',
    user: { name: 'app_owner', superuser: true, adminRoles: [], canCreateInDatabase: true },
    host: 'unknown',
    extensions: {
      pg_partman: { available: version !== null, defaultVersion: version, installed: version !== null, version, schema: version && 'partman', needsSuperuser: true, rights: null },
      pg_cron: { available: false, defaultVersion: null, installed: false, version: null, schema: null, needsSuperuser: true, preloaded: false, databaseName: null, canScheduleInDatabase: null, settingsHidden: false, rights: { schema: null, usage: null, scheduleInDatabase: null, alterJob: null } },
    },
    kit: { schema: 'partkit', installed: false },
    tables: [],
    citus: { installed: overrides.citus ?? false, version: overrides.citus ? '13.0' : null, coordinator: overrides.citus ?? false, activeWorkers: overrides.citus ? 2 : 0, tables: [] },
  } as Capabilities;
}

function relation(input: string, overrides: Partial<Relation> = {}): Relation {
  const name = parseQualifiedName(input);
  return {
    name,
    label: displayName(name),
    oid: 16384,
    relkind: 'r',
    owner: 'app_owner',
    comment: null,
    estimatedRows: 0,
    quoted: `${name.schema}.${name.name}`,
    quotedName: name.name,
    control: { exists: true, type: 'timestamptz', typeText: 'timestamp with time zone', notNull: true, indexed: true },
    partitionStrategy: null,
    partitionKey: [],
    rowSecurity: false,
    triggers: [],
    publications: [],
    distributedBy: null,
    ...overrides,
  };
}

/** A btree index on plain columns, as readIndexes reports it. */
function btree(name: string, columns: string[], flags: { primary?: boolean; unique?: boolean } = {}): Index {
  const unique = flags.unique ?? flags.primary ?? false;
  const method = `btree (${columns.join(', ')})`;
  return {
    name,
    isPrimary: flags.primary ?? false,
    isUnique: unique,
    constraintType: flags.primary ? 'p' : null,
    definition: `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ${name} ON public.messages USING ${method}`,
    method,
    keyColumns: columns,
    keyNames: columns,
    hasExpressions: false,
    isPartial: false,
  };
}

function column(name: string, type: string, sequence: Column['sequence'] = null): Column {
  return { name, quoted: name, type, generated: false, identity: sequence?.dependency === 'i' ? 'a' : '', sequence };
}

const PK_ID = btree('messages_pkey', ['id'], { primary: true });
const TIME_INDEX = btree('messages_created_at_idx', ['created_at']);

interface Situation {
  readonly config?: Config;
  readonly table?: Partial<Relation>;
  readonly source?: Partial<SourceState>;
  readonly copy?: Partial<CopyState>;
  readonly partitioned?: Partial<Relation>;
  readonly retired?: boolean;
}

/** The state readPrepState reads for public.messages (uuid id, primary key (id), an index on created_at, no rows), changed by `situation`. */
function stateOf(situation: Situation = {}): { state: PrepState; config: Config } {
  const config = situation.config ?? configOf();
  const names = migrationNames('public.messages');
  const { settings, configured } = tableSettings(config, names.table);
  const copy: CopyState | undefined = situation.copy && { indexes: [], foreignKeys: [], grants: [], triggers: [], policies: [], partitions: [], ...situation.copy };
  const partitioned = situation.partitioned ?? (copy ? { relkind: 'p', partitionStrategy: 'r', partitionKey: [settings.controlColumn] } : undefined);
  const inspection: MigrationInspection = {
    names,
    settings,
    configured,
    table: relation('public.messages', situation.table),
    partitioned: partitioned && relation('public.messages_partitioned', { oid: 16400, ...partitioned }),
    retired: situation.retired ? relation('public.messages_retired', { oid: 16500 }) : undefined,
    state: situation.retired ? 'other' : 'unswapped',
  };
  const source: SourceState = {
    caps: capsOf(),
    indexes: [PK_ID, TIME_INDEX],
    columns: [column('id', 'uuid'), column('session_id', 'uuid'), column('code', 'text'), column('tenant_id', 'bigint'), column('created_at', 'timestamp with time zone')],
    dependents: [],
    foreignKeys: [],
    grants: [],
    triggers: [],
    policies: [],
    views: [],
    replicaIdentity: 'd',
    rowSecurity: { enabled: false, forced: false },
    span: undefined,
    archive: [],
    captureExists: false,
    namesTaken: new Set(['messages', 'messages_pkey', 'messages_created_at_idx']),
    quotedOnServer: new Map([
      ['created_at', 'created_at'],
      ['tenant_id', 'tenant_id'],
    ]),
    copy,
    ...situation.source,
  };
  return { state: { inspection, source }, config };
}

const descriptions = (plan: PrepPlan) => plan.steps.map((step) => step.description);
const sqlOf = (plan: PrepPlan, description: RegExp) => plan.steps.filter((step) => description.test(step.description)).map((step) => step.sql);
const monthsFrom = (first: string, count: number) => {
  const [year, month] = first.split('-').map(Number) as [number, number];
  return Array.from({ length: count }, (_, i) => monthKey(addMonths({ year, month }, i)));
};

/** An attached month of the copy, as listPartitions reports it. */
function attached(key: string): Partition {
  const [year, month] = key.split('-').map(Number) as [number, number];
  return { schema: 'public', name: `messages_y${year}m${String(month).padStart(2, '0')}`, isDefault: false, lower: `${key}-01 00:00:00`, upper: `${monthKey(addMonths({ year, month }, 1))}-01 00:00:00`, bound: '', estimatedRows: 0, bytes: 0 };
}
const DEFAULT_PARTITION: Partition = { schema: 'public', name: 'messages_default', isDefault: true, lower: null, upper: null, bound: 'DEFAULT', estimatedRows: 0, bytes: 0 };

interface Case {
  readonly name: string;
  readonly situation: Situation;
  readonly options?: PrepOptions;
  /** What the plan must say. */
  readonly then?: (plan: PrepPlan) => void;
  /** Or the refusal: its class and (part of) its message. */
  readonly refuses?: readonly [new (...args: never[]) => Error, RegExp];
}

const CASES: readonly Case[] = [
  {
    name: 'a plain table with a primary key on id: the copy, its key widened with created_at, five months, the default, the capture',
    situation: {},
    then: (plan) => {
      expect(plan.strategy).toBe('plpgsql');
      expect(plan.months).toEqual(monthsFrom('2026-12', 5));
      expect(plan.primaryKey).toEqual({ before: ['id'], after: ['id', 'created_at'], widened: true });
      expect(plan.steps[0]).toMatchObject({
        ...GROUP,
        description: 'create messages_partitioned like public.messages (columns, defaults, NOT NULL, CHECK, identity, storage, comments, generated columns), partitioned by range (created_at)',
        sql: `CREATE TABLE ${TARGET} (LIKE public.messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE ("created_at")`,
      });
      expect(plan.steps[1]).toMatchObject({
        description: "primary key of messages_partitioned: (id, created_at) (widened from (id): a partitioned table's primary key must include created_at)",
        sql: `ALTER TABLE ${TARGET} ADD PRIMARY KEY ("id", "created_at")`,
      });
      expect(plan.steps[2]).toMatchObject({ description: 'index on messages_partitioned like messages_created_at_idx: btree (created_at)', sql: `CREATE INDEX ON ${TARGET} USING btree (created_at)` });
      expect(sqlOf(plan, /^partition messages_y2026m12/)).toEqual([`CREATE TABLE "public"."messages_y2026m12" PARTITION OF ${TARGET} FOR VALUES FROM ('2026-12-01 00:00:00') TO ('2027-01-01 00:00:00')`]);
      expect(plan.steps.find((step) => step.description.startsWith('partition '))).toMatchObject({ timeZone: 'UTC' });
      expect(sqlOf(plan, /^default partition/)).toEqual([`CREATE TABLE "public"."messages_default" PARTITION OF ${TARGET} DEFAULT`]);
      expect(descriptions(plan).filter((d) => d.startsWith('capture table messages_capture'))).toHaveLength(1);
      expect(plan.notes[0]).toMatch(/^primary key widened from \(id\) to \(id, created_at\)/);
      expect(plan.notes).toContain('changes to public.messages are captured from now on (keys in public.messages_capture); fill and swap replay them, so writers may keep writing.');
      expect(plan.notes.at(-1)).toBe('under the retention of 12 months, the first maintenance after the migration archives nothing.');
      expect(plan.warnings).toEqual([]);
    },
  },
  {
    name: 'a primary key that has created_at already is kept as it is',
    situation: { source: { indexes: [btree('messages_pkey', ['id', 'created_at'], { primary: true })] } },
    then: (plan) => {
      expect(plan.primaryKey).toEqual({ before: ['id', 'created_at'], after: ['id', 'created_at'], widened: false });
      expect(plan.steps[1]).toMatchObject({ description: 'primary key of messages_partitioned: (id, created_at)', sql: `ALTER TABLE ${TARGET} ADD PRIMARY KEY ("id", "created_at")` });
      expect(plan.notes.some((note) => note.startsWith('primary key widened'))).toBe(false);
    },
  },
  {
    name: 'a unique btree index without created_at is widened (the column quoted as the server quotes it); expression and partial ones become plain indexes',
    situation: {
      source: {
        quotedOnServer: new Map([['created_at', '"created_at as written"']]),
        indexes: [
          PK_ID,
          TIME_INDEX,
          btree('messages_code_key', ['code'], { unique: true }),
          { ...btree('messages_lower_code_key', [], { unique: true }), method: 'btree (lower(code))', keyColumns: [null], keyNames: [], hasExpressions: true, definition: 'CREATE UNIQUE INDEX messages_lower_code_key ON public.messages USING btree (lower(code))' },
          { ...btree('messages_session_key', ['session_id'], { unique: true }), method: 'btree (session_id) WHERE (code IS NULL)', isPartial: true },
        ],
      },
    },
    then: (plan) => {
      expect(sqlOf(plan, /^index on messages_partitioned like messages_(code|lower_code|session)_key/)).toEqual([
        `CREATE UNIQUE INDEX ON ${TARGET} USING btree (code, "created_at as written")`,
        `CREATE INDEX ON ${TARGET} USING btree (lower(code))`,
        `CREATE INDEX ON ${TARGET} USING btree (session_id) WHERE (code IS NULL)`,
      ]);
      expect(plan.notes).toContain('unique index messages_code_key widened to (code, created_at): uniqueness of (code) alone is no longer enforced across months.');
      expect(plan.warnings).toEqual([
        'unique index messages_lower_code_key (CREATE UNIQUE INDEX messages_lower_code_key ON public.messages USING btree (lower(code))) is recreated as a plain index: a unique index on a partitioned table must contain created_at and no expressions.',
        'unique index messages_session_key (CREATE UNIQUE INDEX messages_session_key ON public.messages USING btree (session_id)) is recreated as a plain index: a unique index on a partitioned table must contain created_at and no expressions.',
      ]);
    },
  },
  {
    name: 'no index leading with created_at: the copy gets a time index, and the swap is warned about',
    situation: { table: { control: { exists: true, type: 'timestamptz', typeText: 'timestamp with time zone', notNull: true, indexed: false } }, source: { indexes: [PK_ID] } },
    then: (plan) => {
      expect(sqlOf(plan, /^time index/)).toEqual([`CREATE INDEX ON ${TARGET} ("created_at")`]);
      expect(plan.notes.some((note) => note.startsWith('public.messages has no index leading with created_at'))).toBe(true);
      expect(plan.warnings).toEqual([expect.stringMatching(/^no index on public.messages starts with created_at: the swap's catch-up/)]);
    },
  },
  {
    name: 'timestamp (without zone): bounds are wall-clock midnights, the same literals as timestamptz',
    situation: { table: { control: { exists: true, type: 'timestamp', typeText: 'timestamp without time zone', notNull: true, indexed: true } } },
    then: (plan) => expect(sqlOf(plan, /^partition messages_y2027m01/)).toEqual([`CREATE TABLE "public"."messages_y2027m01" PARTITION OF ${TARGET} FOR VALUES FROM ('2027-01-01 00:00:00') TO ('2027-02-01 00:00:00')`]),
  },
  {
    name: 'date: bounds are dates',
    situation: { config: configOf({ controlColumn: 'day' }), table: { control: { exists: true, type: 'date', typeText: 'date', notNull: true, indexed: true } }, source: { indexes: [PK_ID, btree('messages_day_idx', ['day'])], quotedOnServer: new Map([['day', 'day']]) } },
    then: (plan) => {
      expect(plan.primaryKey.after).toEqual(['id', 'day']);
      expect(sqlOf(plan, /^partition messages_y2027m01/)).toEqual([`CREATE TABLE "public"."messages_y2027m01" PARTITION OF ${TARGET} FOR VALUES FROM ('2027-01-01') TO ('2027-02-01')`]);
    },
  },
  {
    name: "the current month is the table's zone's: 23:30 UTC on New Year's Eve is January in Auckland",
    situation: { config: configOf({ timeZone: 'Pacific/Auckland' }), source: { caps: capsOf({ now: new Date(Date.UTC(2026, 11, 31, 23, 30)) }) } },
    then: (plan) => {
      expect(plan.months).toEqual(monthsFrom('2027-01', 5));
      expect(plan.steps.find((step) => step.description.startsWith('partition '))).toMatchObject({ description: 'partition messages_y2027m01: 2027-01 of messages_partitioned (Pacific/Auckland)', timeZone: 'Pacific/Auckland' });
    },
  },
  {
    name: 'rows since 2025-06: every month from the first row through premake',
    situation: { source: { span: { first: '2025-06', last: '2026-12' } } },
    then: (plan) => expect(plan.months).toEqual(monthsFrom('2025-06', 23)),
  },
  {
    name: 'rows beyond premake (2028-03): the months reach them',
    situation: { source: { span: { first: '2026-12', last: '2028-03' } } },
    then: (plan) => expect(plan.months).toEqual(monthsFrom('2026-12', 16)),
  },
  {
    name: 'rows from 1900 to 2200 are refused as bogus (more than 600 months)',
    situation: { source: { span: { first: '1900-01', last: '2200-01' } } },
    refuses: [MissingCapabilityError, /^public\.messages\.created_at spans 1900-01 to 2200-01: 3601 months, more than 600 \(nothing was changed\)\.$/],
  },
  {
    name: "pg_partman 5's names (and 4's)",
    situation: { source: { caps: capsOf({ partman: '5' }) } },
    then: (plan) => {
      expect(plan.strategy).toBe('partman');
      expect(descriptions(plan)).toContain('partition messages_p20261201: 2026-12 of messages_partitioned (UTC)');
      const four = planPrep(stateOf({ source: { caps: capsOf({ partman: '4' }) } }).state, configOf());
      expect(descriptions(four)).toContain('partition messages_p2026_12: 2026-12 of messages_partitioned (UTC)');
    },
  },
  {
    name: 'a child name already taken by another relation (and the default) is refused, naming both',
    situation: { source: { namesTaken: new Set(['messages', 'messages_y2027m02', 'messages_default']) } },
    refuses: [ConflictError, /^These names are taken by other relations in schema public: messages_y2027m02, messages_default \(nothing was changed\)\.$/],
  },
  {
    name: 'outgoing foreign keys are added to the copy; grants are copied',
    situation: {
      source: {
        foreignKeys: [{ name: 'messages_session_fkey', definition: 'FOREIGN KEY (session_id) REFERENCES sessions(id)' }],
        grants: [
          { grantee: 'reader', privilege: 'SELECT', grantable: false },
          { grantee: 'PUBLIC', privilege: 'INSERT', grantable: true },
        ],
      },
    },
    then: (plan) => {
      expect(sqlOf(plan, /^foreign key on/)).toEqual([`ALTER TABLE ${TARGET} ADD FOREIGN KEY (session_id) REFERENCES sessions(id)`]);
      expect(descriptions(plan)).toContain('foreign key on messages_partitioned like messages_session_fkey: FOREIGN KEY (session_id) REFERENCES sessions(id)');
      expect(sqlOf(plan, /^grant /)).toEqual([`GRANT SELECT ON ${TARGET} TO reader`, `GRANT INSERT ON ${TARGET} TO PUBLIC WITH GRANT OPTION`]);
    },
  },
  {
    name: 'incoming foreign keys are refused by default',
    situation: { source: { dependents: [{ kind: 'foreign key', name: 'replies_message_fkey', definition: 'FOREIGN KEY (message_id) REFERENCES messages(id)' }] } },
    refuses: [MissingCapabilityError, /^Foreign keys point at public\.messages, and they would keep pointing at the original after the swap \(nothing was changed\):\n {2}replies_message_fkey: FOREIGN KEY \(message_id\) REFERENCES messages\(id\)\nA foreign key to the partitioned public\.messages must name its whole primary key \(id, created_at\)/],
  },
  {
    name: 'incoming foreign keys with --foreign-keys drop: planned, with what the swap will do to them',
    situation: { source: { dependents: [{ kind: 'foreign key', name: 'replies_message_fkey', definition: 'FOREIGN KEY (message_id) REFERENCES messages(id)' }] } },
    options: { foreignKeys: 'drop' },
    then: (plan) => {
      expect(plan.warnings[0]).toBe('foreign key replies_message_fkey (FOREIGN KEY (message_id) REFERENCES messages(id)) will be dropped by `partkit migrate swap public.messages --foreign-keys drop`, which prints and saves the DDL to recreate it against (id, created_at) with MATCH FULL.');
      expect(plan.warnings[1]).toMatch(/^A foreign key to the partitioned public\.messages must name its whole primary key \(id, created_at\)/);
    },
  },
  {
    name: 'user triggers are recreated on the copy, disabled; one whose definition cannot be retargeted is a warning',
    situation: {
      source: {
        triggers: [
          { name: 'stamp', definition: 'CREATE TRIGGER stamp BEFORE INSERT ON public.messages FOR EACH ROW EXECUTE FUNCTION stamp()', enabled: 'O' },
          { name: 'odd', definition: 'CREATE TRIGGER odd AFTER INSERT ON other.table FOR EACH ROW EXECUTE FUNCTION odd()', enabled: 'O' },
        ],
      },
    },
    then: (plan) => {
      expect(plan.steps.filter((step) => /trigger stamp/.test(step.description)).map((step) => [step.description, step.sql])).toEqual([
        ['trigger stamp on messages_partitioned, like on public.messages (disabled until the swap enables it)', `CREATE TRIGGER stamp BEFORE INSERT ON ${TARGET} FOR EACH ROW EXECUTE FUNCTION stamp()`],
        ['disable trigger stamp on messages_partitioned until the swap', `ALTER TABLE ${TARGET} DISABLE TRIGGER "stamp"`],
      ]);
      expect(plan.notes).toContain('trigger stamp recreated on messages_partitioned, disabled; the swap enables it there and disables it on messages_retired.');
      expect(plan.warnings).toContain('trigger odd could not be recreated (CREATE TRIGGER odd AFTER INSERT ON other.table FOR EACH ROW EXECUTE FUNCTION odd()); create it on messages_partitioned by hand, disabled, before the swap.');
    },
  },
  {
    name: 'row-level security: policies and the ENABLE/FORCE flags',
    situation: { source: { policies: [{ name: 'own rows', permissive: 'PERMISSIVE', roles: ['public', 'App'], cmd: 'SELECT', qual: '(tenant_id = 1)', with_check: null }], rowSecurity: { enabled: true, forced: true } } },
    then: (plan) =>
      expect(plan.steps.slice(-3).map((step) => step.sql)).toEqual([
        `CREATE POLICY "own rows" ON ${TARGET} AS PERMISSIVE FOR SELECT TO PUBLIC, "App" USING ((tenant_id = 1))`,
        `ALTER TABLE ${TARGET} ENABLE ROW LEVEL SECURITY`,
        `ALTER TABLE ${TARGET} FORCE ROW LEVEL SECURITY`,
      ]),
  },
  {
    name: 'a rerun after prep: the copy has everything, so nothing is planned',
    situation: {
      source: { span: { first: '2026-11', last: '2026-12' }, captureExists: true, grants: [{ grantee: 'reader', privilege: 'SELECT', grantable: false }], triggers: [{ name: 'stamp', definition: 'CREATE TRIGGER stamp BEFORE INSERT ON public.messages FOR EACH ROW EXECUTE FUNCTION stamp()', enabled: 'O' }] },
      copy: {
        indexes: [btree('messages_partitioned_pkey', ['id', 'created_at'], { primary: true }), btree('messages_partitioned_created_at_idx', ['created_at'])],
        grants: [{ grantee: 'reader', privilege: 'SELECT', grantable: false }],
        triggers: ['stamp'],
        partitions: [...monthsFrom('2026-11', 6).map(attached), DEFAULT_PARTITION],
      },
    },
    then: (plan) => {
      expect(plan.steps).toEqual([]);
      expect(plan.months).toEqual([]);
      expect(plan.primaryKey.widened).toBe(true);
    },
  },
  {
    name: 'a half-made copy: only the foreign keys, grants, policies, months (and the default) it lacks are planned',
    situation: {
      copy: {
        indexes: [btree('messages_partitioned_pkey', ['id', 'created_at'], { primary: true }), btree('messages_partitioned_created_at_idx', ['created_at'])],
        foreignKeys: [{ name: 'messages_partitioned_session_fkey', definition: 'FOREIGN KEY (session_id) REFERENCES sessions(id)' }],
        grants: [{ grantee: 'reader', privilege: 'SELECT', grantable: false }],
        policies: ['mine'],
        partitions: [attached('2026-12'), attached('2027-01')],
      },
      source: {
        captureExists: true,
        foreignKeys: [
          { name: 'messages_session_fkey', definition: 'FOREIGN KEY (session_id) REFERENCES sessions(id)' },
          { name: 'messages_tenant_fkey', definition: 'FOREIGN KEY (tenant_id) REFERENCES tenants(id)' },
        ],
        grants: [
          { grantee: 'reader', privilege: 'SELECT', grantable: false },
          { grantee: 'reader', privilege: 'SELECT', grantable: true },
        ],
        policies: [
          { name: 'mine', permissive: 'PERMISSIVE', roles: ['public'], cmd: 'ALL', qual: 'true', with_check: null },
          { name: 'theirs', permissive: 'RESTRICTIVE', roles: ['app'], cmd: 'UPDATE', qual: null, with_check: 'false' },
        ],
      },
    },
    then: (plan) => {
      expect(plan.months).toEqual(['2027-02', '2027-03', '2027-04']);
      expect(descriptions(plan)).toEqual([
        'foreign key on messages_partitioned like messages_tenant_fkey: FOREIGN KEY (tenant_id) REFERENCES tenants(id)',
        'grant SELECT on messages_partitioned to reader, as on public.messages',
        ...plan.months.map((key) => `partition messages_y${key.replace('-', 'm')}: ${key} of messages_partitioned (UTC)`),
        'default partition messages_default of messages_partitioned (rows outside every month)',
        'policy theirs on messages_partitioned, as on public.messages',
      ]);
      expect(sqlOf(plan, /^grant /)).toEqual([`GRANT SELECT ON ${TARGET} TO reader WITH GRANT OPTION`]);
      expect(sqlOf(plan, /^policy /)).toEqual([`CREATE POLICY "theirs" ON ${TARGET} AS RESTRICTIVE FOR UPDATE TO "app" WITH CHECK (false)`]);
    },
  },
  {
    name: 'another relation under the copy\'s name is refused',
    situation: { partitioned: { relkind: 'r' } },
    refuses: [ConflictError, /^public\.messages_partitioned exists but is not partitioned by RANGE \(created_at\) \(nothing was changed\)\.$/],
  },
  {
    name: 'Citus: the copy is distributed by the configured column, its keys include it, and the plan starts in sequential mode',
    situation: { config: configOf({ distribution: { column: 'tenant_id' } }), source: { caps: capsOf({ citus: true }), indexes: [PK_ID, TIME_INDEX, btree('messages_code_key', ['code'], { unique: true })] } },
    then: (plan) => {
      expect(plan.steps[0]).toMatchObject({ ...GROUP, sql: "SET LOCAL citus.multi_shard_modify_mode = 'sequential'" });
      expect(plan.primaryKey).toEqual({ before: ['id'], after: ['id', 'created_at', 'tenant_id'], widened: true });
      expect(sqlOf(plan, /^index on messages_partitioned like messages_code_key/)).toEqual([`CREATE UNIQUE INDEX ON ${TARGET} USING btree (code, created_at, tenant_id)`]);
      expect(plan.steps.find((step) => step.description.startsWith('distribute messages_partitioned'))).toMatchObject({
        description: 'distribute messages_partitioned by tenant_id across the Citus workers (colocate_with default); its months follow it',
        sql: 'SELECT create_distributed_table($1, $2, colocate_with => $3)',
        params: [TARGET, 'tenant_id', 'default'],
      });
      expect(sqlOf(plan, /^capture table/)[0]).toContain('"id" uuid NOT NULL, "tenant_id" bigint NOT NULL');
      expect(plan.notes.some((note) => note.startsWith('Citus: the partitioned copy is distributed by tenant_id'))).toBe(true);
    },
  },
  {
    name: 'Citus: distribution configured on a server without Citus is refused',
    situation: { config: configOf({ distribution: { column: 'tenant_id' } }) },
    refuses: [MissingCapabilityError, /^The config distributes public\.messages by tenant_id with Citus, but database app has no citus extension/],
  },
  {
    name: 'Citus: outgoing foreign keys are refused',
    situation: { config: configOf({ distribution: { column: 'tenant_id' } }), source: { caps: capsOf({ citus: true }), foreignKeys: [{ name: 'fk', definition: 'FOREIGN KEY (session_id) REFERENCES sessions(id)' }] } },
    refuses: [MissingCapabilityError, /^public\.messages has foreign keys to other tables, and Citus allows/],
  },
  {
    name: 'Citus: user triggers are refused',
    situation: { config: configOf({ distribution: { column: 'tenant_id' } }), source: { caps: capsOf({ citus: true }), triggers: [{ name: 'stamp', definition: 'CREATE TRIGGER stamp BEFORE INSERT ON public.messages FOR EACH ROW EXECUTE FUNCTION stamp()', enabled: 'O' }] } },
    refuses: [MissingCapabilityError, /^public\.messages has triggers \(stamp\); Citus runs a distributed table's triggers on each shard/],
  },
  {
    name: 'Citus: a copy distributed by another column is refused',
    situation: { config: configOf({ distribution: { column: 'tenant_id' } }), source: { caps: capsOf({ citus: true }) }, copy: {}, partitioned: { relkind: 'p', partitionStrategy: 'r', partitionKey: ['created_at'], distributedBy: 'id' } },
    refuses: [ConflictError, /^public\.messages_partitioned is distributed by id, but the config distributes public\.messages by tenant_id/],
  },
  { name: 'no primary key is refused', situation: { source: { indexes: [TIME_INDEX] } }, refuses: [MissingCapabilityError, /^public\.messages has no primary key \(nothing was changed\)\.$/] },
  { name: 'REPLICA IDENTITY FULL is refused', situation: { source: { replicaIdentity: 'f' } }, refuses: [MissingCapabilityError, /^public\.messages has REPLICA IDENTITY FULL; partkit does not carry it/] },
  { name: 'a table already partitioned is refused', situation: { table: { relkind: 'p' } }, refuses: [MissingCapabilityError, /^public\.messages is already partitioned \(nothing was changed\)\.$/] },
  { name: 'a retired table in the way is refused', situation: { retired: true }, refuses: [MissingCapabilityError, /^public\.messages_retired already exists \(nothing was changed\)\.$/] },
  {
    name: 'a nullable control column is refused',
    situation: { table: { control: { exists: true, type: 'timestamptz', typeText: 'timestamp with time zone', notNull: false, indexed: true } } },
    refuses: [MissingCapabilityError, /^public\.messages\.created_at is nullable; a partition key must be NOT NULL/],
  },
  {
    name: 'what prep leaves to others: unconfigured table, views, publications, sequences, months to archive',
    situation: {
      config: resolveConfig({ tables: [{ name: 'public.other' }] }, 'test.json'),
      table: { publications: ['pub'] },
      source: {
        views: [{ name: 'recent', relkind: 'v', definition: '', options: null }, { name: 'daily', relkind: 'm', definition: '', options: null }],
        columns: [column('id', 'bigint', { name: { schema: 'public', name: 'messages_id_seq' }, dependency: 'i' }), column('n', 'bigint', { name: { schema: 'public', name: 'n_seq' }, dependency: 'a' }), column('created_at', 'timestamptz')],
        archive: [{ month: '2024-01', rows: 10 }, { month: '2024-02', rows: 5 }],
      },
    },
    then: (plan) => {
      expect(plan.notes.slice(-4)).toEqual([
        'registration is left to `partkit provision` after `partkit migrate swap public.messages`: pg_partman and partkit record tables by name, and the swap renames messages_partitioned to messages. Children are named for strategy plpgsql so that provision adopts them.',
        'view recent reads public.messages; the swap recreates it to read the new public.messages (owner, grants and options kept).',
        'identity column id: messages_partitioned gets its own identity sequence; the swap sets it past the highest id (pitfall 10).',
        'column n draws from sequence public.n_seq, shared by both tables; the swap makes the new table its owner so dropping the original keeps it (pitfall 10).',
      ]);
      expect(plan.warnings).toEqual([
        'public.messages is not in the config (test.json); built-in defaults were used (control column created_at, premake 4, UTC). Add it to the config before `partkit provision`.',
        'materialized view daily reads public.messages; after the swap it still reads the original (messages_retired): recreate it on the new public.messages then.',
        'public.messages is in publication(s) pub; add messages_partitioned to them after the swap.',
        expect.stringMatching(/^under the retention of 12 months, the first maintenance after `partkit provision` will archive 2 month\(s\), 2024-01 to 2024-02: 15 row\(s\)/),
      ]);
      expect(plan.archive).toHaveLength(2);
    },
  },
];

describe('migrate prep planner', () => {
  for (const entry of CASES) {
    it(entry.name, () => {
      const { state, config } = stateOf(entry.situation);
      if (entry.refuses) {
        const [type, message] = entry.refuses;
        let thrown: unknown;
        try {
          planPrep(state, config, entry.options);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(type);
        expect((thrown as Error).message).toMatch(message);
      } else {
        entry.then!(planPrep(state, config, entry.options));
      }
    });
  }

  it('plans the same from the same state twice (a pure function: nothing read, nothing kept)', () => {
    const { state, config } = stateOf({ source: { span: { first: '2025-06', last: '2027-02' } } });
    expect(planPrep(state, config)).toEqual(planPrep(state, config));
  });
});
