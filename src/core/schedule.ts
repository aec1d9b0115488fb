/**
 * The maintenance schedule: one named pg_cron job per application database, created in
 * pg_cron's database and pointed at ours with cron.schedule_in_database.
 */
import { canCreateExtension, enableAdvice, type Capabilities, type Decision, type Scheduler } from './capabilities.js';
import { configArgs, type Config } from './config.js';
import { crontabSchedule } from './cron.js';
import type { Database } from './db.js';
import { MissingCapabilityError } from './errors.js';
import { quoteIdent, quoteLiteral } from './identifiers.js';
import { maintenanceCall } from './kit.js';
import { partkitCommand } from './shell.js';
import { sqlComment, sqlStep, type SqlStep } from './plan.js';

export interface CronJob {
  readonly jobid: number;
  readonly name: string;
  readonly schedule: string;
  readonly command: string;
  readonly database: string;
  readonly username: string;
  readonly active: boolean;
}

/** The row of `<kit>.maintenance_schedule`: how provision last scheduled maintenance (see settings.ts). */
export interface RecordedSchedule {
  readonly scheduler: Scheduler;
  /** The cron schedule the pg_cron job runs on, or an external scheduler should. */
  readonly schedule: string;
  /** The pg_cron job's name; null with an external scheduler. */
  readonly jobName: string | null;
  readonly recordedAt: string;
}

/** The record, or null when the kit (or this table of it) is not installed or nothing was recorded yet. */
export async function readRecordedSchedule(db: Database, kitSchema: string): Promise<RecordedSchedule | null> {
  const table = `${quoteIdent(kitSchema)}.maintenance_schedule`;
  const [exists] = await db.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [table]);
  if (!exists?.ok) return null;
  const [row] = await db.query<{ scheduler: Scheduler; schedule: string; job_name: string | null; recorded_at: Date }>(`SELECT scheduler, schedule, job_name, recorded_at FROM ${table}`);
  return row ? { scheduler: row.scheduler, schedule: row.schedule, jobName: row.job_name, recordedAt: row.recorded_at.toISOString() } : null;
}

/** Records what this provision schedules, when the record says otherwise (or nothing yet). */
export function planScheduleRecord(config: Config, caps: Capabilities, decision: Decision, recorded: RecordedSchedule | null): SqlStep[] {
  const scheduler = decision.scheduler;
  const schedule = config.maintenance.schedule;
  const name = scheduler === 'pg_cron' ? jobName(config, caps.database) : null;
  if (recorded && recorded.scheduler === scheduler && recorded.schedule === schedule && recorded.jobName === name) return [];
  const changes = recorded
    ? [
        recorded.scheduler !== scheduler ? `scheduler ${recorded.scheduler} -> ${scheduler}` : '',
        recorded.schedule !== schedule ? `schedule "${recorded.schedule}" -> "${schedule}"` : '',
        recorded.jobName !== name ? `job name ${recorded.jobName ?? 'none'} -> ${name ?? 'none'}` : '',
      ].filter(Boolean)
    : [`scheduler ${scheduler}, schedule "${schedule}"${name ? `, job ${name}` : ''}`];
  return [
    sqlStep(
      `record ${changes.join(', ')} in ${config.kitSchema}.maintenance_schedule`,
      // The default job name is the database's own, taken where the row is written: a migration
      // file planned on one database and applied to another records the other's.
      `INSERT INTO ${quoteIdent(config.kitSchema)}.maintenance_schedule (id, scheduler, schedule, job_name)
VALUES (true, $1, $2, CASE WHEN $1 = 'pg_cron' THEN coalesce($3::text, 'partkit_maintenance_' || current_database()) END)
ON CONFLICT (id) DO UPDATE SET scheduler = EXCLUDED.scheduler, schedule = EXCLUDED.schedule, job_name = EXCLUDED.job_name, recorded_at = now()`,
      { params: [scheduler, schedule, config.maintenance.jobName ?? null] },
    ),
  ];
}

export function jobName(config: Config, database: string): string {
  return config.maintenance.jobName ?? `partkit_maintenance_${database}`;
}

