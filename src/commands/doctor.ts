/**
 * `partkit doctor`: what the server offers, what the user may do, the state of each configured
 * table, and the strategy and scheduler partkit would use, with reasons and advice.
 */
import type { CommandModule } from 'yargs';
import { inspect, type Capabilities, type Decision, type ExtensionState } from '../core/capabilities.js';
import { decide } from '../strategies/index.js';
import type { Config } from '../core/config.js';
import { runCommand, type CommandContext, type GlobalOptions } from '../core/context.js';
import type { Database } from '../core/db.js';
import { requiredGrants, type RequiredGrant } from '../core/grants.js';
import { tableShapeProblems } from '../core/table-shape.js';
import { readTimeIndex, timeIndexAdvice } from '../core/time-index.js';
import { describeIdLookup, readIdLookup, type IdLookup } from '../verify/id-lookups.js';
import { readManagedTable } from '../core/checks/state.js';
import { decisionRequest, settingsInForce, type RecordedSchedule, type SettingsInForce } from '../core/settings.js';
import { citusDoctor, renderCitusDoctor, type CitusDoctorReport } from '../citus/report.js';

export interface DoctorReport {
  readonly server: Capabilities['server'];
  readonly database: string;
  readonly user: Capabilities['user'];
  readonly host: Capabilities['host'];
  readonly extensions: Capabilities['extensions'];
  readonly kit: Capabilities['kit'];
  /** Where the tables and settings come from: the config file, or (without one) what provision recorded in the database. */
  readonly settings: { readonly from: SettingsInForce['from']; readonly config: string; readonly recorded: RecordedSchedule | null };
  readonly strategy: Decision['strategy'];
  readonly scheduler: Decision['scheduler'];
  readonly reasons: readonly string[];
  readonly advice: readonly string[];
  /** Every right provision needs from this user (for this strategy and scheduler), with the GRANT and whether the user has it. */
  readonly grants: readonly RequiredGrant[];
  /** Citus: installed? coordinator? active workers? and each table's distribution (src/citus/). */
  readonly citus: CitusDoctorReport;
  readonly tables: readonly {
    /** The display name, as in every command's JSON. */
    readonly table: string;
    readonly exists: boolean;
    readonly partitioned: boolean;
    readonly partitionedBy: string | null;
    readonly primaryKeyIncludesControl: boolean;
    readonly controlColumn: Capabilities['tables'][number]['controlColumn'];
    readonly estimatedRows: number;
    readonly problems: readonly string[];
    /** Worth fixing, not blocking: months without a time index. */
    readonly warnings: readonly string[];
    /** What `WHERE id = $1` opens (EXPLAIN), for a partitioned table with an id uuid column; else null. */
    readonly idLookups: (IdLookup & { readonly prunes: boolean; readonly detail: string }) | null;
  }[];
}

/** A partitioned table whose months lack an index leading with the control column. */
async function tableWarnings(db: Database, config: Config, index: number, table: Capabilities['tables'][number]): Promise<string[]> {
  const configured = config.tables[index]!;
  if (!table.partitioned || !table.controlColumn.exists) return [];
  const advice = timeIndexAdvice(configured, await readTimeIndex(db, configured.name, configured.controlColumn));
  return advice ? [advice] : [];
}

export async function doctor(db: Database, fileConfig: Config, strategy?: Config['strategy']): Promise<DoctorReport> {
  // The config file's settings, or (without one) those provision recorded in the database.
  const settings = await settingsInForce(db, fileConfig);
  const config = settings.config;
  const caps = await inspect(db, config);
  const request = decisionRequest(settings, { strategy });
  const decision = decide(caps, config, request.strategy, request.scheduler, request.kept);
  const warnings: string[][] = [];
  const idLookups: DoctorReport['tables'][number]['idLookups'][] = [];
  for (const [index, table] of caps.tables.entries()) {
    warnings.push(await tableWarnings(db, config, index, table));
    const lookup = table.exists ? await readIdLookup(db, config.tables[index]!.name, caps.server.now) : null;
    const idRanges = lookup ? ((await readManagedTable(db, caps, config.tables[index]!.name))?.idRanges ?? false) : false;
    idLookups.push(lookup ? { ...lookup, prunes: lookup.opened <= 2, detail: describeIdLookup(lookup, idRanges) } : null);
  }
  return {
    server: caps.server,
    database: caps.database,
    user: caps.user,
    host: caps.host,
    extensions: caps.extensions,
    kit: caps.kit,
    settings: { from: settings.from, config: config.source, recorded: settings.recorded },
    strategy: decision.strategy,
    scheduler: decision.scheduler,
    reasons: decision.reasons,
    advice: decision.advice,
    grants: await requiredGrants(db, caps, decision, config),
    citus: citusDoctor(caps),
    tables: caps.tables.map((table, index) => ({
      table: table.name,
      exists: table.exists,
      partitioned: table.partitioned,
      partitionedBy: table.partitioned ? `${table.partitionStrategy} (${table.partitionKey.join(', ')})` : null,
      primaryKeyIncludesControl: table.primaryKeyIncludesControl,
      controlColumn: table.controlColumn,
      estimatedRows: table.estimatedRows,
      problems: tableShapeProblems(table, config.tables[index]!),
      warnings: warnings[index]!,
      idLookups: idLookups[index]!,
    })),
  };
}

