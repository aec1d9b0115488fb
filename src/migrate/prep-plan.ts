/**
 * migrate prep's planner: a pure function of what readPrepState read (prep-state.ts), the config
 * and the options. It returns the steps that make `<table>_partitioned` with its keys, indexes,
 * months, copied foreign keys, grants, triggers, policies, the capture and (on Citus) the
 * distribution, with the notes and warnings to print; or it refuses, before anything changes,
 * with the typed error that says what to do. Nothing here reads the server.
 */
import { decide } from '../strategies/index.js';
import type { Config, Strategy } from '../core/config.js';
import { ConflictError, MissingCapabilityError } from '../core/errors.js';
import { quoteIdent, quoteQualified } from '../core/identifiers.js';
import { monthKey } from '../core/partitions.js';
import type { SqlStep } from '../core/plan.js';
import { partkitCommand } from '../core/shell.js';
import { citusMigrationNote, migrationDistributionColumn } from '../citus/provision.js';
import { checkControlColumn, foreignKeyConsequences, primaryKey, type MigrationInspection } from './inspect.js';
import { planCapture } from './prep-capture.js';
import { checkCitusForeignKeys, checkCitusTriggers, planDistribution } from './prep-citus.js';
import { planForeignKeys, planGrants, planRowSecurity, planTriggers } from './prep-copies.js';
import { planIndexes, planPrimaryKey, primaryKeyPlan, type PrimaryKeyPlan } from './prep-keys.js';
import { planMonths } from './prep-months.js';
import { emptyPart, stepMaker, type PrepContext, type PrepPart } from './prep-part.js';
import { isRangeCopy, type PrepState, type SourceState } from './prep-state.js';
import { describeArchive, type MonthToArchive } from './retention.js';

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
  readonly primaryKey: PrimaryKeyPlan;
  readonly notes: readonly string[];
  readonly warnings: readonly string[];
  /** Months the first maintenance after the migration archives under the current retention. */
  readonly archive: readonly MonthToArchive[];
}

/** Refusals shared by prep: each says what to do and that nothing changed. Past them, the snapshot has the source's facts. */
function checkSource(state: PrepState): SourceState {
  const { inspection, source } = state;
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
  if (!source) throw new Error(`internal: the snapshot of ${table.label} has no facts of the table`);
  return source;
}

/** Notes and warnings about what prep leaves to others: registration, views, publications, sequences, retention. */
function aftermath(context: PrepContext, state: PrepState, config: Config, strategy: Strategy): PrepPart {
  const { names, settings, configured } = state.inspection;
  const { table, source, label, column } = context;
  const part = emptyPart();
  if (context.distributionColumn !== null) part.notes.push(citusMigrationNote(settings, label));
  part.notes.push(
    `registration is left to \`partkit provision\` after \`${partkitCommand(['migrate', 'swap', label])}\`: pg_partman and partkit record tables by name, and the swap renames ${names.partitioned.name} to ${names.table.name}. Children are named for strategy ${strategy} so that provision adopts them.`,
  );
  if (!configured) part.warnings.push(`${label} is not in the config (${config.source}); built-in defaults were used (control column ${column}, premake ${settings.premake}, ${settings.timeZone}). Add it to the config before \`partkit provision\`.`);
  // The swap recreates plain views on the new table (CREATE OR REPLACE keeps owner and grants); a materialized view it cannot.
  for (const view of source.views) {
    if (view.relkind === 'v') part.notes.push(`view ${view.name} reads ${label}; the swap recreates it to read the new ${label} (owner, grants and options kept).`);
    else part.warnings.push(`materialized view ${view.name} reads ${label}; after the swap it still reads the original (${names.retired.name}): recreate it on the new ${label} then.`);
  }
  if (table.publications.length > 0) part.warnings.push(`${label} is in publication(s) ${table.publications.join(', ')}; add ${names.partitioned.name} to them after the swap.`);
  if (!table.control.indexed) part.warnings.push(`no index on ${label} starts with ${column}: the swap's catch-up (rows newer than the fill) will scan the whole table while holding its lock. Consider CREATE INDEX CONCURRENTLY ON ${table.quoted} (${quoteIdent(column)}); before the swap.`);
  for (const col of source.columns) {
    if (col.sequence?.dependency === 'i') part.notes.push(`identity column ${col.name}: ${names.partitioned.name} gets its own identity sequence; the swap sets it past the highest ${col.name} (pitfall 10).`);
    else if (col.sequence) part.notes.push(`column ${col.name} draws from sequence ${col.sequence.name.schema}.${col.sequence.name.name}, shared by both tables; the swap makes the new table its owner so dropping the original keeps it (pitfall 10).`);
  }
  (source.archive.length > 0 ? part.warnings : part.notes).push(describeArchive(source.archive, settings.retention, label));
  return part;
}

