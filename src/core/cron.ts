/**
 * Cron schedules as pg_cron reads them: five fields (minute hour day-of-month month day-of-week)
 * with `*`, lists, ranges, steps, names and pg_cron's `$` (last day of the month), the @hourly/@daily/@weekly/@monthly/@yearly
 * shortcuts, and pg_cron's own "N seconds". Used to validate the config, to print a crontab line,
 * and to derive how old the last maintenance may be before verify calls it late.
 */

export type CronSchedule =
  | { readonly kind: 'seconds'; readonly seconds: number }
  | {
      readonly kind: 'fields';
      readonly minutes: readonly number[];
      readonly hours: readonly number[];
      readonly days: ReadonlySet<number>;
      readonly months: ReadonlySet<number>;
      /** 0 = Sunday ... 6 = Saturday (7 is read as 0). */
      readonly weekdays: ReadonlySet<number>;
      /** As in cron: when both day fields are restricted (neither starts with `*`), a day matches either. */
      readonly dayStar: boolean;
      readonly weekdayStar: boolean;
    };

const SHORTCUTS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec {
  readonly label: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** First value of `names` (1 for months, 0 for days). */
  readonly nameBase?: number;
}

const FIELDS: readonly FieldSpec[] = [
  { label: 'minute', min: 0, max: 59 },
  { label: 'hour', min: 0, max: 23 },
  { label: 'day of month', min: 1, max: 31 },
  { label: 'month', min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 },
  { label: 'day of week', min: 0, max: 7, names: DAY_NAMES, nameBase: 0 },
];

export class CronSyntaxError extends Error {}

function parseValue(text: string, spec: FieldSpec): number {
  const named = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  const value = named >= 0 ? named + spec.nameBase! : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (Number.isNaN(value)) throw new CronSyntaxError(`${spec.label} "${text}" is not a number`);
  if (value < spec.min || value > spec.max) throw new CronSyntaxError(`${spec.label} ${value} is out of range ${spec.min}-${spec.max}`);
  return value;
}

/** pg_cron's `$` in the day-of-month field: the last day of the month. */
const LAST_DAY = 32;

function parseField(text: string, spec: FieldSpec): Set<number> {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '$' && spec.label === 'day of month') {
      values.add(LAST_DAY);
      continue;
    }
    const match = /^([^/]+)(?:\/(\d+))?$/.exec(item);
    if (!match) throw new CronSyntaxError(`${spec.label} "${item}" is not a value, range or step`);
    const [, range, stepText] = match;
    const step = stepText === undefined ? 1 : Number(stepText);
    if (step < 1) throw new CronSyntaxError(`${spec.label} step "${stepText}" must be 1 or more`);
    let low: number;
    let high: number;
    if (range === '*') [low, high] = [spec.min, spec.max];
    else if (range!.includes('-')) {
      const [from, to, ...rest] = range!.split('-');
      if (rest.length > 0 || !from || !to) throw new CronSyntaxError(`${spec.label} range "${range}" is not FROM-TO`);
      [low, high] = [parseValue(from, spec), parseValue(to, spec)];
      if (low > high) throw new CronSyntaxError(`${spec.label} range "${range}" runs backwards`);
    } else {
      low = parseValue(range!, spec);
      // "5/15" as most crons read it: from 5 to the end, every 15.
      high = stepText === undefined ? low : spec.max;
    }
    for (let value = low; value <= high; value += step) values.add(value);
  }
  return values;
}

/** Parses a schedule; throws CronSyntaxError saying what is wrong. */
export function parseCron(text: string): CronSchedule {
  const trimmed = text.trim();
  const seconds = /^(\d+)\s+seconds?$/i.exec(trimmed);
  if (seconds) {
    const value = Number(seconds[1]);
    if (value < 1 || value > 59) throw new CronSyntaxError(`"${trimmed}": pg_cron takes 1 to 59 seconds`);
    return { kind: 'seconds', seconds: value };
  }
  const expanded = trimmed.startsWith('@') ? SHORTCUTS[trimmed.toLowerCase()] : trimmed;
  if (expanded === undefined) throw new CronSyntaxError(`unknown shortcut "${trimmed}" (use @hourly, @daily, @weekly, @monthly or @yearly)`);
  const fields = expanded.split(/\s+/);
  if (fields.length !== 5) throw new CronSyntaxError(`expected five fields (minute hour day-of-month month day-of-week), got ${fields.length}`);
  const [minutes, hours, days, months, weekdays] = fields.map((field, index) => parseField(field, FIELDS[index]!)) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (weekdays.delete(7)) weekdays.add(0);
  const sorted = (values: Set<number>) => [...values].sort((a, b) => a - b);
  return { kind: 'fields', minutes: sorted(minutes), hours: sorted(hours), days, months, weekdays, dayStar: fields[2]!.startsWith('*'), weekdayStar: fields[4]!.startsWith('*') };
}

const DAY_MS = 86_400_000;
/** Long enough to hold two 29ths of February; schedules are read in UTC (pg_cron's default zone). */
const WINDOW_DAYS = 8 * 366;
const WINDOW_START = Date.UTC(2024, 0, 1);

/** The longest time between two consecutive runs, in seconds. Throws if the schedule (almost) never runs. */
export function longestGapSeconds(schedule: CronSchedule): number {
  if (schedule.kind === 'seconds') return schedule.seconds;
  const times = schedule.hours.flatMap((hour) => schedule.minutes.map((minute) => hour * 60 + minute)).sort((a, b) => a - b);
  let longest = 0;
  for (let i = 1; i < times.length; i += 1) longest = Math.max(longest, times[i]! - times[i - 1]!);
  let previousDay: number | undefined;
  let runDays = 0;
  for (let day = 0; day < WINDOW_DAYS; day += 1) {
    const date = new Date(WINDOW_START + day * DAY_MS);
    if (!schedule.months.has(date.getUTCMonth() + 1)) continue;
    const lastDay = new Date(WINDOW_START + (day + 1) * DAY_MS).getUTCDate() === 1;
    const dayMatch = schedule.days.has(date.getUTCDate()) || (lastDay && schedule.days.has(LAST_DAY));
    const weekdayMatch = schedule.weekdays.has(date.getUTCDay());
    const runs = schedule.dayStar || schedule.weekdayStar ? dayMatch && weekdayMatch : dayMatch || weekdayMatch;
    if (!runs) continue;
    runDays += 1;
    if (previousDay !== undefined) longest = Math.max(longest, (day - previousDay) * 1440 + times[0]! - times.at(-1)!);
    previousDay = day;
  }
  if (runDays < 2) throw new CronSyntaxError(`it runs ${runDays === 0 ? 'never' : 'once'} in eight years`);
  return longest * 60;
}

/** Slack on top of two gaps: a run that starts late or takes a while still counts. */
export const MAINTENANCE_AGE_MARGIN_SECONDS = 15 * 60;

/**
 * How old the last maintenance may be under this schedule: one run may be missed (twice the
 * longest gap between runs), plus a margin. Hourly gives 2h15m, daily 48h15m.
 */
export function maxMaintenanceAgeSeconds(text: string): number {
  return 2 * longestGapSeconds(parseCron(text)) + MAINTENANCE_AGE_MARGIN_SECONDS;
}

/** The schedule for a crontab(5) line: crontab has no seconds, so "N seconds" becomes every minute. */
export function crontabSchedule(text: string): string {
  const schedule = parseCron(text);
  return schedule.kind === 'seconds' ? '* * * * *' : text.trim().split(/\s+/).join(' ');
}
