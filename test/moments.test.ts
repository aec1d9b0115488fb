/**
 * Time is an input, in process: partkit's TypeScript planners (provision's months, partition create,
 * the months a child covers) count months with Intl, while maintenance and pg_partman count them on
 * the server with date_trunc in the table's zone. Both must name the same month at every instant,
 * most of all at the instants where month arithmetic breaks: a second before, at and after each month
 * start in each zone, around a New Year, a leap day, a century's non-leap February, daylight saving
 * switches, and in zones 30 and 45 minutes off, 14 hours ahead and 11 hours behind.
 *
 * The server is the authority (it is what maintenance runs on). One query per target reads every
 * instant's month from it; each case then checks the planners against it, with no faked clock.
 */
import { beforeAll, expect, it } from 'vitest';
import { resolveConfig } from '../src/core/config.js';
import { addMonths, currentMonth, monthKey, monthStartLiteral } from '../src/core/partitions.js';
import { initialMonths } from '../src/strategies/registration.js';
import { createTestDatabase, describeTarget, type TargetName } from './helpers/targets.js';

const ZONES = [
  'UTC',
  'Asia/Shanghai', // +8: already next month while UTC is not
  'America/New_York', // -5/-4, DST switches in March and November
  'Pacific/Kiritimati', // +14
  'Pacific/Pago_Pago', // -11
  'Asia/Kathmandu', // +5:45
  'America/St_Johns', // -3:30/-2:30
  'Australia/Lord_Howe', // +10:30/+11, a 30-minute DST switch
] as const;

/** Month starts to probe, in each zone: 'YYYY-MM'. */
const MONTH_STARTS = [
  '2027-01', // New Year
  '2027-03', // after a 28-day February
  '2028-03', // after a leap day
  '2028-04', // the month after New York sprang forward (and Lord Howe fell back)
  '2028-11', // New York falls back on the 5th
  '2100-03', // 2100 is not a leap year
] as const;

/** Seconds around each month start. */
const OFFSETS = [-1, 0, 1] as const;
const PREMAKE = 4;

interface Probe {
  readonly zone: string;
  readonly monthStart: string;
  readonly offset: number;
}

interface ServerAnswer {
  /** The instant, as the server computed it: the zone's month start plus the offset. */
  readonly at: Date;
  /** date_trunc('month', at AT TIME ZONE zone), as 'YYYY-MM'. */
  readonly month: string;
  /** The months from that one through premake, as the server adds months. */
  readonly ahead: string[];
  /** monthStartLiteral of the probed month read back by the server in the zone: the same instant as the month start. */
  readonly literalIsStart: boolean;
}

const PROBES: Probe[] = ZONES.flatMap((zone) => MONTH_STARTS.flatMap((monthStart) => OFFSETS.map((offset) => ({ zone, monthStart, offset }))));

function expectedMonth(probe: Probe): string {
  const [year, month] = probe.monthStart.split('-').map(Number) as [number, number];
  return monthKey(addMonths({ year, month }, probe.offset < 0 ? -1 : 0));
}

for (const name of ['bare18', 'pg15-partman4'] as TargetName[]) {
  describeTarget(name, `months at their edges: the planners and ${name} agree`, () => {
    const answers = new Map<string, ServerAnswer>();
    const key = (probe: Probe) => `${probe.zone} ${probe.monthStart} ${probe.offset}`;

    beforeAll(async () => {
      const db = await createTestDatabase(name);
      try {
        const literal = (probe: Probe) => monthStartLiteral({ year: Number(probe.monthStart.slice(0, 4)), month: Number(probe.monthStart.slice(5)) });
        const { rows } = await db.query<{ zone: string; month_start: string; offset: number; at: Date; month: string; ahead: string[]; literal_is_start: boolean }>(
          `SELECT p.zone, p.month_start, p.offset, i.at,
                  to_char(date_trunc('month', i.at AT TIME ZONE p.zone), 'YYYY-MM') AS month,
                  ARRAY(SELECT to_char(date_trunc('month', i.at AT TIME ZONE p.zone) + make_interval(months => k), 'YYYY-MM')
                          FROM generate_series(0, $5::int) k ORDER BY k) AS ahead,
                  (p.literal::timestamp AT TIME ZONE p.zone) = s.start AS literal_is_start
             FROM unnest($1::text[], $2::text[], $3::int[], $4::text[]) AS p(zone, month_start, "offset", literal)
            CROSS JOIN LATERAL (SELECT ((p.month_start || '-01')::timestamp AT TIME ZONE p.zone) AS start) s
            CROSS JOIN LATERAL (SELECT s.start + make_interval(secs => p.offset) AS at) i`,
          [PROBES.map((p) => p.zone), PROBES.map((p) => p.monthStart), PROBES.map((p) => p.offset), PROBES.map(literal), PREMAKE],
        );
        for (const row of rows) {
          answers.set(key({ zone: row.zone, monthStart: row.month_start, offset: row.offset }), { at: row.at, month: row.month, ahead: row.ahead, literalIsStart: row.literal_is_start });
        }
      } finally {
        await db.drop();
      }
    });

    it.each(PROBES.map((probe) => [`${probe.zone}, ${probe.offset >= 0 ? '+' : ''}${probe.offset} s around ${probe.monthStart}`, probe] as const))('%s', (_label, probe) => {
      const server = answers.get(key(probe));
      expect(server, 'the server answered this probe').toBeDefined();
      // The server's own arithmetic is what the probe says: the month before its start, the month from it on.
      expect(server!.month).toBe(expectedMonth(probe));
      expect(server!.literalIsStart, `'${probe.monthStart}-01 00:00:00' read in ${probe.zone} is the month's start`).toBe(true);
      // The planners count the same months from the same instant.
      expect(monthKey(currentMonth(probe.zone, server!.at))).toBe(server!.month);
      const table = resolveConfig({ tables: [{ name: 'public.messages', timeZone: probe.zone, premake: PREMAKE }] }, 'moments test').tables[0]!;
      expect(initialMonths(table, server!.at).map(monthKey)).toEqual(server!.ahead);
    });
  });
}
