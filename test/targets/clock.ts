/**
 * The test run's clock. Normally the real one. With PARTKIT_TEST_CLOCK set to a moment (ISO 8601,
 * e.g. `2027-01-31T23:58:00Z`), the global set-up starts every server under libfaketime shifted so
 * that its clock reads that moment at start-up, and test/helpers run every partkit process with
 * the same shift (`faketime -f +Ns`). Tests read "now" through test/helpers/clock.ts only, so a
 * whole run can be moved to a month end, a New Year or a leap day (.ci/run does).
 */
export interface TestClock {
  /** Seconds added to the real clock by every server and partkit process of the run; 0 = real time. */
  readonly offsetSeconds: number;
  /** The moment the run's clock was set to (ISO), or '' for the real clock. */
  readonly startsAt: string;
}

export function clockFromEnvironment(value = process.env.PARTKIT_TEST_CLOCK): TestClock {
  if (value === undefined || value.trim() === '') return { offsetSeconds: 0, startsAt: '' };
  const moment = Date.parse(value);
  if (Number.isNaN(moment)) throw new Error(`PARTKIT_TEST_CLOCK=${JSON.stringify(value)} is not a date; use ISO 8601, e.g. 2027-01-31T23:58:00Z`);
  return { offsetSeconds: Math.round((moment - Date.now()) / 1000), startsAt: new Date(moment).toISOString() };
}
