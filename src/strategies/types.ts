/**
 * The two ways partkit manages partitions, behind one interface. The choice and its reason
 * come from capabilities (`decide`); provision asks the chosen strategy for its steps.
 */
import type { Capabilities, Choice, Decision, TableState } from '../core/capabilities.js';
import type { Config, Strategy, TableConfig } from '../core/config.js';
import type { QualifiedName } from '../core/identifiers.js';
import type { ControlType, Month, Partition } from '../core/partitions.js';
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
  /** The clock months are counted from: the server's, read in provision's snapshot (`caps.server.now`). */
  readonly now: Date;
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

/** An existing partitioned table that `partition create` adds months to. */
export interface MonthsTarget {
  readonly name: QualifiedName;
  readonly controlType: ControlType;
  /** The zone month starts are counted in: the one the table was registered with. */
  readonly timeZone: string;
  readonly kitSchema: string;
  /** pg_partman's schema when the table is registered with it. */
  readonly partmanSchema: string | null;
  /** The table has time-ordered ids: each new month gets its id range (managed_table.id_ranges). */
  readonly idRanges: boolean;
  readonly partitions: readonly Partition[];
  /** The months ('YYYY-MM', in `timeZone`) of the rows waiting in the default partition, read for pg_partman's tables (empty otherwise). */
  readonly waiting: readonly string[];
}

/** A table's settings as its maintainer has them recorded (falling back to the config). */
export interface RegisteredSettings {
  readonly interval: string;
  readonly premake: number;
  readonly retention: string | null;
  readonly archiveSchema: string | null;
}

/** What verify compares: the kit's and pg_partman's records of one table. */
export interface RegistrationFacts {
  readonly label: string;
  readonly table: TableConfig;
  readonly partConfig: PartmanConfig | null;
  readonly caps: Capabilities;
}

export interface PartitionStrategy {
  readonly name: Strategy;
  /** Chosen by itself (strategy auto): why, or null when this server cannot run it (the next strategy is asked). */
  whenAuto(caps: Capabilities, config: Config): Choice | null;
  /** Asked for by name: what stands in its way on this server, and what would enable it (nothing when it can run). */
  whenRequested(caps: Capabilities, config: Config): Choice;
  /** Extensions and objects the strategy needs before any table is registered. */
  planInstall(ctx: ProvisionContext): Step[];
  /** Registration of one table and its first months; nothing when it is already as configured. */
  planTable(ctx: ProvisionContext, input: TableInput): Step[];
  /** Steps that create these months (none of them there yet) of an existing table; refuses what the strategy cannot make. Reads nothing. */
  planMonths(target: MonthsTarget, months: readonly Month[]): Step[];
  /** The name the strategy gives a month's child, the one its maintenance and provision expect. */
  childName(parent: string, month: Month, partmanMajor: number | null): string;
  /** The settings in force for a table this strategy manages, from its own records. */
  registeredSettings(table: TableConfig, managed: ManagedTable | null, partConfig: PartmanConfig | null): RegisteredSettings;
  /** Where the strategy records a table besides the kit's managed_table (pg_partman's part_config), for messages. */
  extraRegistry(caps: Capabilities): string | null;
  /** What differs between the config and the strategy's own records of a table (the kit's row is checked apart). */
  registrationProblems(facts: RegistrationFacts): string[];
}
