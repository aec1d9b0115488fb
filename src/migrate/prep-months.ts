/**
 * migrate prep: the copy's months. Every month the rows span and the current month through
 * premake, each under the name the strategy gives it (so that provision adopts them after the
 * swap), and a default partition for the rest. A name another relation has is refused.
 */
import type { Strategy } from '../core/config.js';
import { ConflictError, MissingCapabilityError } from '../core/errors.js';
import { quoteIdent, quoteLiteral, quoteQualified } from '../core/identifiers.js';
import { addMonths, coveredMonth, currentMonth, monthKey, type ControlType, type Month } from '../core/partitions.js';
import { strategyOf } from '../strategies/index.js';
import { checkDerivedName } from './inspect.js';
import { emptyPart, type PrepContext, type PrepPart } from './prep-part.js';
import type { DataSpan } from './prep-state.js';

/** More months than this from one table's data is almost certainly a bogus timestamp (year 1970 or 2999). */
export const MAX_PREP_MONTHS = 600;

/** The child name each strategy gives a month: the names its maintenance and provision expect. */
export function childName(table: string, month: Month, strategy: Strategy, partmanMajor: number): string {
  return strategyOf(strategy).childName(table, month, partmanMajor);
}

/** A month start as the server reads it under the table's TimeZone (bounds are fixed when created). */
export function boundLiteral(month: Month, type: ControlType): string {
  return type === 'date' ? `${monthKey(month)}-01` : `${monthKey(month)}-01 00:00:00`;
}

function monthsBetween(first: Month, last: Month): Month[] {
  const count = last.year * 12 + last.month - (first.year * 12 + first.month) + 1;
  return Array.from({ length: Math.max(count, 0) }, (_, i) => addMonths(first, i));
}

function parseMonthKey(key: string): Month {
  const [year, month] = key.split('-').map(Number);
  return { year: year!, month: month! };
}

const ordinal = (month: Month) => month.year * 12 + month.month;

/** The months the copy needs: from the first month of data (or now) to the last (or now + premake). */
export function wantedMonths(span: DataSpan | undefined, now: Month, premake: number): { first: Month; last: Month; months: Month[] } {
  const data = span && { first: parseMonthKey(span.first), last: parseMonthKey(span.last) };
  const first = data && ordinal(data.first) < ordinal(now) ? data.first : now;
  const premade = addMonths(now, premake);
  const last = data && ordinal(data.last) > ordinal(premade) ? data.last : premade;
  return { first, last, months: monthsBetween(first, last) };
}

/** The month partitions the copy lacks and its default partition; `months` lists those planned. */
export function planMonths(context: PrepContext, strategy: Strategy, partmanMajor: number, controlType: ControlType): PrepPart & { months: Month[] } {
  const { names, settings, source, copy, label, column, target, table, step } = context;
  const now = currentMonth(settings.timeZone, source.caps.server.now);
  const { first, last, months: wanted } = wantedMonths(source.span, now, settings.premake);
  if (wanted.length > MAX_PREP_MONTHS) {
    const control = quoteIdent(column);
    throw new MissingCapabilityError(
      `${label}.${column} spans ${monthKey(first)} to ${monthKey(last)}: ${wanted.length} months, more than ${MAX_PREP_MONTHS} (nothing was changed).`,
      `Look for bogus values (SELECT min(${control}), max(${control}) FROM ${table.quoted}) and fix them; rows outside the months go to the default partition.`,
    );
  }
  const partitions = copy?.partitions ?? [];
  const covered = new Set(partitions.map(coveredMonth).filter((key): key is string => key !== undefined));
  const months = wanted.filter((month) => !covered.has(monthKey(month)));
  const part = emptyPart();
  const collisions: string[] = [];
  const taken = (name: string) => {
    // The snapshot read the names that start with the table's: every name given here does.
    if (!name.startsWith(names.table.name)) throw new Error(`internal: the snapshot did not read whether ${name} is taken`);
    return source.namesTaken.has(name);
  };
  for (const month of months) {
    const child = childName(names.table.name, month, strategy, partmanMajor);
    checkDerivedName(child, 'Partition name');
    if (taken(child)) collisions.push(child);
    part.steps.push(
      step(
        `partition ${child}: ${monthKey(month)} of ${names.partitioned.name} (${settings.timeZone})`,
        `CREATE TABLE ${quoteQualified({ schema: names.table.schema, name: child })} PARTITION OF ${target} FOR VALUES FROM (${quoteLiteral(boundLiteral(month, controlType))}) TO (${quoteLiteral(boundLiteral(addMonths(month, 1), controlType))})`,
        { timeZone: settings.timeZone },
      ),
    );
  }
  const defaultName = `${names.table.name}_default`;
  checkDerivedName(defaultName, 'Default partition name');
  if (!partitions.some((partition) => partition.isDefault)) {
    if (taken(defaultName)) collisions.push(defaultName);
    part.steps.push(step(`default partition ${defaultName} of ${names.partitioned.name} (rows outside every month)`, `CREATE TABLE ${quoteQualified({ schema: names.table.schema, name: defaultName })} PARTITION OF ${target} DEFAULT`));
  }
  if (collisions.length > 0) {
    throw new ConflictError(`These names are taken by other relations in schema ${names.table.schema}: ${collisions.join(', ')} (nothing was changed).`, 'Rename or drop them; partkit gives the partitions their final names now, so that provision adopts them after the swap.');
  }
  return { ...part, months };
}
