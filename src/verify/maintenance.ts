/**
 * Database-wide checks: the kit's objects, supported extension versions, and whether maintenance
 * is scheduled and succeeding (the pg_cron job, or the age of the last run for external schedulers).
 */
import type { Capabilities, Scheduler } from '../core/capabilities.js';
import type { Config } from '../core/config.js';
import type { Database } from '../core/db.js';
import { quoteIdent } from '../core/identifiers.js';
import { kitNotInstalled, pendingMigrations } from '../core/kit.js';
import { crontabLine, findJob, jobCommand, jobName } from '../core/schedule.js';
import { applyCommand, describeDifference, scheduleDifferences, type SettingsInForce } from '../core/settings.js';
import { readLastCronRun, readLastMaintenanceRun, readLastRegistration } from '../core/checks/state.js';
import { fail, fromProblems, pass, warn, type CheckResult } from '../core/checks/types.js';

/** 5400 -> "1h30m"; 59 -> "59s". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : ''].join('') || '0m';
}

function versionOf(text: string | null): [number, number] | undefined {
  const match = /^(\d+)\.(\d+)/.exec(text ?? '');
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/** pg_partman 4.7+ and 5.x; pg_cron 1.4+. */
export function supportedPartman(version: string | null): boolean {
  const v = versionOf(version);
  return v !== undefined && ((v[0] === 4 && v[1] >= 7) || v[0] === 5);
}

export function supportedCron(version: string | null): boolean {
  const v = versionOf(version);
  return v !== undefined && (v[0] > 1 || (v[0] === 1 && v[1] >= 4));
}

export async function checkKit(db: Database, caps: Capabilities, config: Config): Promise<CheckResult> {
  if (!caps.kit.installed) return fail(null, 'kit-installed', `${kitNotInstalled(config.kitSchema)}: run \`partkit provision\``);
  const pending = await pendingMigrations(db, config.kitSchema);
  if (pending.length > 0) return fail(null, 'kit-installed', `schema ${config.kitSchema} lacks ${pending.length} newer migration(s) (${pending.join(', ')}): run \`partkit provision\``);
  return pass(null, 'kit-installed', `partkit's objects are installed and up to date in schema ${config.kitSchema}`);
}

export function checkExtensions(caps: Capabilities): CheckResult {
  const partman = caps.extensions.pg_partman;
  const cron = caps.extensions.pg_cron;
  const problems: string[] = [];
  const found: string[] = [];
  if (partman.installed) {
    found.push(`pg_partman ${partman.version}`);
    if (!supportedPartman(partman.version)) {
      problems.push(
        `pg_partman ${partman.version} is not supported (4.7+ or 5.x): install the pg_partman 5.x package and run ALTER EXTENSION pg_partman UPDATE; in database ${caps.database}${(versionOf(partman.version)?.[0] ?? 0) > 5 ? ' (or, for a newer major version, pin pg_partman 5.x until partkit supports it)' : ''}`,
      );
    }
  } else found.push('pg_partman not installed');
  if (cron.installed) {
    found.push(`pg_cron ${cron.version}${cron.databaseName ? ` (in ${cron.databaseName})` : ''}`);
    if (!supportedCron(cron.version)) problems.push(`pg_cron ${cron.version} is not supported (1.4+): install a newer pg_cron package and run ALTER EXTENSION pg_cron UPDATE; in database ${cron.databaseName}`);
  } else found.push('pg_cron not installed');
  return fromProblems(null, 'extension-versions', problems, `${found.join(', ')}: supported (pg_partman 4.7+ or 5.x, pg_cron 1.4+)`);
}

/**
 * The maintenance settings provision recorded agree with what is wanted (the config file, the
 * --scheduler flag); the tables' own settings are compared per table (registration).
 */
export function checkSettings(settings: SettingsInForce, flag: 'auto' | Scheduler | undefined, database: string): CheckResult {
  const recorded = settings.recorded;
  const config = settings.config;
  if (!recorded) {
    return warn(null, 'settings', `no scheduler is recorded in ${config.kitSchema}.maintenance_schedule (the kit was provisioned by an older partkit), so the scheduler is guessed from the server: run \`${applyCommand(config, flag)}\` to record it`);
  }
  const differences = scheduleDifferences(settings, flag, database);
  if (differences.length > 0) {
    return fail(null, 'settings', `${differences.map((difference) => describeDifference(difference, config)).join('; ')}: run \`${applyCommand(config, flag)}\` to apply ${differences.length === 1 ? 'it' : 'them'}, or change the config to match the database`);
  }
  const source = settings.from === 'file' ? `the config ${config.source} agrees` : 'read from the database (no config file)';
  return pass(null, 'settings', `scheduler ${recorded.scheduler}, schedule "${recorded.schedule}"${recorded.jobName ? `, pg_cron job ${recorded.jobName}` : ''}, as provision recorded them at ${recorded.recordedAt}; ${source}`);
}

