/**
 * The pieces migrate prep's planner (prep-plan.ts) puts together: each section of the plan (keys,
 * months, what is copied from the original, capture, Citus) is a pure function that returns its
 * steps, notes and warnings, in the order the plan lists them. The sections share the context.
 */
import type { TableConfig } from '../core/config.js';
import { sqlStep, type SqlStep } from '../core/plan.js';
import type { MigrationNames, Relation } from './inspect.js';
import type { CopyState, SourceState } from './prep-state.js';

export interface PrepPart {
  readonly steps: SqlStep[];
  readonly notes: string[];
  readonly warnings: string[];
}

export function emptyPart(): PrepPart {
  return { steps: [], notes: [], warnings: [] };
}

/** What every section plans from. */
export interface PrepContext {
  readonly names: MigrationNames;
  readonly settings: TableConfig;
  readonly table: Relation;
  readonly source: SourceState;
  readonly copy: CopyState | undefined;
  /** The table as the messages name it. */
  readonly label: string;
  /** The control column (the partition key). */
  readonly column: string;
  /** `<table>_partitioned`, quoted and qualified. */
  readonly target: string;
  /** The Citus distribution column of the copy, or null for a local copy. */
  readonly distributionColumn: string | null;
  /** One step of the plan, in its group, for its table. */
  readonly step: (description: string, sql: string, extra?: Partial<SqlStep>) => SqlStep;
}

export function stepMaker(label: string, group: string): PrepContext['step'] {
  return (description, sql, extra = {}) => sqlStep(description, sql, { table: label, group, ...extra });
}
