/**
 * `partkit bench` as text: the figures of one run, the ratios, and the issue's goals as this run
 * measured them. Every sentence about speed is computed from the run; none is fixed text.
 */
import type { BenchReport, QueryFigures } from './run.js';

const MB = 1024 * 1024;

function ms(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** `a / b` as "3.2x" (above 1: the second is faster). */
export function ratio(a: number, b: number): number {
  return b > 0 ? a / b : 0;
}

function x(value: number): string {
  return value >= 10 ? `${value.toFixed(0)}x` : `${value.toFixed(2)}x`;
}

function mib(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MiB`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

function queryTable(queries: readonly QueryFigures[], partitions: number, withPlanning: boolean): string[] {
  return table(
    ['query', 'bounds', 'plain ms', 'plain+idx ms', 'partitioned ms', 'part vs plain+idx', 'part vs plain', 'partitions', ...(withPlanning ? ['planning ms idx/part'] : [])],
    queries.map((q) => [
      q.name,
      q.bounds,
      ms(q.plainMs),
      ms(q.plainIndexedMs),
      ms(q.partitionedMs),
      x(ratio(q.plainIndexedMs, q.partitionedMs)),
      x(ratio(q.plainMs, q.partitionedMs)),
      `${q.partitionsScanned}/${partitions}`,
      ...(withPlanning ? [`${ms(q.plainIndexedPlanningMs)} / ${ms(q.partitionedPlanningMs)}`] : []),
    ]),
  );
}

export interface Goal {
  readonly goal: string;
  readonly met: boolean | null;
  readonly measured: string;
}

/** Where each figure is: the warm and cold rounds of the full history, and the production shape. */
function rounds(report: BenchReport): { label: string; queries: readonly QueryFigures[] }[] {
  return [
    { label: 'warm', queries: report.queries },
    ...(report.coldQueries ? [{ label: 'cold', queries: report.coldQueries }] : []),
    { label: 'production shape, warm', queries: report.production.queries },
  ];
}

/** The goals of issues 11 and 23, as this run measured them (null: not measured in this run). */
export function goals(report: BenchReport): Goal[] {
  const literalRanges = report.queries.filter((q) => q.kind === 'time-range' && q.bounds === 'literal');
  const worstWarm = Math.min(...literalRanges.map((q) => ratio(q.plainIndexedMs, q.partitionedMs)));
  const r = report.retention;
  const removeRatio = ratio(r.deleteMs + r.vacuumMs, r.dropMs);
  const walRatio = ratio(r.deleteWalBytes, r.dropWalBytes);
  const insertRatio = ratio(report.inserts.partitionedRowsPerS, report.inserts.plainIndexedRowsPerS);
  const planningExtra = (queries: readonly QueryFigures[]) =>
    queries
      .filter((q) => q.bounds === 'now' && q.kind === 'time-range')
      .map((q) => q.partitionedPlanningMs - queries.find((l) => l.name === q.name && l.bounds === 'literal')!.partitionedPlanningMs);
  const signed = (values: readonly number[]) => values.map((v) => `${v >= 0 ? '+' : ''}${ms(v)}`).join(', ');
  // Issue 23: every literal and param query at least as fast as plain + index, warm and cold, in one run.
  const slower = rounds(report).flatMap(({ label, queries }) =>
    queries.filter((q) => q.bounds !== 'now' && ratio(q.plainIndexedMs, q.partitionedMs) < 1).map((q) => `${q.name} (${q.bounds}, ${label}) ${x(ratio(q.plainIndexedMs, q.partitionedMs))}`),
  );
  const byId = rounds(report).flatMap(({ queries }) => queries.filter((q) => q.name === 'by id alone' && q.bounds !== 'now'));
  const mostOpened = Math.max(...byId.map((q) => q.partitionsScanned));
  return [
    {
      goal: 'every literal and param query: partitioned >= 1.0x plain + index, warm, cold and at the production shape (issue 23)',
      met: report.coldQueries === null ? (slower.length === 0 ? null : false) : slower.length === 0,
      measured: slower.length === 0 ? `all at 1.0x or above${report.coldQueries === null ? ' (no cold figures in this run)' : ''}` : `below 1.0x: ${slower.join(', ')}`,
    },
    { goal: 'by id alone (literal and param) opens at most 2 partitions (issue 23)', met: mostOpened <= 2, measured: `at most ${mostOpened} (${byId.map((q) => `${q.bounds} ${q.partitionsScanned}`).join(', ')}), from EXPLAIN ANALYZE` },
    { goal: 'time-range queries, literal bounds, warm: partitioned >= 1.0x plain + index (issue 11)', met: worstWarm >= 1, measured: `lowest ${x(worstWarm)} (${literalRanges.map((q) => `${q.name} ${x(ratio(q.plainIndexedMs, q.partitionedMs))}`).join(', ')})` },
    {
      goal: 'removing a month: >= 30x faster and >= 100x less WAL than DELETE + VACUUM, space returned (issue 11)',
      met: removeRatio >= 30 && walRatio >= 100 && r.partitionedBytesAfter < r.partitionedBytesBefore,
      measured: `${x(removeRatio)} faster (DELETE ${ms(r.deleteMs)} + VACUUM ${ms(r.vacuumMs)} ms vs DETACH + DROP ${ms(r.dropMs)} ms), ${x(walRatio)} less WAL (${mib(r.deleteWalBytes)} vs ${(r.dropWalBytes / 1024).toFixed(1)} KiB); size partitioned ${mib(r.partitionedBytesBefore)} -> ${mib(r.partitionedBytesAfter)}, plain + index ${mib(r.plainIndexedBytesBefore)} -> ${mib(r.plainIndexedBytesAfter)}`,
    },
    { goal: 'inserts into the current month: partitioned >= 0.9x plain + index (issue 11)', met: insertRatio >= 0.9, measured: `${x(insertRatio)} (${report.inserts.partitionedRowsPerS.toLocaleString('en-US')} vs ${report.inserts.plainIndexedRowsPerS.toLocaleString('en-US')} rows/s)` },
    {
      goal: 'now()-relative bounds: the extra planning cost is printed, at the full history and at the production shape',
      met: true,
      measured: `partitioned planning, now() minus literal (time-range queries): ${signed(planningExtra(report.queries))} ms at ${report.partitions} partitions; ${signed(planningExtra(report.production.queries))} ms at ${report.production.partitions}`,
    },
  ];
}

export function renderBench(report: BenchReport): string {
  const out: string[] = [
    `partkit bench, ${report.date}`,
    `server: ${report.server}; ${Object.entries(report.settings).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    `data:   ${report.rows.toLocaleString('en-US')} rows of messages in each of 3 layouts, ${report.months} months before the current one; partitioned by partkit (strategy ${report.strategy}) into ${report.partitions} partitions; loaded in ${report.loadSeconds}s`,
    `layouts: plain (Semibot's table: primary key and (session_id, created_at), no time index), plain+idx (the same plus btree (created_at)), partitioned (partkit's, btree (created_at) in every month)`,
    `timing: client wall clock per statement, median of ${report.reps} warm runs per layout (one unmeasured run first); "x" = the other layout's median / partitioned median, above 1 = partitioned faster`,
    '',
    'Reads, warm (literal: values in the text; now: bounds from now(); param: bound parameters of an unnamed statement, as node-postgres sends them)',
    ...queryTable(report.queries, report.partitions, true),
  ];
  if (report.coldQueries) {
    out.push('', `Reads, cold (server restarted and OS page cache dropped before each round of one sample per layout, the query planned first; median of ${report.coldReps})`, ...queryTable(report.coldQueries, report.partitions, false));
  } else if (report.coldNote) {
    out.push('', `Reads, cold: ${report.coldNote}.`);
  }
  const ins = report.inserts;
  out.push(
    '',
    `Inserts into the current month (${ins.rowsPerStatement.toLocaleString('en-US')} rows per INSERT ... SELECT, rolled back): plain ${ins.plainRowsPerS.toLocaleString('en-US')} rows/s, plain+idx ${ins.plainIndexedRowsPerS.toLocaleString('en-US')} rows/s, partitioned ${ins.partitionedRowsPerS.toLocaleString('en-US')} rows/s`,
  );
  const r = report.retention;
  const p = report.production;
  out.push(
    '',
    `Removing the oldest month (${r.month}, ${r.rowsRemoved.toLocaleString('en-US')} rows): plain+idx DELETE ${ms(r.deleteMs)} ms + VACUUM ${ms(r.vacuumMs)} ms, ${mib(r.deleteWalBytes)} of WAL, size ${mib(r.plainIndexedBytesBefore)} -> ${mib(r.plainIndexedBytesAfter)} (space kept for reuse); ` +
      `partitioned DETACH + DROP ${ms(r.dropMs)} ms, ${(r.dropWalBytes / 1024).toFixed(1)} KiB of WAL, size ${mib(r.partitionedBytesBefore)} -> ${mib(r.partitionedBytesAfter)}`,
    '',
    `Production shape: the partitioned table with retention ${p.hotMonths} months applied by partkit maintain (${p.archivedMonths} months archived; ${p.partitions} partitions attached: the hot months, the current one, premake and the default; ${p.partitionedRows.toLocaleString('en-US')} rows), against the plain tables keeping their whole history (plain + index ${p.plainIndexedRows.toLocaleString('en-US')} rows); warm`,
    ...queryTable(p.queries, p.partitions, true),
    '',
    'Sizes after loading',
    ...table(
      ['layout', 'heap', 'indexes', 'each index'],
      (['plain', 'plainIndexed', 'partitioned'] as const).map((layout) => {
        const size = report.sizes[layout];
        return [layout, mib(size.heapBytes), mib(size.indexBytes), Object.entries(size.indexes).map(([name, bytes]) => `${name} ${mib(bytes)}`).join(', ')];
      }),
    ),
    '',
    'Goals, as measured in this run',
    ...goals(report).map((g) => `  [${g.met === null ? 'n/a ' : g.met ? 'met ' : 'MISS'}] ${g.goal}: ${g.measured}`),
    '',
    `Done in ${report.totalSeconds}s.`,
  );
  return out.join('\n');
}
