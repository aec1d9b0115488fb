/**
 * The two ways partkit manages partitions, behind one interface. The choice and its reason
 * come from capabilities (`decide`); provision asks the chosen strategy for its steps.
 */
import type { Capabilities, Decision, TableState } from '../core/capabilities.js';
import type { Config, Strategy, TableConfig } from '../core/config.js';
import type { ControlType, Partition } from '../core/partitions.js';
import type { ManagedTable, PartmanConfig } from '../core/checks/state.js';
import type { Step } from '../core/plan.js';

/** The kit's own record of a table (`<kit>.managed_table`), the columns provision sets. */
export type ManagedRow = Omit<ManagedTable, 'registeredAt' | 'strategy'> & { readonly strategy: Strategy };

/** pg_partman's record of a table (`part_config`), the columns partkit sets. */
export type PartConfigRow = Omit<PartmanConfig, 'control'>;

export interface ProvisionContext {
  readonly caps: Capabilities;
  readonly decision: Decision;
  readonly config: Config;
  /** pg_partman's major version (installed, or the one that will be installed). */
  readonly partmanMajor: number | null;
  readonly partmanSchema: string;
}

export interface TableInput {
  readonly table: TableConfig;
  readonly state: TableState;
  /** True when the plan creates the table (so it has no children yet). */
  readonly creating: boolean;
  readonly controlType: ControlType;
  readonly partitions: readonly Partition[];
  readonly managed: ManagedRow | null;
  readonly partConfig: PartConfigRow | null;
}

export interface PartitionStrategy {
  readonly name: Strategy;
  /** Extensions and objects the strategy needs before any table is registered. */
  planInstall(ctx: ProvisionContext): Step[];
  /** Registration of one table and its first months; nothing when it is already as configured. */
  planTable(ctx: ProvisionContext, input: TableInput): Step[];
}
