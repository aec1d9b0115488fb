/** Comparing intervals as PostgreSQL stores them (months and days), whatever their spelling. */

export interface MonthsDays {
  readonly months: number;
  readonly days: number;
}

const UNITS: Record<string, MonthsDays> = {
  year: { months: 12, days: 0 },
  years: { months: 12, days: 0 },
  mon: { months: 1, days: 0 },
  mons: { months: 1, days: 0 },
  month: { months: 1, days: 0 },
  months: { months: 1, days: 0 },
  week: { months: 0, days: 7 },
  weeks: { months: 0, days: 7 },
  day: { months: 0, days: 1 },
  days: { months: 0, days: 1 },
};

/** Parses '12 months', '1 year', '1 year 6 mons', '90 days'; undefined for anything else. */
export function toMonthsDays(text: string | null | undefined): MonthsDays | undefined {
  if (text === null || text === undefined) return undefined;
  let months = 0;
  let days = 0;
  const rest = text.trim().toLowerCase().replace(/(-?\d+)\s*([a-z]+)/g, (_, amount: string, unit: string) => {
    const scale = UNITS[unit];
    if (!scale) return 'x';
    months += Number(amount) * scale.months;
    days += Number(amount) * scale.days;
    return '';
  });
  if (rest.trim() !== '') return undefined;
  return { months, days };
}

export function sameInterval(a: string | null | undefined, b: string | null | undefined): boolean {
  if (a == null || b == null) return (a ?? null) === (b ?? null);
  const x = toMonthsDays(a);
  const y = toMonthsDays(b);
  return x !== undefined && y !== undefined && x.months === y.months && x.days === y.days;
}

/** An interval as the config spells it ("12 months", "90 days", "2 weeks"); other intervals as given. */
export function configIntervalText(text: string): string {
  const interval = toMonthsDays(text);
  if (!interval) return text;
  const spell = (amount: number, unit: string) => `${amount} ${unit}${amount === 1 ? '' : 's'}`;
  if (interval.days === 0 && interval.months > 0) return spell(interval.months, 'month');
  if (interval.months === 0 && interval.days > 0) return interval.days % 7 === 0 ? spell(interval.days / 7, 'week') : spell(interval.days, 'day');
  return text;
}
