/**
 * `partkit migrate prep <table>` (phase 1): creates `<table>_partitioned` next to the table,
 * same columns, defaults, NOT NULL, CHECK constraints, identity, comments, indexes, outgoing
 * foreign keys and grants, PARTITION BY RANGE on the control column, with the months the data
 * spans (through the current month + premake) and a default partition. The table itself is not
 * touched. Children get their final names (the strategy's naming), so that after the swap
 * `partkit provision` adopts them; registration (pg_partman's part_config, the kit's
 * managed_table) is left to provision because both record the parent by name, which the swap changes.
 */
import { decide, inspect } from '../core/capabilities.js';
import type { Config, Strategy } from '../core/config.js';
import type { Database } from '../core/db.js';
import { ConflictError, MissingCapabilityError } from '../core/errors.js';
import { displayName, quoteIdent, quoteLiteral, quoteQualified } from '../core/identifiers.js';
import { partkitCommand } from '../core/shell.js';
import { addMonths, coveredMonth, currentMonth, listPartitions, monthKey, type ControlType, type Month } from '../core/partitions.js';
import { sqlStep, type SqlStep } from '../core/plan.js';
import { run, underRunLock } from '../core/runner.js';
import { strategyOf } from '../strategies/index.js';
import { captureName, CAPTURE_TRIGGERS, citusSequentialStep, createCaptureSteps, readCapture } from './capture.js';
import { fromClause } from './copy.js';
import { describeArchive, monthsToArchive, type MonthToArchive } from './retention.js';
import { citusMigrationNote, colocateArgument, migrationDistributionColumn } from '../citus/provision.js';
import { checkControlColumn, checkDerivedName, inspectMigration, primaryKey, readColumns, readDependents, readGrants, readIndexes, readOutgoingForeignKeys, readViews, foreignKeyConsequences, type MigrationInspection } from './inspect.js';

/** More months than this from one table's data is almost certainly a bogus timestamp (year 1970 or 2999). */
export const MAX_PREP_MONTHS = 600;

export interface PrepOptions {
  readonly strategy?: 'auto' | Strategy | undefined;
  /** Foreign keys of other tables that point at the table: refuse (default), or let the swap drop them. */
  readonly foreignKeys?: 'refuse' | 'drop' | undefined;
}

export interface PrepPlan {
  readonly inspection: MigrationInspection;
  readonly strategy: Strategy;
  readonly steps: SqlStep[];
  readonly months: readonly string[];
  readonly primaryKey: { readonly before: readonly string[]; readonly after: readonly string[]; readonly widened: boolean };
  readonly notes: readonly string[];
  readonly warnings: readonly string[];
  /** Months the first maintenance after the migration archives under the current retention. */
  readonly archive: readonly MonthToArchive[];
}

/** The child name each strategy gives a month: the names its maintenance and provision expect. */
export function childName(table: string, month: Month, strategy: Strategy, partmanMajor: number): string {
  return strategyOf(strategy).childName(table, month, partmanMajor);
}

/** A month start as the server reads it under the table's TimeZone (bounds are fixed when created). */
export function boundLiteral(month: Month, type: ControlType): string {
  return type === 'date' ? `${monthKey(month)}-01` : `${monthKey(month)}-01 00:00:00`;
}

function monthsBetween(first: Month, last: Month): Month[] {
  const count = last.year * 12 + last.month - (first.year * 12 + first.month) + 1;
  return Array.from({ length: Math.max(count, 0) }, (_, i) => addMonths(first, i));
}

function parseMonthKey(key: string): Month {
  const [year, month] = key.split('-').map(Number);
  return { year: year!, month: month! };
}

/** The months the existing rows span, in the table's zone (finite values only; others go to the default). */
async function dataMonths(db: Database, inspection: MigrationInspection): Promise<{ first: Month; last: Month } | undefined> {
  const table = inspection.table!;
  const column = quoteIdent(inspection.settings.controlColumn);
  const local = (expr: string) => (table.control.type === 'timestamptz' ? `(${expr} AT TIME ZONE $1)` : `${expr}::timestamp`);
  const [row] = await db.query<{ first: string | null; last: string | null }>(
    `SELECT to_char(${local(`min(${column})`)}, 'YYYY-MM') AS first, to_char(${local(`max(${column})`)}, 'YYYY-MM') AS last
       FROM ONLY ${table.quoted} WHERE isfinite(${column}) AND $1::text IS NOT NULL`,
    [inspection.settings.timeZone],
  );
  if (!row?.first || !row.last) return undefined;
  return { first: parseMonthKey(row.first), last: parseMonthKey(row.last) };
}