function replicaIdentityRefusal(context: PrepContext): void {
  const { source, label, table } = context;
  if (source.replicaIdentity === 'd') return;
  throw new MissingCapabilityError(
    `${label} has REPLICA IDENTITY ${source.replicaIdentity === 'f' ? 'FULL' : source.replicaIdentity === 'n' ? 'NOTHING' : 'USING INDEX'}; partkit does not carry it to a partitioned table (nothing was changed).`,
    `Set it back (ALTER TABLE ${table.quoted} REPLICA IDENTITY DEFAULT), migrate, then set it on the new table and its partitions.`,
  );
}

export function planPrep(state: PrepState, config: Config, options: PrepOptions = {}): PrepPlan {
  const source = checkSource(state);
  const { inspection } = state;
  const table = inspection.table!;
  const { settings, names } = inspection;
  const label = table.label;
  const column = settings.controlColumn;

  const pk = primaryKey(source.indexes);
  if (!pk) {
    throw new MissingCapabilityError(`${label} has no primary key (nothing was changed).`, 'partkit migrate fill copies in primary-key order and skips rows already copied by it; add a primary key first.');
  }
  const incoming = source.dependents.filter((d) => d.kind === 'foreign key');
  const keyWithControl = [...pk.keyNames, ...(pk.keyNames.includes(column) ? [] : [column])];
  if (incoming.length > 0 && options.foreignKeys !== 'drop') {
    throw new MissingCapabilityError(
      `Foreign keys point at ${label}, and they would keep pointing at the original after the swap (nothing was changed):\n${incoming.map((fk) => `  ${fk.name}: ${fk.definition}`).join('\n')}\n${foreignKeyConsequences(label, keyWithControl, column, settings.retention)}`,
      `${partkitCommand(['migrate', 'prep', label, '--foreign-keys', 'drop'])} (and the same option for swap), or drop them first: ALTER TABLE <referencing table> DROP CONSTRAINT <name>`,
    );
  }

  const { caps } = source;
  const strategy = decide(caps, config, options.strategy ?? config.strategy).strategy;
  const partman = caps.extensions.pg_partman;
  const partmanMajor = Number.parseInt(partman.version ?? partman.defaultVersion ?? '5', 10) || 5;

  const existing = inspection.partitioned;
  if (existing && !isRangeCopy(existing, column)) {
    throw new ConflictError(
      `${existing.label} exists but is not partitioned by RANGE (${column}) (nothing was changed).`,
      `It is not partkit's: drop or rename it, then run ${partkitCommand(['migrate', 'prep', label])} again.`,
    );
  }

  const group = `migrate prep ${label}`;
  const step = stepMaker(label, group);
  const target = quoteQualified(names.partitioned);
  const create = existing
    ? []
    : [
        step(
          `create ${names.partitioned.name} like ${label} (columns, defaults, NOT NULL, CHECK, identity, storage, comments, generated columns), partitioned by range (${column})`,
          `CREATE TABLE ${target} (LIKE ${table.quoted} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (${quoteIdent(column)})`,
        ),
      ];
  // Pitfall 4: a unique index on a partitioned table must contain the partition key.
  // Citus: a distributed table's primary key must include its distribution column as well.
  const distributionColumn = migrationDistributionColumn(caps, settings, label);
  const context: PrepContext = { names, settings, table, source, copy: source.copy, label, column, target, distributionColumn, step };
  const key = primaryKeyPlan(pk, column, distributionColumn);

  // The order of the sections is the order of the plan; a refusal in one comes before any later section.
  const parts: PrepPart[] = [{ ...emptyPart(), steps: create }, planPrimaryKey(context, key), planIndexes(context)];
  checkCitusForeignKeys(context);
  parts.push(planForeignKeys(context), planGrants(context));
  const months = planMonths(context, strategy, partmanMajor, table.control.type!);
  parts.push(months);
  checkCitusTriggers(context);
  parts.push(planTriggers(context));
  const distribution = planDistribution(context, existing, group);
  parts.push(distribution, planCapture(context, pk, group));
  const warnings = emptyPart();
  for (const fk of incoming) {
    warnings.warnings.push(`foreign key ${fk.name} (${fk.definition}) will be dropped by \`${partkitCommand(['migrate', 'swap', label, '--foreign-keys', 'drop'])}\`, which prints and saves the DDL to recreate it against (${key.after.join(', ')}) with MATCH FULL.`);
  }
  if (incoming.length > 0) warnings.warnings.push(foreignKeyConsequences(label, key.after, column, settings.retention));
  parts.push(warnings);
  replicaIdentityRefusal(context);
  parts.push(planRowSecurity(context), aftermath(context, state, config, strategy));

  return {
    inspection,
    strategy,
    steps: [...distribution.first, ...parts.flatMap((part) => part.steps)],
    months: months.months.map(monthKey),
    primaryKey: key,
    notes: parts.flatMap((part) => part.notes),
    warnings: parts.flatMap((part) => part.warnings),
    archive: source.archive,
  };
}
