/**
 * Citus in doctor and verify: the server's Citus (installed? coordinator? active workers?) and,
 * per configured table, whether it and every attached month are distributed by the configured
 * column, co-located with the parent, with shards on every active worker.
 */
import type { Capabilities } from '../core/capabilities.js';
import { fail, pass, type CheckResult } from '../core/checks/types.js';
import type { TableConfig } from '../core/config.js';
import { displayName } from '../core/identifiers.js';
import { partkitCommand } from '../core/shell.js';
import { describeRelation, type CitusRelation } from '../core/citus.js';

export interface CitusDoctorReport {
  readonly installed: boolean;
  readonly version: string | null;
  readonly coordinator: boolean;
  readonly activeWorkers: number;
  readonly tables: readonly {
    readonly name: string;
    readonly distributed: boolean;
    readonly column: string | null;
    readonly shards: number;
    /** Attached months (default included) that are distributed like the parent. */
    readonly months: number;
  }[];
}

export function citusDoctor(caps: Capabilities): CitusDoctorReport {
  const { installed, version, coordinator, activeWorkers } = caps.citus;
  return {
    installed,
    version,
    coordinator,
    activeWorkers,
    tables: caps.citus.tables.map((table, index) => {
      const parent = table.parent;
      const distributed = parent?.method === 'h';
      return {
        name: caps.tables[index]!.name,
        distributed,
        column: distributed ? parent!.column : null,
        shards: distributed ? parent!.shards : 0,
        months: distributed ? table.months.filter((month) => month.method === 'h' && month.colocationId === parent!.colocationId).length : 0,
      };
    }),
  };
}

export function renderCitusDoctor(report: CitusDoctorReport): string[] {
  if (!report.installed) return ['extension  citus: not installed (tables stay on this server; see docs/scale-out.md)'];
  const lines = [`extension  citus ${report.version}: ${report.coordinator ? `coordinator, ${report.activeWorkers} active worker(s)` : 'a worker node (distribute tables from the coordinator)'}`];
  for (const table of report.tables) {
    lines.push(`  citus    ${table.name.padEnd(28)} ${table.distributed ? `distributed by ${table.column}, ${table.shards} shard(s), ${table.months} month(s) co-located` : 'local (not distributed)'}`);
  }
  return lines;
}

function problemsOfMonth(month: CitusRelation, parent: CitusRelation): string[] {
  const label = month.relation;
  if (month.method !== 'h') return [`month ${label} is ${describeRelation(month)}`];
  const problems: string[] = [];
  if (month.column !== parent.column) problems.push(`month ${label} is distributed by ${month.column}, not ${parent.column}`);
  if (month.colocationId !== parent.colocationId) problems.push(`month ${label} is in colocation group ${month.colocationId}, not the parent's ${parent.colocationId}`);
  const missing = month.activeGroups.filter((group) => !month.groups.includes(group));
  if (missing.length > 0) problems.push(`month ${label} has no shard on worker group(s) ${missing.join(', ')} (run SELECT citus_rebalance_start(); on the coordinator)`);
  return problems;
}

/** verify's check of one table on Citus; none for a local table on a server without a distribution configured. */
export function checkCitusTable(caps: Capabilities, table: TableConfig, index: number): CheckResult[] {
  const label = displayName(table.name);
  const distribution = table.distribution ?? null;
  const state = caps.citus.tables[index];
  const parent = state?.parent ?? null;
  if (distribution === null && parent?.method !== 'h') return [];
  const check = 'citus distribution';
  if (!caps.citus.installed) return [fail(label, check, `the config distributes it by ${distribution!.column}, but this database has no citus extension`)];
  if (parent === null) return [fail(label, check, `missing; run: ${partkitCommand(['provision'])}`)];
  if (parent.method !== 'h') return [fail(label, check, `not distributed (it is ${describeRelation(parent)}); run: ${partkitCommand(['provision'])}`)];
  const problems: string[] = [];
  if (distribution !== null && parent.column !== distribution.column) problems.push(`distributed by ${parent.column}, but the config says ${distribution.column}`);
  const parentMissing = parent.activeGroups.filter((group) => !parent.groups.includes(group));
  if (parentMissing.length > 0) problems.push(`no shard on worker group(s) ${parentMissing.join(', ')} (run SELECT citus_rebalance_start(); on the coordinator)`);
  for (const month of state!.months) problems.push(...problemsOfMonth(month, parent));
  if (problems.length > 0) return [fail(label, check, problems.join('; '))];
  return [pass(label, check, `distributed by ${parent.column}, ${parent.shards} shard(s) on ${parent.groups.length} of ${parent.activeGroups.length} active worker(s); ${state!.months.length} month(s) co-located with it`)];
}
