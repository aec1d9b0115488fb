import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/core/config.js';
import { crontabSchedule, longestGapSeconds, maxMaintenanceAgeSeconds, parseCron } from '../src/core/cron.js';
import { crontabLine } from '../src/core/schedule.js';

const HOUR = 3600;
const DAY = 24 * HOUR;
const gap = (text: string) => longestGapSeconds(parseCron(text));

describe('cron schedules', () => {
  it('finds the longest gap between consecutive runs', () => {
    expect(gap('0 * * * *')).toBe(HOUR);
    expect(gap('@hourly')).toBe(HOUR);
    expect(gap('*/15 * * * *')).toBe(15 * 60);
    expect(gap('5,50 * * * *')).toBe(45 * 60);
    expect(gap('0 3 * * *')).toBe(DAY);
    expect(gap('@daily')).toBe(DAY);
    expect(gap('30 2 * * 0')).toBe(7 * DAY);
    expect(gap('@weekly')).toBe(7 * DAY);
    expect(gap('0 0 * * sun')).toBe(7 * DAY);
    // Weekdays 9 to 17: Friday 17:00 to Monday 09:00.
    expect(gap('0 9-17 * * 1-5')).toBe(64 * HOUR);
    expect(gap('0 0-23/6 * * *')).toBe(6 * HOUR);
    // 7 is Sunday too.
    expect(gap('0 0 * * 7')).toBe(7 * DAY);
    // Both day fields restricted: either matches (the 1st, and every Monday).
    expect(gap('0 0 1 * 1')).toBeLessThanOrEqual(7 * DAY);
    // A day-of-month field starting with * is ANDed with the day of week.
    expect(gap('0 0 */2 * 1')).toBeGreaterThan(7 * DAY);
    expect(gap('@monthly')).toBe(31 * DAY);
    expect(gap('0 0 1 jan *')).toBe(366 * DAY);
    expect(gap('0 0 29 2 *')).toBe((366 + 365 * 3) * DAY);
    // pg_cron's $: the last day of each month, at most 31 days apart.
    expect(gap('0 0 $ * *')).toBe(31 * DAY);
    expect(gap('30 seconds')).toBe(30);
    expect(gap('1 second')).toBe(1);
  });

  it('derives the default maximum maintenance age: one missed run plus 15 minutes', () => {
    expect(maxMaintenanceAgeSeconds('0 * * * *')).toBe(2 * HOUR + 15 * 60);
    expect(maxMaintenanceAgeSeconds('0 3 * * *')).toBe(48 * HOUR + 15 * 60);
    expect(maxMaintenanceAgeSeconds('@weekly')).toBe(14 * DAY + 15 * 60);
    expect(maxMaintenanceAgeSeconds('10 seconds')).toBe(20 + 15 * 60);
  });

  for (const [schedule, why] of [
    ['61 * * * *', /minute 61 is out of range 0-59/],
    ['* * *', /expected five fields/],
    ['@reboot', /unknown shortcut/],
    ['0 0 30 2 *', /never/],
    ['60 seconds', /1 to 59 seconds/],
    ['0 0 * * 1-x', /day of week "x" is not a number/],
    ['0 5-1 * * *', /runs backwards/],
    ['*/0 * * * *', /step "0"/],
  ] as const) {
    it(`rejects "${schedule}"`, () => {
      expect(() => gap(schedule)).toThrow(why);
      expect(() => resolveConfig({ maintenance: { schedule } }, 'test')).toThrow(/field "maintenance\.schedule": not a cron schedule pg_cron runs/);
    });
  }

  it('prints the configured schedule in the crontab line (crontab has no seconds: every minute)', () => {
    expect(crontabLine(resolveConfig({ maintenance: { schedule: '15 3 * * *' } }, '/etc/partkit.json'))).toBe(
      '15 3 * * *  DATABASE_URL=postgres://USER@HOST/DB npx --no-install partkit maintain --config /etc/partkit.json',
    );
    expect(crontabLine(resolveConfig({}, '(built-in default)'))).toMatch(/^0 \* \* \* \*  DATABASE_URL=/);
    expect(crontabSchedule('  @daily ')).toBe('@daily');
    expect(crontabSchedule('30 seconds')).toBe('* * * * *');
  });
});
