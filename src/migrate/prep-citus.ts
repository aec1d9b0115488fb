/**
 * migrate prep on Citus: the copy is distributed now, empty (its months follow it); fill, replay
 * and swap write into it through the coordinator. What Citus does not allow a distributed table
 * (foreign keys to local tables, triggers without citus.enable_unsafe_triggers) is refused first.
 */
import { citusSequentialStep } from './capture.js';
import { colocateArgument } from '../citus/provision.js';
import { ConflictError, MissingCapabilityError } from '../core/errors.js';
import { partkitCommand } from '../core/shell.js';
import type { Relation } from './inspect.js';
import { emptyPart, type PrepContext, type PrepPart } from './prep-part.js';

export function checkCitusForeignKeys(context: PrepContext): void {
  const { distributionColumn, source, label, table } = context;
  if (distributionColumn === null || source.foreignKeys.length === 0) return;
  throw new MissingCapabilityError(
    `${label} has foreign keys to other tables, and Citus allows a distributed table's foreign keys only to reference tables or co-located distributed tables by the distribution column (nothing was changed):\n${source.foreignKeys.map((fk) => `  ${fk.name}: ${fk.definition}`).join('\n')}`,
    `Distribute or replicate the referenced tables first (create_reference_table / create_distributed_table), or drop these foreign keys (ALTER TABLE ${table.quoted} DROP CONSTRAINT <name>), then run prep again.`,
  );
}

export function checkCitusTriggers(context: PrepContext): void {
  const { distributionColumn, source, label } = context;
  if (distributionColumn === null || source.triggers.length === 0) return;
  throw new MissingCapabilityError(
    `${label} has triggers (${source.triggers.map((t) => t.name).join(', ')}); Citus runs a distributed table's triggers on each shard, only with citus.enable_unsafe_triggers, and partkit does not move them there for you (nothing was changed).`,
    'Drop them, migrate, and create them on the distributed table afterwards (or keep the table local: remove "distribution" from the config).',
  );
}

/**
 * The distribution of the copy, unless it is distributed by that column already: `first` goes
 * before every other step of the plan (Citus' sequential mode for the DDL), `steps` after the triggers.
 */
export function planDistribution(context: PrepContext, existing: Relation | undefined, group: string): PrepPart & { first: PrepPart['steps'] } {
  const { distributionColumn, names, settings, label, target, step } = context;
  const part = emptyPart();
  if (distributionColumn === null || existing?.distributedBy === distributionColumn) return { ...part, first: [] };
  if (existing && existing.distributedBy !== null) {
    throw new ConflictError(
      `${existing.label} is distributed by ${existing.distributedBy}, but the config distributes ${label} by ${distributionColumn} (nothing was changed).`,
      `Drop ${existing.label} (it holds only copied rows) and run ${partkitCommand(['migrate', 'prep', label])} again, or change "distribution" in the config.`,
    );
  }
  part.steps.push(
    step(
      `distribute ${names.partitioned.name} by ${distributionColumn} across the Citus workers (colocate_with ${settings.distribution!.colocateWith}); its months follow it`,
      'SELECT create_distributed_table($1, $2, colocate_with => $3)',
      { params: [target, distributionColumn, colocateArgument(settings.distribution!.colocateWith)] },
    ),
  );
  return { ...part, first: [citusSequentialStep(group, label)] };
}
