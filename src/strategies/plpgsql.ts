/**
 * The plpgsql fallback: the kit's own functions (sql/migrations) create monthly children,
 * keep a default partition, and run maintenance. For hosts without pg_partman.
 */
import { enableAdvice, type Capabilities, type Choice } from '../core/capabilities.js';
import type { Config } from '../core/config.js';
import { displayName, quoteIdent, quoteQualified } from '../core/identifiers.js';
import { monthKey, type Month } from '../core/partitions.js';
import { sqlStep, type Step } from '../core/plan.js';
import { initialMonths, managedRowSteps, managedSettings, missingMonths } from './registration.js';
import type { MonthsTarget, PartitionStrategy, ProvisionContext, RegistrationFacts, TableInput } from './types.js';

export const plpgsqlStrategy: PartitionStrategy = {
  name: 'plpgsql',

  // Asked last: the kit's own functions run wherever the kit can be installed.
  whenAuto(caps: Capabilities, config: Config): Choice {
    return {
      reasons: ["pg_partman is not available on this server: partkit's own plpgsql functions manage the partitions"],
      advice: [`To use pg_partman instead: ${enableAdvice(caps.host, 'pg_partman', caps.database, config.partmanSchema)}`],
    };
  },

  whenRequested(): Choice {
    return { reasons: [], advice: [] };
  },

  planInstall() {
    // The kit's schema is installed for every strategy (provision adds that step).
    return [];
  },

  planTable(ctx: ProvisionContext, input: TableInput): Step[] {
    const kit = quoteIdent(ctx.config.kitSchema);
    const label = displayName(input.table.name);
    const regclassText = quoteQualified(input.table.name);
    // The registry row, the default and the months in one transaction: a setting is never recorded
    // without the months it implies.
    const group = `settings and months of ${label}`;
    const steps: Step[] = [...managedRowSteps(ctx, input, 'plpgsql', group)];
    if (input.creating || !input.state.defaultPartition) {
      steps.push(sqlStep(`create the default partition of ${label}`, `SELECT ${kit}.ensure_default_partition($1)`, { params: [regclassText], table: label, group }));
    }
    for (const month of missingMonths(input, initialMonths(input.table, ctx.now))) {
      steps.push(
        sqlStep(`create partition ${label} ${month.year}-${String(month.month).padStart(2, '0')}`, `SELECT ${kit}.create_monthly_partition($1, $2, $3)`, {
          params: [regclassText, month.year, month.month],
          table: label,
          group,
        }),
      );
    }
    return steps;
  },

  planMonths(target: MonthsTarget, months: readonly Month[]): Step[] {
    const label = displayName(target.name);
    const kit = quoteIdent(target.kitSchema);
    return months.map((month) =>
      sqlStep(`create partition ${label} ${monthKey(month)}`, `SELECT ${kit}.create_monthly_partition($1, $2, $3)`, {
        params: [quoteQualified(target.name), month.year, month.month],
        table: label,
        // All months or none: a failure half-way leaves the table as it was.
        group: `partition create ${label}`,
      }),
    );
  },

  childName(parent: string, month: Month): string {
    return `${parent}_y${String(month.year).padStart(4, '0')}m${String(month.month).padStart(2, '0')}`;
  },

  registeredSettings: managedSettings,

  extraRegistry() {
    return null;
  },

  registrationProblems({ label, partConfig, caps }: RegistrationFacts): string[] {
    if (!partConfig) return [];
    return [
      `${label} is managed by the plpgsql strategy but also has a row in ${caps.extensions.pg_partman.schema}.part_config, so two maintainers would act on it: run \`partkit provision --strategy partman\`, or delete that row`,
    ];
  },
};
