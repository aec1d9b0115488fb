/**
 * Whether a lookup by id alone prunes: what `WHERE id = $1` opens on a partitioned table, read
 * from EXPLAIN of the statement as an application sends it (a bound parameter of an unnamed
 * statement, planned with its value). Tables with time-ordered ids carry an id range in every
 * month (sql/kit/add_id_range.sql), from which the planner skips the other months; doctor and
 * verify report it.
 */
import type { Database } from '../core/db.js';
import { displayName, quoteQualified, type QualifiedName } from '../core/identifiers.js';

export interface IdLookup {
  /** Partitions `WHERE id = $1` opens, for an id made now (the current month's). */
  readonly opened: number;
  /** Attached partitions, the default included. */
  readonly partitions: number;
  /** Months (not the default) without an id range, by name. */
  readonly monthsWithoutRange: readonly string[];
}

/** A UUIDv7 of a moment (its 48-bit time, version 7, the rest zero): an id that moment's month holds. */
export function uuidV7Of(at: Date): string {
  const hex = Math.floor(at.getTime()).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

interface PlanNode {
  readonly 'Relation Name'?: string;
  readonly Plans?: readonly PlanNode[];
}

function relations(node: PlanNode, found: Set<string>): Set<string> {
  if (node['Relation Name'] !== undefined) found.add(node['Relation Name']);
  for (const child of node.Plans ?? []) relations(child, found);
  return found;
}

/**
 * What `WHERE id = $1` opens on `table`, or null when the table has no `id uuid` column or is not
 * partitioned. `now` is the server's clock (the probe is an id of its month).
 */
export async function readIdLookup(db: Database, table: QualifiedName, now: Date): Promise<IdLookup | null> {
  const [shape] = await db.query<{ has_id: boolean; partitioned: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'id' AND NOT a.attisdropped AND a.atttypid = 'uuid'::regtype) AS has_id,
            c.relkind = 'p' AS partitioned
       FROM pg_class c WHERE c.oid = to_regclass($1)`,
    [quoteQualified(table)],
  );
  if (!shape?.has_id || !shape.partitioned) return null;
  const [plan] = await db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) SELECT 1 FROM ${quoteQualified(table)} WHERE id = $1`, [uuidV7Of(now)]);
  const months = await db.query<{ schema: string; name: string; has_range: boolean; is_default: boolean }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.oid = pt.partdefid AS is_default,
            EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.conname = 'partkit_id_range') AS has_range
       FROM pg_partition_tree(to_regclass($1)) t
       JOIN pg_class c ON c.oid = t.relid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_partitioned_table pt ON pt.partrelid = to_regclass($1)
      WHERE t.isleaf
      ORDER BY c.relname`,
    [quoteQualified(table)],
  );
  return {
    opened: relations(plan!['QUERY PLAN'][0]!.Plan, new Set()).size,
    partitions: months.length,
    monthsWithoutRange: months.filter((m) => !m.is_default && !m.has_range).map((m) => displayName(m)),
  };
}

/** One line for people: what a lookup by id alone opens, and why. */
export function describeIdLookup(lookup: IdLookup, idRanges: boolean): string {
  const opens = `WHERE id = $1 opens ${lookup.opened} of ${lookup.partitions} partitions`;
  if (lookup.opened <= 2) return `id lookups prune: ${opens} (its month${lookup.opened === 2 ? ' and the default' : ''})`;
  if (!idRanges) return `id lookups do not prune: ${opens}; the ids are not time-ordered (a table partkit did not create, or "ids": "random"): give id lookups a created_at range`;
  const missing = lookup.monthsWithoutRange;
  return `id lookups do not prune: ${opens}; ${missing.length} month(s) have no id range (${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ' and more' : ''}): \`partkit maintain\` adds it to empty months; a month holding rows whose ids lie outside it keeps none`;
}
