/**
 * maintain's planner: a pure function of what was read (MaintainState, src/maintain/state.ts) and
 * the request. Maintenance itself is one CALL of the kit's procedure, which decides on the server,
 * on the server's clock, which months to premake, drain and archive (sql/kit/); what is planned
 * here is that call, or a refusal before it.
 */
import type { Config } from '../core/config.js';
import { kitRightsLacking, refuseLackingKitRights } from '../core/grants.js';
import { displayName } from '../core/identifiers.js';
import { kitMissing, maintenanceCall } from '../core/kit.js';
import { sqlStep, type Plan } from '../core/plan.js';
import { shellQuote } from '../core/shell.js';
import { tableNotFoundError } from '../core/table-lookup.js';
import { MissingCapabilityError } from '../core/errors.js';
import { MAINTAIN_KIT_OBJECTS, type MaintainState } from './state.js';

/** The stable id of the CALL step, to read its rows (the run's id) back. */
export const MAINTAIN_STEP = 'run-maintenance';

/** One CALL of the maintenance procedure, for every table (null) or one, each lock waited for at most `lockTimeout`, tried once. */
export function maintenancePlan(config: Config, table: string | null, lockTimeout: string): Plan {
  return {
    steps: [
      sqlStep(`run maintenance${table ? ` of ${table}` : ''} (drains default partitions in bounded steps)`, maintenanceCall(config.kitSchema, ['p_table_name', 'p_lock_timeout', 'p_attempts']), {
        id: MAINTAIN_STEP,
        params: [table, lockTimeout, 1],
        transaction: false,
      }),
    ],
  };
}

/**
 * The plan of `partkit maintain` (`table`: --table as given), or the refusal, in the order
 * maintain has always checked: this user's rights on the kit, the kit's objects, then --table's
 * table (it exists, the kit manages it).
 */
export function planMaintain(state: MaintainState, config: Config, request: { readonly table: string | null; readonly lockTimeout: string }): Plan {
  refuseLackingKitRights(kitRightsLacking(state.rights, config, 'maintain'), state.database, 'maintain');
  if (!state.kitReady) throw kitMissing(config.kitSchema, MAINTAIN_KIT_OBJECTS, state.database);
  const only = state.table;
  if (only && !only.exists) throw tableNotFoundError(only.name, only.similar, state.database, (found) => `partkit maintain --table ${found}`);
  if (only && !only.managed) {
    throw new MissingCapabilityError(
      `${displayName(only.name)} is not managed by partkit in database ${state.database} (nothing was changed).`,
      `Add it to the config's "tables" and run partkit provision; or maintain them all: partkit maintain${config.tables.length > 0 ? ` --table ${shellQuote(displayName(config.tables[0]!.name))}` : ''}`,
    );
  }
  return maintenancePlan(config, request.table, request.lockTimeout);
}
