/**
 * The maintenance schedule: one named pg_cron job per application database, created in
 * pg_cron's database and pointed at ours with cron.schedule_in_database.
 */
import { canCreateExtension, enableAdvice, type Capabilities, type Decision } from './capabilities.js';
import type { Config } from './config.js';
import { crontabSchedule } from './cron.js';
import type { Database } from './db.js';
import { MissingCapabilityError } from './errors.js';
import { quoteIdent } from './identifiers.js';
import { maintenanceCall } from './kit.js';
import { partkitCommand } from './shell.js';
import { sqlStep, type SqlStep } from './plan.js';

export interface CronJob {
  readonly jobid: number;
  readonly schedule: string;
  readonly command: string;
  readonly database: string;
  readonly username: string;
  readonly active: boolean;
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
  const [job] = await db.queryCron<CronJob>(cron.databaseName, 'SELECT jobid::int AS jobid, schedule, command, database, username, active FROM cron.job WHERE jobname = $1 ORDER BY jobid LIMIT 1', [name]);
  return job;
}

/** Command line for an external scheduler (crontab), shown when there is no pg_cron. */
export function crontabLine(config: Config): string {
  return `${crontabSchedule(config.maintenance.schedule)}  DATABASE_URL=postgres://USER@HOST/DB npx ${partkitCommand(['maintain', ...(config.source.startsWith('(') ? [] : ['--config', config.source])])}`;
}

export function planSchedule(config: Config, caps: Capabilities, decision: Decision, existing: CronJob | undefined): SqlStep[] {
  const cron = caps.extensions.pg_cron;
  if (decision.scheduler !== 'pg_cron') return [];
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