/** The pg_cron job: present, active, aimed at this database, with the configured schedule and command. */
async function checkCronJob(db: Database, caps: Capabilities, config: Config): Promise<CheckResult[]> {
  const cron = caps.extensions.pg_cron;
  const name = jobName(config, caps.database);
  if (!cron.installed || !cron.databaseName) {
    return [fail(null, 'maintenance-job', `pg_cron is preloaded but the extension is not created in database ${cron.databaseName ?? 'postgres'}, so nothing schedules maintenance: run \`partkit provision\``)];
  }
  const unreadable = (why: string) => [fail(null, 'maintenance-job', `cannot read cron.job in database ${cron.databaseName}: ${why}: an administrator must run, in database ${cron.databaseName}: GRANT USAGE ON SCHEMA ${cron.rights.schema ?? 'cron'} TO ${quoteIdent(caps.user.name)};`)];
  // In this very database the read may run inside a snapshot, which a failed statement would end: ask first.
  if (cron.databaseName === caps.database && cron.rights.usage === false) return unreadable(`permission denied for schema ${cron.rights.schema ?? 'cron'}`);
  let job;
  try {
    job = await findJob(db, caps, name);
  } catch (error) {
    if (cron.databaseName === caps.database) throw error;
    return unreadable((error as Error).message);
  }
  if (!job) {
    return [fail(null, 'maintenance-job', `pg_cron job ${name} does not exist in database ${cron.databaseName} (or belongs to another user): run \`partkit provision\` to schedule it`)];
  }
  const problems: string[] = [];
  if (!job.active) problems.push(`pg_cron job ${name} is inactive`);
  if (job.database !== caps.database) problems.push(`pg_cron job ${name} runs in database ${job.database}, not ${caps.database}`);
  if (job.schedule !== config.maintenance.schedule) problems.push(`pg_cron job ${name} runs on "${job.schedule}", the config says "${config.maintenance.schedule}"`);
  if (job.command !== jobCommand(config)) problems.push(`pg_cron job ${name} runs \`${job.command}\` instead of \`${jobCommand(config)}\``);
  const checks: CheckResult[] = [
    problems.length > 0
      ? fail(null, 'maintenance-job', `${problems.join('; ')}: run \`partkit provision\` (it updates and re-activates the job)`)
      : pass(null, 'maintenance-job', `pg_cron job ${name} (#${job.jobid}) is active and runs "${job.schedule}" in database ${job.database}`),
  ];
  try {
    const run = await readLastCronRun(db, caps, job);
    if (!run) checks.push(pass(null, 'maintenance-cron-run', `pg_cron job ${name} has not run yet (schedule "${job.schedule}")`));
    else if (run.status === 'failed') {
      checks.push(
        fail(
          null,
          'maintenance-cron-run',
          `the last run of pg_cron job ${name} (run ${run.runid}, started ${run.startTime ?? '?'}) failed: ${(run.returnMessage ?? 'no message').trim()}: fix the cause (\`partkit maintain\` runs the same function and shows the error), then wait for the next scheduled run`,
        ),
      );
    } else checks.push(pass(null, 'maintenance-cron-run', `the last run of pg_cron job ${name} (run ${run.runid}, started ${run.startTime ?? '?'}) is ${run.status}`));
  } catch (error) {
    if (cron.databaseName === caps.database) throw error;
    checks.push(fail(null, 'maintenance-cron-run', `cannot read cron.job_run_details in database ${cron.databaseName}: ${(error as Error).message}`));
  }
  return checks;
}

/** How old the last maintenance may be, and how to say where that limit came from. */
export interface MaintenanceAgeLimit {
  readonly seconds: number;
  /** "--max-maintenance-age 4h", or the derived limit with its reason. */
  readonly label: string;
}

