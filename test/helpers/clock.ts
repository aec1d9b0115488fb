/**
 * The one place tests take "now" from. Every server and partkit process of a run shares one
 * clock: the real one, or the one PARTKIT_TEST_CLOCK shifted (test/targets/clock.ts). Month
 * arithmetic in tests goes through these helpers, never through `new Date()`, so that a run at a
 * month end, a New Year or a leap day tests the same things as any other day.
 */
import { inject } from 'vitest';
import type { TestClock } from '../targets/clock.js';

export type { TestClock };

export function testClock(): TestClock {
  return inject('partkitClock') ?? { offsetSeconds: 0, startsAt: '' };
}

/** Now, on the run's clock. */
export function testNow(): Date {
  return new Date(Date.now() + testClock().offsetSeconds * 1000);
}

export interface TestMonth {
  readonly year: number;
  /** 1 to 12. */
  readonly month: number;
  /** 'YYYY-MM'. */
  readonly key: string;
  /** The month's start at 00:00 UTC as the catalog prints it with TimeZone UTC: 'YYYY-MM-01 00:00:00+00'. */
  readonly start: string;
  /** The month's first day: 'YYYY-MM-01'. */
  readonly date: string;
  /** Noon UTC on the 15th, as the catalog prints it with TimeZone UTC: 'YYYY-MM-15 12:00:00+00'. */
  readonly mid: string;
  /** The suffix of the kit's own (plpgsql) child for the month: '_yYYYYmMM'. */
  readonly plpgsqlSuffix: string;
}

/** The UTC month `offset` months from the run's current month (0 = this month, -1 = the last). */
export function monthOf(offset: number, now: Date = testNow()): TestMonth {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth() + 1;
  const key = `${year}-${String(month).padStart(2, '0')}`;
  return { year, month, key, start: `${key}-01 00:00:00+00`, date: `${key}-01`, mid: `${key}-15 12:00:00+00`, plpgsqlSuffix: `_y${year}m${String(month).padStart(2, '0')}` };
}

/** Noon UTC on the 15th of the month `offset` months away (ISO): safely inside that month in any zone. */
export function midMonth(offset: number, now: Date = testNow()): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 15, 12)).toISOString();
}
