/**
 * The plpgsql fallback: the kit's own functions (sql/migrations) create monthly children,
 * keep a default partition, and run maintenance. For hosts without pg_partman.
 */
import { quoteIdent, quoteQualified } from '../core/identifiers.js';
import { sqlStep, type Step } from '../core/plan.js';
import { initialMonths, managedRowSteps, missingMonths, tableLabel } from './registration.js';
import type { PartitionStrategy, ProvisionContext, TableInput } from './types.js';

export const plpgsqlStrategy: PartitionStrategy = {
  name: 'plpgsql',

  planInstall() {
    // The kit's schema is installed for every strategy (provision adds that step).
    return [];
  },

  planTable(ctx: ProvisionContext, input: TableInput): Step[] {
    const kit = quoteIdent(ctx.config.kitSchema);
    const label = tableLabel(input.table);
    const regclassText = quoteQualified(input.table.name);
    const steps: Step[] = [...managedRowSteps(ctx, input, 'plpgsql')];
    if (input.creating || !input.state.defaultPartition) {
      steps.push(sqlStep(`create the default partition of ${label}`, `SELECT ${kit}.ensure_default_partition($1)`, { params: [regclassText], table: label }));
    }
    for (const month of missingMonths(input, initialMonths(input.table, ctx.caps.server.now))) {
      steps.push(
        sqlStep(`create partition ${label} ${month.year}-${String(month.month).padStart(2, '0')}`, `SELECT ${kit}.create_monthly_partition($1, $2, $3)`, {
          params: [regclassText, month.year, month.month],
          table: label,
        }),
      );
    }
    return steps;
  },
};
