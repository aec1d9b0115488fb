/**
 * migrate prep: the copy's primary key and indexes. A unique index on a partitioned table must
 * contain the partition key (pitfall 4), and on Citus the distribution column too: the primary key
 * and plain-column unique btree indexes are widened, other unique indexes become plain ones.
 */
import { quoteIdent } from '../core/identifiers.js';
import type { Index } from './inspect.js';
import { emptyPart, type PrepContext, type PrepPart } from './prep-part.js';

export interface PrimaryKeyPlan {
  readonly before: readonly string[];
  readonly after: readonly string[];
  readonly widened: boolean;
}

/** The copy's primary key: the original's, plus the control column and the distribution column. */
export function primaryKeyPlan(pk: Index, column: string, distributionColumn: string | null): PrimaryKeyPlan {
  const after = [...new Set([...pk.keyNames, column, ...(distributionColumn === null ? [] : [distributionColumn])])];
  return { before: pk.keyNames, after, widened: after.length !== pk.keyNames.length };
}

/** The primary key step (unless the copy has one) and the note when it was widened. */
export function planPrimaryKey(context: PrepContext, key: PrimaryKeyPlan): PrepPart {
  const { names, column, target, step, copy } = context;
  const part = emptyPart();
  if (!(copy?.indexes ?? []).some((index) => index.isPrimary)) {
    part.steps.push(
      step(
        `primary key of ${names.partitioned.name}: (${key.after.join(', ')})${key.widened ? ` (widened from (${key.before.join(', ')}): a partitioned table's primary key must include ${column})` : ''}`,
        `ALTER TABLE ${target} ADD PRIMARY KEY (${key.after.map(quoteIdent).join(', ')})`,
      ),
    );
  }
  if (key.widened) {
    part.notes.push(`primary key widened from (${key.before.join(', ')}) to (${key.after.join(', ')}): PostgreSQL requires the partition key in it, so ${key.before.join(', ')} alone is no longer enforced unique across months (generated values such as gen_random_uuid() or a sequence stay unique in practice).`);
  }
  return part;
}

/** The original's other indexes on the copy (those it lacks), then a time index if neither has one. */
export function planIndexes(context: PrepContext): PrepPart {
  const { names, column, target, step, copy, distributionColumn, source, label } = context;
  const part = emptyPart();
  const copyIndexes = copy?.indexes ?? [];
  const copyMethods = new Set(copyIndexes.map((index) => `${index.isUnique ? 'unique ' : ''}${index.method ?? index.definition}`));
  for (const index of source.indexes) {
    if (index.isPrimary) continue;
    if (index.constraintType === 'x') {
      part.warnings.push(`exclusion constraint ${index.name} is not recreated (a partitioned table's exclusion constraint must use the partition key with =); add one by hand if you need it.`);
      continue;
    }
    if (index.method === undefined) {
      part.warnings.push(`index ${index.name} was not recreated: its definition could not be read (${index.definition}); create it on ${names.partitioned.name} by hand.`);
      continue;
    }
    let unique = index.isUnique;
    let method = index.method;
    // A unique index must contain the partition key, and on Citus the distribution column too.
    const missing = [column, ...(distributionColumn === null ? [] : [distributionColumn])].filter((name, i, all) => !index.keyNames.includes(name) && all.indexOf(name) === i);
    if (unique && missing.length > 0) {
      if (index.hasExpressions || index.isPartial || !/^btree \(/.test(method)) {
        unique = false;
        part.warnings.push(`unique index ${index.name} (${index.definition}) is recreated as a plain index: a unique index on a partitioned${distributionColumn === null ? '' : ', distributed'} table must contain ${missing.join(' and ')} and no expressions.`);
      } else {
        // Quoted as the server quotes them, so that the definition compares equal to pg_get_indexdef on a rerun.
        const added = missing.map((name) => quotedOnServer(source.quotedOnServer, name));
        method = `btree (${[...index.keyColumns, ...added].join(', ')})${method.replace(/^btree \([^)]*\)/, '')}`;
        part.notes.push(`unique index ${index.name} widened to (${[...index.keyNames, ...missing].join(', ')}): uniqueness of (${index.keyNames.join(', ')}) alone is no longer enforced across months${distributionColumn === null ? '' : ' and workers'}.`);
      }
    }
    const signature = `${unique ? 'unique ' : ''}${method}`;
    if (copyMethods.has(signature)) continue;
    copyMethods.add(signature);
    part.steps.push(step(`index on ${names.partitioned.name} like ${index.name}: ${unique ? 'UNIQUE ' : ''}${method}`, `CREATE ${unique ? 'UNIQUE ' : ''}INDEX ON ${target} USING ${method}`));
  }

  // The time index (issue 11): without one, a time range or a newest-N page reads whole months.
  if (![...source.indexes, ...copyIndexes].some((index) => index.keyNames[0] === column)) {
    part.steps.push(step(`time index on ${names.partitioned.name} (${column}): ${label} has no index leading with it`, `CREATE INDEX ON ${target} (${quoteIdent(column)})`));
    part.notes.push(`${label} has no index leading with ${column}, so ${names.partitioned.name} gets one, btree (${column}), on every month: time ranges and newest-N pages then read an index instead of whole months.`);
  }
  return part;
}

function quotedOnServer(quoted: ReadonlyMap<string, string>, name: string): string {
  const found = quoted.get(name);
  if (found === undefined) throw new Error(`internal: the snapshot has no quote_ident of ${name}`);
  return found;
}