function extensionLine(name: string, ext: ExtensionState): string {
  if (ext.installed) return `${name}: installed ${ext.version} in schema ${ext.schema}`;
  if (ext.available) return `${name}: available (${ext.defaultVersion}), not installed`;
  return `${name}: not available`;
}

export function renderDoctor(report: DoctorReport): string {
  const cron = report.extensions.pg_cron;
  const lines = [
    `server     PostgreSQL ${report.server.version} (${report.server.versionNum}), TimeZone ${report.server.timezone}, host ${report.host}`,
    `database   ${report.database}`,
    `user       ${report.user.name}${report.user.superuser ? ' (superuser)' : ''}${report.user.adminRoles.length ? ` member of ${report.user.adminRoles.join(', ')}` : ''}`,
    `extension  ${extensionLine('pg_partman', report.extensions.pg_partman)}`,
    `extension  ${extensionLine('pg_cron', cron)}; ${cron.preloaded ? `preloaded, cron.database_name = ${cron.databaseName}` : 'not in shared_preload_libraries'}`,
    ...renderCitusDoctor(report.citus),
    `kit schema ${report.kit.schema}: ${report.kit.installed ? 'installed' : 'not installed'}`,
    `settings   ${report.settings.from === 'file' ? `the config ${report.settings.config}` : report.settings.from === 'database' ? `no config file: the tables and settings recorded in schema ${report.kit.schema}` : 'the built-in default (no config file, nothing recorded yet)'}`,
    ...(report.settings.recorded
      ? [`recorded   scheduler ${report.settings.recorded.scheduler}, schedule "${report.settings.recorded.schedule}"${report.settings.recorded.jobName ? `, pg_cron job ${report.settings.recorded.jobName}` : ''} (provision, ${report.settings.recorded.recordedAt})`]
      : []),
    '',
    `strategy   ${report.strategy}`,
    `scheduler  ${report.scheduler}`,
    ...report.reasons.map((reason) => `  - ${reason}`),
    '',
    'tables',
    ...report.tables.map((table) => {
      const state = !table.exists ? 'missing (provision creates it)' : table.partitioned ? `partitioned by ${table.partitionedBy}` : 'not partitioned';
      const problems = table.problems.length ? `  PROBLEM: ${table.problems.join('; ')}` : '';
      const warnings = table.warnings.length ? `  WARNING: ${table.warnings.join('; ')}` : '';
      const ids = table.idLookups ? `\n  ${' '.repeat(28)} ${table.idLookups.detail}` : '';
      return `  ${table.table.padEnd(28)} ${state}${table.exists ? `, ~${table.estimatedRows} rows` : ''}${problems}${warnings}${ids}`;
    }),
  ];
  if (report.grants.length) {
    lines.push('', `rights provision needs (user ${report.user.name})`);
    for (const grant of report.grants) {
      const state = grant.has === true ? 'has it ' : grant.has === false ? 'MISSING' : 'unknown';
      const where = grant.database !== report.database ? ` in database ${grant.database}` : '';
      const when = grant.neededNow ? '' : ' (later)';
      lines.push(`  ${state}  ${grant.privilege}${where}: to ${grant.purpose}${when}${grant.has === true ? '' : `\n           ${grant.statement}`}`);
    }
  }
  if (report.advice.length) lines.push('', 'advice', ...report.advice.map((line) => `  - ${line}`));
  return lines.join('\n');
}

interface DoctorArgs extends GlobalOptions {
  readonly strategy?: Config['strategy'];
}

/** @internal the command line (src/cli.ts); not part of the API, its types are left out of the published declarations */
export const doctorCommand: CommandModule<GlobalOptions, DoctorArgs> = {
  command: 'doctor',
  describe: 'Inspect the server and tables; report the strategy and scheduler partkit would use',
  builder: (yargs) =>
    yargs.option('strategy', { choices: ['auto', 'partman', 'plpgsql'] as const, describe: 'Strategy to evaluate (default: from config, auto)' }),
  handler: async (args) => {
    await runCommand(
      { ...args, readOnly: true },
      async (ctx: CommandContext) => doctor(await ctx.database(), ctx.config, args.strategy),
      renderDoctor,
    );
  },
};