/** Without pg_cron: the last maintenance finished within the limit (or provisioning did, if none ran yet). */
async function checkMaintenanceAge(db: Database, caps: Capabilities, config: Config, maxAge: MaintenanceAgeLimit): Promise<CheckResult> {
  const { seconds: maxAgeSeconds, label: limit } = maxAge;
  const schedule = `schedule it with an external scheduler, e.g. this crontab line: ${crontabLine(config)}`;
  if (!caps.kit.installed) return fail(null, 'maintenance-age', `${kitNotInstalled(config.kitSchema)}: run \`partkit provision\``);
  const run = await readLastMaintenanceRun(db, caps);
  if (run) {
    const age = formatDuration(run.ageSeconds);
    return run.ageSeconds <= maxAgeSeconds
      ? pass(null, 'maintenance-age', `the last maintenance finished ${age} ago (${run.finishedAt}), within ${limit}`)
      : fail(null, 'maintenance-age', `the last maintenance finished ${age} ago (${run.finishedAt}), more than ${limit}: run \`partkit maintain\` now, and check the scheduler that should run it (${schedule})`);
  }
  const registered = await readLastRegistration(db, caps);
  if (registered && registered.ageSeconds <= maxAgeSeconds) {
    return pass(null, 'maintenance-age', `no maintenance has run yet; the tables were provisioned ${formatDuration(registered.ageSeconds)} ago, within ${limit}`);
  }
  return fail(null, 'maintenance-age', `no maintenance run is recorded${registered ? ` since the tables were provisioned ${formatDuration(registered.ageSeconds)} ago` : ''}: run \`partkit maintain\`, and ${schedule}`);
}

/** The kit's record of its last run (pg_cron and external runs alike). */
async function checkLastResult(db: Database, caps: Capabilities): Promise<CheckResult> {
  if (!caps.kit.installed) return fail(null, 'maintenance-result', `${kitNotInstalled(caps.kit.schema)}: run \`partkit provision\``);
  const run = await readLastMaintenanceRun(db, caps);
  if (!run) return pass(null, 'maintenance-result', `no maintenance run is recorded in ${caps.kit.schema}.maintenance_run yet`);
  if (run.ok) return pass(null, 'maintenance-result', `the last maintenance run (#${run.id}, finished ${run.finishedAt}) succeeded: ${run.detail ?? ''}`.trim());
  return fail(
    null,
    'maintenance-result',
    `the last maintenance run (#${run.id}, finished ${run.finishedAt}) failed${run.failures.length ? `: ${run.failures.join('; ')}` : ` (${run.detail ?? 'no detail'})`}: fix the cause, then run \`partkit maintain\` (see ${caps.kit.schema}.maintenance_event for run ${run.id})`,
  );
}

/**
 * `requested`: the scheduler was asked for (--scheduler pg_cron), not guessed from the server.
 * A user without USAGE on pg_cron's schema cannot read cron.job: a guessed pg_cron scheduler is
 * then judged like an external one (tables provisioned with --scheduler external look exactly so).
 */
export async function checkMaintenance(db: Database, caps: Capabilities, config: Config, scheduler: Scheduler, maxAge: MaintenanceAgeLimit, requested = false): Promise<CheckResult[]> {
  const cron = caps.extensions.pg_cron;
  const unreadable = scheduler === 'pg_cron' && cron.installed && cron.rights.usage === false;
  let checks: CheckResult[];
  if (unreadable) {
    const grant = `GRANT USAGE ON SCHEMA ${cron.rights.schema ?? 'cron'} TO ${quoteIdent(caps.user.name)};`;
    const why = `the user ${caps.user.name} may not read cron.job in database ${cron.databaseName} (no USAGE on schema ${cron.rights.schema ?? 'cron'})`;
    if (requested) {
      checks = [fail(null, 'maintenance-job', `${why}: an administrator must run, in database ${cron.databaseName}: ${grant}`)];
    } else {
      const age = await checkMaintenanceAge(db, caps, config, maxAge);
      checks = [{ ...age, detail: `pg_cron is preloaded, but ${why}, so maintenance is judged by its last run (to check the pg_cron job instead, an administrator runs in database ${cron.databaseName}: ${grant}): ${age.detail}` }];
    }
  } else {
    checks = scheduler === 'pg_cron' ? await checkCronJob(db, caps, config) : [await checkMaintenanceAge(db, caps, config, maxAge)];
  }
  checks.push(await checkLastResult(db, caps));
  return checks;
}