/**
 * The job's command: the maintenance procedure alone (pg_cron runs a command string as one
 * transaction when it holds several statements, and the procedure commits between its steps).
 */
export function jobCommand(config: Config): string {
  return maintenanceCall(config.kitSchema);
}

export async function findJob(db: Database, caps: Capabilities, name: string): Promise<CronJob | undefined> {
  const cron = caps.extensions.pg_cron;
  if (!cron.installed || !cron.databaseName) return undefined;
  const [job] = await db.queryCron<CronJob>(cron.databaseName, 'SELECT jobid::int AS jobid, jobname AS name, schedule, command, database, username, active FROM cron.job WHERE jobname = $1 ORDER BY jobid LIMIT 1', [name]);
  return job;
}

/**
 * Command line for an external scheduler (crontab), shown when there is no pg_cron. It runs the
 * partkit the application installed (`npx --no-install`): a schedule never downloads a package.
 */
export function crontabLine(config: Config): string {
  return `${crontabSchedule(config.maintenance.schedule)}  DATABASE_URL=postgres://USER@HOST/DB npx --no-install ${partkitCommand(['maintain', ...configArgs(config)])}`;
}

/** The setting a cron file reads the application database from (else it schedules for the database it runs in). */
export const CRON_FILE_DATABASE_SETTING = 'partkit.app_database';

/**
 * `provision --format sql --cron-file`: the maintenance job as a file that is right in every
 * environment it is applied to, whatever the database it was planned on was called. It runs in
 * pg_cron's database and schedules the job for the application database named by the setting
 * partkit.app_database (PGOPTIONS='-c partkit.app_database=app' psql ...), else for the database
 * it runs in (pg_cron living in the application's own database). It refuses when that database has
 * no kit schema (the setting was forgotten). Creating, updating or re-enabling the job by name, it
 * can run any number of times; schedule_in_database alone would keep a job's old database.
 */
export function cronFileSql(config: Config): string {
  const kit = quoteLiteral(config.kitSchema);
  const jobName = config.maintenance.jobName === undefined ? `'partkit_maintenance_' || v_database` : quoteLiteral(config.maintenance.jobName);
  const header = [
    `partkit: the pg_cron job that runs maintenance in the application database ("${config.maintenance.schedule}").`,
    "Run it in pg_cron's database (cron.database_name, usually postgres), once per environment, naming the",
    'application database there:',
    `  PGOPTIONS='-c ${CRON_FILE_DATABASE_SETTING}=<application database>' psql "<URL of pg_cron's database>" -1 -f <this file>`,
    `Without ${CRON_FILE_DATABASE_SETTING} the job is for the database this file runs in (where pg_cron lives in the`,
    "application's database). Running it again updates the job; see docs/scheduling.md.",
  ];
  return `${header.map((line) => sqlComment(line)).join('\n')}
SELECT pg_advisory_xact_lock(hashtext('partkit create extension pg_cron')) IS NULL AS locked;
CREATE EXTENSION IF NOT EXISTS pg_cron;
DO $partkit$
DECLARE
    v_database text := coalesce(nullif(current_setting(${quoteLiteral(CRON_FILE_DATABASE_SETTING)}, true), ''), current_database());
    v_job text := ${jobName};
    v_schedule text := ${quoteLiteral(config.maintenance.schedule)};
    v_command text := ${quoteLiteral(jobCommand(config))};
    v_jobid bigint;
BEGIN
    IF v_database = current_database() AND to_regnamespace(${kit}) IS NULL THEN
        RAISE EXCEPTION 'partkit: database % has no schema %, so this is not the application database', v_database, ${kit}
            USING HINT = 'Run this file in pg_cron''s database with PGOPTIONS=''-c ${CRON_FILE_DATABASE_SETTING}=<application database>''.';
    END IF;
    SELECT jobid INTO v_jobid FROM cron.job WHERE jobname = v_job AND username = current_user ORDER BY jobid LIMIT 1;
    IF v_jobid IS NULL THEN
        PERFORM cron.schedule_in_database(v_job, v_schedule, v_command, v_database);
    ELSE
        PERFORM cron.alter_job(job_id := v_jobid, schedule := v_schedule, command := v_command, database := v_database, active := true);
    END IF;
    RAISE NOTICE 'partkit: pg_cron job % runs maintenance in database % (%)', v_job, v_database, v_schedule;
END
$partkit$;
`;
}