/** Refusals shared by prep: each says what to do and that nothing changed. */
function checkSource(inspection: MigrationInspection): void {
  const { names, table, retired } = inspection;
  const label = inspection.names.table;
  if (!table) {
    throw new MissingCapabilityError(`Table ${label.schema}.${label.name} does not exist (nothing was changed).`, 'Check the name: schema.table, with double quotes around mixed-case parts.');
  }
  if (table.relkind === 'p') {
    throw new MissingCapabilityError(
      `${table.label} is already partitioned (nothing was changed)${retired ? `; ${names.retired.name} is the original it replaced` : ''}.`,
      retired ? `Run \`partkit provision\` to register it, and \`${partkitCommand(['migrate', 'drop', table.label, '--yes'])}\` when you no longer need the original.` : 'Run `partkit provision` to register it.',
    );
  }
  if (table.relkind !== 'r') throw new MissingCapabilityError(`${table.label} is not a table (relkind ${table.relkind}); nothing was changed.`);
  if (retired) {
    throw new MissingCapabilityError(`${retired.label} already exists (nothing was changed).`, `Drop or rename it first; partkit uses that name for the original table after the swap.`);
  }
  checkControlColumn(table, inspection.settings.controlColumn);
}

export async function planPrep(db: Database, config: Config, input: string, options: PrepOptions = {}): Promise<PrepPlan> {
  const inspection = await inspectMigration(db, config, input, 'prep');
  checkSource(inspection);
  const table = inspection.table!;
  const { settings, names } = inspection;
  const label = table.label;
  const column = settings.controlColumn;
  const controlType = table.control.type!;

  const indexes = await readIndexes(db, table);
  const columns = await readColumns(db, table.oid);
  const pk = primaryKey(indexes);
  if (!pk) {
    throw new MissingCapabilityError(`${label} has no primary key (nothing was changed).`, 'partkit migrate fill copies in primary-key order and skips rows already copied by it; add a primary key first.');
  }
  const dependents = await readDependents(db, table.oid);
  const incoming = dependents.filter((d) => d.kind === 'foreign key');
  const keyWithControl = [...pk.keyNames, ...(pk.keyNames.includes(column) ? [] : [column])];
  if (incoming.length > 0 && options.foreignKeys !== 'drop') {
    throw new MissingCapabilityError(
      `Foreign keys point at ${label}, and they would keep pointing at the original after the swap (nothing was changed):\n${incoming.map((fk) => `  ${fk.name}: ${fk.definition}`).join('\n')}\n${foreignKeyConsequences(label, keyWithControl, column, settings.retention)}`,
      `${partkitCommand(['migrate', 'prep', label, '--foreign-keys', 'drop'])} (and the same option for swap), or drop them first: ALTER TABLE <referencing table> DROP CONSTRAINT <name>`,
    );
  }

  const caps = await inspect(db, config);
  const decision = decide(caps, config, options.strategy ?? config.strategy);
  const partman = caps.extensions.pg_partman;
  const partmanMajor = Number.parseInt(partman.version ?? partman.defaultVersion ?? '5', 10) || 5;
  const strategy = decision.strategy;

  const existing = inspection.partitioned;
  if (existing && (existing.relkind !== 'p' || existing.partitionStrategy !== 'r' || existing.partitionKey.join(',') !== column)) {
    throw new ConflictError(
      `${existing.label} exists but is not partitioned by RANGE (${column}) (nothing was changed).`,
      `It is not partkit's: drop or rename it, then run ${partkitCommand(['migrate', 'prep', label])} again.`,
    );
  }

  const group = `migrate prep ${label}`;
  const step = (description: string, sql: string, extra: Partial<SqlStep> = {}) => sqlStep(description, sql, { table: label, group, ...extra });
  const steps: SqlStep[] = [];
  const notes: string[] = [];
  const warnings: string[] = [];
  const target = quoteQualified(names.partitioned);
  const control = quoteIdent(column);

  if (!existing) {
    steps.push(
      step(
        `create ${names.partitioned.name} like ${label} (columns, defaults, NOT NULL, CHECK, identity, storage, comments, generated columns), partitioned by range (${column})`,
        `CREATE TABLE ${target} (LIKE ${table.quoted} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (${control})`,
      ),
    );
  }
  const targetIndexes = existing ? await readIndexes(db, existing) : [];
  const targetMethods = new Set(targetIndexes.map((index) => `${index.isUnique ? 'unique ' : ''}${index.method ?? index.definition}`));

  // Pitfall 4: a unique index on a partitioned table must contain the partition key.
  // Citus: a distributed table's primary key must include its distribution column as well.
  const distributionColumn = migrationDistributionColumn(caps, settings, label);
  const pkAfter = [...new Set([...pk.keyNames, column, ...(distributionColumn === null ? [] : [distributionColumn])])];
  const widened = pkAfter.length !== pk.keyNames.length;
  if (!targetIndexes.some((index) => index.isPrimary)) {
    steps.push(
      step(
        `primary key of ${names.partitioned.name}: (${pkAfter.join(', ')})${widened ? ` (widened from (${pk.keyNames.join(', ')}): a partitioned table's primary key must include ${column})` : ''}`,
        `ALTER TABLE ${target} ADD PRIMARY KEY (${pkAfter.map(quoteIdent).join(', ')})`,
      ),
    );
  }
  if (widened) {
    notes.push(`primary key widened from (${pk.keyNames.join(', ')}) to (${pkAfter.join(', ')}): PostgreSQL requires the partition key in it, so ${pk.keyNames.join(', ')} alone is no longer enforced unique across months (generated values such as gen_random_uuid() or a sequence stay unique in practice).`);
  }

  for (const index of indexes) {
    if (index.isPrimary) continue;
    if (index.constraintType === 'x') {
      warnings.push(`exclusion constraint ${index.name} is not recreated (a partitioned table's exclusion constraint must use the partition key with =); add one by hand if you need it.`);
      continue;
    }
    if (index.method === undefined) {
      warnings.push(`index ${index.name} was not recreated: its definition could not be read (${index.definition}); create it on ${names.partitioned.name} by hand.`);
      continue;
    }
    let unique = index.isUnique;
    let method = index.method;
    // A unique index must contain the partition key, and on Citus the distribution column too.
    const missing = [column, ...(distributionColumn === null ? [] : [distributionColumn])].filter((name, i, all) => !index.keyNames.includes(name) && all.indexOf(name) === i);
    if (unique && missing.length > 0) {
      if (index.hasExpressions || index.isPartial || !/^btree \(/.test(method)) {
        unique = false;
        warnings.push(`unique index ${index.name} (${index.definition}) is recreated as a plain index: a unique index on a partitioned${distributionColumn === null ? '' : ', distributed'} table must contain ${missing.join(' and ')} and no expressions.`);
      } else {
        const added: string[] = [];
        for (const name of missing) added.push(await quoteIdentOnServer(db, name));
        method = `btree (${[...index.keyColumns, ...added].join(', ')})${method.replace(/^btree \([^)]*\)/, '')}`;
        notes.push(`unique index ${index.name} widened to (${[...index.keyNames, ...missing].join(', ')}): uniqueness of (${index.keyNames.join(', ')}) alone is no longer enforced across months${distributionColumn === null ? '' : ' and workers'}.`);
      }
    }
    const signature = `${unique ? 'unique ' : ''}${method}`;
    if (targetMethods.has(signature)) continue;
    targetMethods.add(signature);
    steps.push(step(`index on ${names.partitioned.name} like ${index.name}: ${unique ? 'UNIQUE ' : ''}${method}`, `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ON ${target} USING ${method}`));
  }

  // The time index (issue 11): without one, a time range or a newest-N page reads whole months.
  if (![...indexes, ...targetIndexes].some((index) => index.keyNames[0] === column)) {
    steps.push(step(`time index on ${names.partitioned.name} (${column}): ${label} has no index leading with it`, `CREATE INDEX ON ${target} (${control})`));
    notes.push(`${label} has no index leading with ${column}, so ${names.partitioned.name} gets one, btree (${column}), on every month: time ranges and newest-N pages then read an index instead of whole months.`);
  }

  const outgoing = await readOutgoingForeignKeys(db, table.oid);
  if (distributionColumn !== null && outgoing.length > 0) {
    throw new MissingCapabilityError(
      `${label} has foreign keys to other tables, and Citus allows a distributed table's foreign keys only to reference tables or co-located distributed tables by the distribution column (nothing was changed):\n${outgoing.map((fk) => `  ${fk.name}: ${fk.definition}`).join('\n')}`,
      `Distribute or replicate the referenced tables first (create_reference_table / create_distributed_table), or drop these foreign keys (ALTER TABLE ${table.quoted} DROP CONSTRAINT <name>), then run prep again.`,
    );
  }
  const targetForeignKeys = new Set(existing ? (await readOutgoingForeignKeys(db, existing.oid)).map((fk) => fk.definition) : []);
  for (const fk of outgoing) {
    if (targetForeignKeys.has(fk.definition)) continue;
    steps.push(step(`foreign key on ${names.partitioned.name} like ${fk.name}: ${fk.definition}`, `ALTER TABLE ${target} ADD ${fk.definition}`));
  }

  const grants = await readGrants(db, table.oid);
  const targetGrants = new Set(existing ? (await readGrants(db, existing.oid)).map((g) => `${g.grantee}|${g.privilege}|${g.grantable}`) : []);
  for (const grant of grants) {
    if (targetGrants.has(`${grant.grantee}|${grant.privilege}|${grant.grantable}`)) continue;
    steps.push(step(`grant ${grant.privilege} on ${names.partitioned.name} to ${grant.grantee}, as on ${label}`, `GRANT ${grant.privilege} ON ${target} TO ${grant.grantee}${grant.grantable ? ' WITH GRANT OPTION' : ''}`));
  }

  // Months: every month the data spans, and the current month through premake.
  const now = currentMonth(settings.timeZone, caps.server.now);
  const span = await dataMonths(db, inspection);
  const first = span && span.first.year * 12 + span.first.month < now.year * 12 + now.month ? span.first : now;
  const premade = addMonths(now, settings.premake);
  const last = span && span.last.year * 12 + span.last.month > premade.year * 12 + premade.month ? span.last : premade;
  const wanted = monthsBetween(first, last);
  if (wanted.length > MAX_PREP_MONTHS) {
    throw new MissingCapabilityError(
      `${label}.${column} spans ${monthKey(first)} to ${monthKey(last)}: ${wanted.length} months, more than ${MAX_PREP_MONTHS} (nothing was changed).`,
      `Look for bogus values (SELECT min(${control}), max(${control}) FROM ${table.quoted}) and fix them; rows outside the months go to the default partition.`,
    );
  }
  const partitions = existing ? await listPartitions(db, names.partitioned, settings.timeZone, controlType) : [];
  const covered = new Set(partitions.map(coveredMonth).filter((key): key is string => key !== undefined));
  const months = wanted.filter((month) => !covered.has(monthKey(month)));
  const collisions: string[] = [];
  for (const month of months) {
    const child = childName(names.table.name, month, strategy, partmanMajor);
    checkDerivedName(child, 'Partition name');
    const [taken] = await db.query<{ taken: boolean }>('SELECT to_regclass($1) IS NOT NULL AS taken', [quoteQualified({ schema: names.table.schema, name: child })]);
    if (taken?.taken) collisions.push(child);
    steps.push(
      step(
        `partition ${child}: ${monthKey(month)} of ${names.partitioned.name} (${settings.timeZone})`,
        `CREATE TABLE ${quoteQualified({ schema: names.table.schema, name: child })} PARTITION OF ${target} FOR VALUES FROM (${quoteLiteral(boundLiteral(month, controlType))}) TO (${quoteLiteral(boundLiteral(addMonths(month, 1), controlType))})`,
        { timeZone: settings.timeZone },
      ),
    );
  }
  const defaultName = `${names.table.name}_default`;
  checkDerivedName(defaultName, 'Default partition name');
  if (!partitions.some((partition) => partition.isDefault)) {
    const [taken] = await db.query<{ taken: boolean }>('SELECT to_regclass($1) IS NOT NULL AS taken', [quoteQualified({ schema: names.table.schema, name: defaultName })]);
    if (taken?.taken) collisions.push(defaultName);
    steps.push(step(`default partition ${defaultName} of ${names.partitioned.name} (rows outside every month)`, `CREATE TABLE ${quoteQualified({ schema: names.table.schema, name: defaultName })} PARTITION OF ${target} DEFAULT`));
  }
  if (collisions.length > 0) {
    throw new ConflictError(`These names are taken by other relations in schema ${names.table.schema}: ${collisions.join(', ')} (nothing was changed).`, 'Rename or drop them; partkit gives the partitions their final names now, so that provision adopts them after the swap.');
  }

  // User triggers, recreated on the copy but disabled until the swap: fill and replay copy rows
  // as they are, and a BEFORE INSERT trigger must not rewrite them on the way.
  const userTriggers = await readUserTriggers(db, table.oid);
  if (distributionColumn !== null && userTriggers.length > 0) {
    throw new MissingCapabilityError(
      `${label} has triggers (${userTriggers.map((t) => t.name).join(', ')}); Citus runs a distributed table's triggers on each shard, only with citus.enable_unsafe_triggers, and partkit does not move them there for you (nothing was changed).`,
      'Drop them, migrate, and create them on the distributed table afterwards (or keep the table local: remove "distribution" from the config).',
    );
  }
  const targetTriggers = new Set(existing ? (await readUserTriggers(db, existing.oid)).map((t) => t.name) : []);
  for (const trigger of userTriggers) {
    if (targetTriggers.has(trigger.name)) continue;
    const definition = retargetTrigger(trigger.definition, table.quoted, target);
    if (definition === undefined) {
      warnings.push(`trigger ${trigger.name} could not be recreated (${trigger.definition}); create it on ${names.partitioned.name} by hand, disabled, before the swap.`);
      continue;
    }
    steps.push(step(`trigger ${trigger.name} on ${names.partitioned.name}, like on ${label} (disabled until the swap enables it)`, definition));
    steps.push(step(`disable trigger ${trigger.name} on ${names.partitioned.name} until the swap`, `ALTER TABLE ${target} DISABLE TRIGGER ${quoteIdent(trigger.name)}`));
    notes.push(`trigger ${trigger.name} recreated on ${names.partitioned.name}, disabled; the swap enables it there and disables it on ${names.retired.name}.`);
  }

  // Citus: the copy is distributed now, empty (its months follow it); fill, replay and swap write
  // into it through the coordinator.
  if (distributionColumn !== null && existing?.distributedBy !== distributionColumn) {
    if (existing && existing.distributedBy !== null) {
      throw new ConflictError(
        `${existing.label} is distributed by ${existing.distributedBy}, but the config distributes ${label} by ${distributionColumn} (nothing was changed).`,
        `Drop ${existing.label} (it holds only copied rows) and run ${partkitCommand(['migrate', 'prep', label])} again, or change "distribution" in the config.`,
      );
    }
    steps.unshift(citusSequentialStep(group, label));
    steps.push(
      step(
        `distribute ${names.partitioned.name} by ${distributionColumn} across the Citus workers (colocate_with ${settings.distribution!.colocateWith}); its months follow it`,
        'SELECT create_distributed_table($1, $2, colocate_with => $3)',
        { params: [target, distributionColumn, colocateArgument(settings.distribution!.colocateWith)] },
      ),
    );
  }

  // Change capture, from now until drop: the fill and the swap replay every recorded key. On Citus
  // the key includes the distribution column, so that a replay finds a key's rows on one worker.
  const capture = captureName(names);
  if (!(await readCapture(db, capture)).exists) {
    const keyNames = [...new Set([...pk.keyNames, ...(distributionColumn === null ? [] : [distributionColumn])])];
    const keyColumns = keyNames.map((name) => columns.find((c) => c.name === name)!);
    steps.push(...createCaptureSteps({ capture, key: keyColumns, live: table.quoted, distributedBy: null, state: { after: null, done: false, rowsCopied: 0 }, group, table: label }));
    notes.push(`changes to ${label} are captured from now on (keys in ${capture.schema}.${capture.name}); fill and swap replay them, so writers may keep writing.`);
  }

  for (const fk of incoming) {
    warnings.push(`foreign key ${fk.name} (${fk.definition}) will be dropped by \`${partkitCommand(['migrate', 'swap', label, '--foreign-keys', 'drop'])}\`, which prints and saves the DDL to recreate it against (${pkAfter.join(', ')}) with MATCH FULL.`);
  }
  if (incoming.length > 0) warnings.push(foreignKeyConsequences(label, pkAfter, column, settings.retention));
  const [identity] = await db.query<{ replident: string }>('SELECT relreplident::text AS replident FROM pg_class WHERE oid = $1::oid', [table.oid]);
  if (identity && identity.replident !== 'd') {
    throw new MissingCapabilityError(
      `${label} has REPLICA IDENTITY ${identity.replident === 'f' ? 'FULL' : identity.replident === 'n' ? 'NOTHING' : 'USING INDEX'}; partkit does not carry it to a partitioned table (nothing was changed).`,
      `Set it back (ALTER TABLE ${table.quoted} REPLICA IDENTITY DEFAULT), migrate, then set it on the new table and its partitions.`,
    );
  }
  // Row-level security: the policies and the ENABLE/FORCE flags, as on the original.
  const policies = await db.query<{ name: string; permissive: string; roles: string[]; cmd: string; qual: string | null; with_check: string | null }>(
    `SELECT policyname::text AS name, permissive, roles::text[] AS roles, cmd, qual, with_check FROM pg_policies WHERE schemaname = $1 AND tablename = $2 ORDER BY policyname`,
    [names.table.schema, names.table.name],
  );
  const targetPolicies = new Set(existing ? (await db.query<{ name: string }>(`SELECT policyname::text AS name FROM pg_policies WHERE schemaname = $1 AND tablename = $2`, [names.partitioned.schema, names.partitioned.name])).map((p) => p.name) : []);
  for (const policy of policies) {
    if (targetPolicies.has(policy.name)) continue;
    const roles = policy.roles.map((role) => (role === 'public' ? 'PUBLIC' : quoteIdent(role))).join(', ');
    steps.push(
      step(
        `policy ${policy.name} on ${names.partitioned.name}, as on ${label}`,
        `CREATE POLICY ${quoteIdent(policy.name)} ON ${target} AS ${policy.permissive} FOR ${policy.cmd} TO ${roles}${policy.qual ? ` USING (${policy.qual})` : ''}${policy.with_check ? ` WITH CHECK (${policy.with_check})` : ''}`,
      ),
    );
  }
  const [security] = await db.query<{ enabled: boolean; forced: boolean }>('SELECT relrowsecurity AS enabled, relforcerowsecurity AS forced FROM pg_class WHERE oid = $1::oid', [table.oid]);
  if (security?.enabled) steps.push(step(`row-level security enabled on ${names.partitioned.name}, as on ${label}`, `ALTER TABLE ${target} ENABLE ROW LEVEL SECURITY`));
  if (security?.forced) steps.push(step(`row-level security forced on ${names.partitioned.name}, as on ${label}`, `ALTER TABLE ${target} FORCE ROW LEVEL SECURITY`));

  if (distributionColumn !== null) notes.push(citusMigrationNote(settings, label));
  notes.push(
    `registration is left to \`partkit provision\` after \`${partkitCommand(['migrate', 'swap', label])}\`: pg_partman and partkit record tables by name, and the swap renames ${names.partitioned.name} to ${names.table.name}. Children are named for strategy ${strategy} so that provision adopts them.`,
  );
  if (!inspection.configured) warnings.push(`${label} is not in the config (${config.source}); built-in defaults were used (control column ${column}, premake ${settings.premake}, ${settings.timeZone}). Add it to the config before \`partkit provision\`.`);
  // The swap recreates plain views on the new table (CREATE OR REPLACE keeps owner and grants); a materialized view it cannot.
  for (const view of await readViews(db, table.oid)) {
    if (view.relkind === 'v') notes.push(`view ${view.name} reads ${label}; the swap recreates it to read the new ${label} (owner, grants and options kept).`);
    else warnings.push(`materialized view ${view.name} reads ${label}; after the swap it still reads the original (${names.retired.name}): recreate it on the new ${label} then.`);
  }
  if (table.publications.length > 0) warnings.push(`${label} is in publication(s) ${table.publications.join(', ')}; add ${names.partitioned.name} to them after the swap.`);
  if (!table.control.indexed) warnings.push(`no index on ${label} starts with ${column}: the swap's catch-up (rows newer than the fill) will scan the whole table while holding its lock. Consider CREATE INDEX CONCURRENTLY ON ${table.quoted} (${control}); before the swap.`);
  for (const col of columns) {
    if (col.sequence?.dependency === 'i') notes.push(`identity column ${col.name}: ${names.partitioned.name} gets its own identity sequence; the swap sets it past the highest ${col.name} (pitfall 10).`);
    else if (col.sequence) notes.push(`column ${col.name} draws from sequence ${col.sequence.name.schema}.${col.sequence.name.name}, shared by both tables; the swap makes the new table its owner so dropping the original keeps it (pitfall 10).`);
  }

  const archive = await monthsToArchive(db, fromClause(table), settings, controlType);
  (archive.length > 0 ? warnings : notes).push(describeArchive(archive, settings.retention, label));
  return { inspection, strategy, steps, months: months.map(monthKey), primaryKey: { before: pk.keyNames, after: pkAfter, widened }, notes, warnings, archive };
}

/** Triggers the user made on a table (not partkit's capture triggers, not constraint triggers). */
export async function readUserTriggers(db: Database, oid: number): Promise<{ name: string; definition: string; enabled: string }[]> {
  return db.query<{ name: string; definition: string; enabled: string }>(
    `SELECT tgname::text AS name, pg_get_triggerdef(oid) AS definition, tgenabled::text AS enabled FROM pg_trigger
      WHERE tgrelid = $1::oid AND NOT tgisinternal AND tgparentid = 0 AND tgname <> ALL ($2::text[]) ORDER BY tgname`,
    [oid, Object.values(CAPTURE_TRIGGERS)],
  );
}

/** pg_get_triggerdef's text with the table replaced: `... ON <table> ...` names it exactly once. */
export function retargetTrigger(definition: string, source: string, target: string): string | undefined {
  const marker = ` ON ${source} `;
  const at = definition.indexOf(marker);
  if (at < 0 || definition.indexOf(marker, at + 1) >= 0) return undefined;
  return `${definition.slice(0, at)} ON ${target} ${definition.slice(at + marker.length)}`;
}

/** quote_ident as the server does it, so recreated index definitions compare equal to pg_get_indexdef. */
async function quoteIdentOnServer(db: Database, identifier: string): Promise<string> {
  const [row] = await db.query<{ quoted: string }>('SELECT quote_ident($1) AS quoted', [identifier]);
  return row!.quoted;
}

export interface PrepResult {
  readonly table: string;
  /** The table as SQL writes it (quoted where needed): the form partkit's commands take. */
  readonly sqlName: string;
  readonly partitioned: string;
  readonly strategy: Strategy;
  readonly months: readonly string[];
  readonly primaryKey: PrepPlan['primaryKey'];
  readonly archive: readonly MonthToArchive[];
  readonly notes: readonly string[];
  readonly warnings: readonly string[];
  readonly steps: readonly string[];
  readonly changes: number;
  readonly dryRun: boolean;
  readonly sql?: string;
}

export async function prep(db: Database, config: Config, input: string, options: PrepOptions & { dryRun?: boolean | undefined } = {}): Promise<PrepResult> {
  return underRunLock(db, options, () => prepLocked(db, config, input, options));
}

async function prepLocked(db: Database, config: Config, input: string, options: PrepOptions & { dryRun?: boolean | undefined }): Promise<PrepResult> {
  const planned = await planPrep(db, config, input, options);
  const { names } = planned.inspection;
  const result = {
    table: displayName(names.table),
    sqlName: displayName(names.table),
    partitioned: displayName(names.partitioned),
    strategy: planned.strategy,
    months: planned.months,
    primaryKey: planned.primaryKey,
    archive: planned.archive,
    notes: planned.notes,
    warnings: planned.warnings,
    steps: planned.steps.map((step) => step.description),
    changes: planned.steps.length,
    dryRun: options.dryRun ?? false,
  };
  const outcome = await run(db, { steps: planned.steps }, { dryRun: options.dryRun ?? false });
  return outcome.dryRun ? { ...result, sql: outcome.sql } : result;
}

export function renderPrep(result: PrepResult): string {
  if (result.sql !== undefined) return result.sql;
  const lines = [
    result.changes === 0
      ? `${result.partitioned} is ready: nothing to change.`
      : `${result.partitioned} prepared for ${result.table} (${result.changes} step(s), strategy ${result.strategy} naming)${result.months.length > 0 ? `: months ${result.months[0]} to ${result.months.at(-1)} + default` : ''}`,
    `  primary key: (${result.primaryKey.after.join(', ')})${result.primaryKey.widened ? ` (widened from (${result.primaryKey.before.join(', ')}))` : ''}`,
  ];
  for (const note of result.notes) lines.push(`  note: ${note}`);
  for (const warning of result.warnings) lines.push(`  warning: ${warning}`);
  lines.push(`next: ${partkitCommand(['migrate', 'fill', result.sqlName])}`);
  return lines.join('\n');
}