export function planSchedule(config: Config, caps: Capabilities, decision: Decision, existing: CronJob | undefined): SqlStep[] {
  const cron = caps.extensions.pg_cron;
  if (decision.scheduler !== 'pg_cron') {
    // Moving to an external scheduler: the job would otherwise keep running beside it.
    return existing ? [sqlStep(`unschedule pg_cron job ${existing.name} (maintenance moves to an external scheduler)`, 'SELECT cron.unschedule($1::bigint)', { params: [existing.jobid], database: 'cron' })] : [];
  }
  if (!cron.preloaded || !cron.databaseName) {
    throw new MissingCapabilityError('Scheduler pg_cron was requested, but pg_cron is not preloaded on this server.', `${enableAdvice(caps.host, 'pg_cron', caps.database)} Or use --scheduler external.`);
  }
  const steps: SqlStep[] = [];
  const name = jobName(config, caps.database);
  const command = jobCommand(config);
  const schedule = config.maintenance.schedule;
  if (!cron.installed) {
    if (!canCreateExtension(caps, cron)) {
      throw new MissingCapabilityError(
        `The user ${caps.user.name} may not create the pg_cron extension.`,
        `An administrator must run, in database ${cron.databaseName}: CREATE EXTENSION IF NOT EXISTS pg_cron; GRANT USAGE ON SCHEMA cron TO ${quoteIdent(caps.user.name)}; GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text,text,text,text,text,boolean) TO ${quoteIdent(caps.user.name)}; — or run partkit with --scheduler external.`,
      );
    }
    // Several application databases may be provisioned at once; CREATE EXTENSION IF NOT EXISTS
    // is not safe against a concurrent twin, so take a lock in pg_cron's database first.
    steps.push(
      sqlStep('serialize extension creation in the pg_cron database', "SELECT pg_advisory_xact_lock(hashtext('partkit create extension pg_cron'))", { database: 'cron', group: 'pg_cron' }),
      sqlStep(`create extension pg_cron in database ${cron.databaseName}`, 'CREATE EXTENSION IF NOT EXISTS pg_cron', { database: 'cron', group: 'pg_cron' }),
    );
  } else if (cron.canScheduleInDatabase === false) {
    throw new MissingCapabilityError(
      `The user ${caps.user.name} may not schedule pg_cron jobs for database ${caps.database}.`,
      `An administrator must run, in database ${cron.databaseName}: GRANT USAGE ON SCHEMA cron TO ${quoteIdent(caps.user.name)}; GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text,text,text,text,text,boolean) TO ${quoteIdent(caps.user.name)};`,
    );
  }
  if (existing && existing.schedule === schedule && existing.command === command && existing.database === caps.database && existing.active) return steps;
  if (existing) {
    const alterJob = cron.rights.alterJob;
    if (alterJob && !alterJob.execute) {
      throw new MissingCapabilityError(
        `The user ${caps.user.name} may not update pg_cron job ${name} (no EXECUTE on ${alterJob.signature}); nothing was changed.`,
        `An administrator must run, in database ${cron.databaseName}: GRANT EXECUTE ON FUNCTION ${alterJob.signature} TO ${quoteIdent(caps.user.name)}; Then run partkit provision again.`,
      );
    }
    steps.push(
      sqlStep(`update pg_cron job ${name}: "${schedule}" in database ${caps.database}`, 'SELECT cron.alter_job(job_id := $1, schedule := $2, command := $3, database := $4, active := true)', {
        params: [existing.jobid, schedule, command, caps.database],
        database: 'cron',
      }),
    );
  } else {
    steps.push(
      sqlStep(`schedule pg_cron job ${name}: "${schedule}" runs maintenance in database ${caps.database}`, // username stays NULL (the current user): pg_cron refuses a non-superuser who names any role.
        'SELECT cron.schedule_in_database($1, $2, $3, $4)', {
        params: [name, schedule, command, caps.database],
        database: 'cron',
      }),
    );
  }
  return steps;
}
