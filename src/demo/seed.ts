/**
 * The demo's sample rows: what each row of the four Semibot tables holds, spread evenly over the
 * months before the server's now and the current month so far, loaded one month per step.
 */
import type { TableConfig } from '../core/config.js';
import { quoteIdent, quoteQualified } from '../core/identifiers.js';
import { sqlStep, type SqlStep } from '../core/plan.js';
import { UsageError } from '../core/errors.js';

/** Sample rows go this far back; with 12 months of retention, the oldest 6 months get archived. */
export const HISTORY_MONTHS = 18;
/** Most sample rows per table that --rows accepts (1,000,000 load in about 90 s on 2 cores). */
export const MAX_ROWS = 10_000_000;

/**
 * What each sample row holds besides created_at, as a function of its row number g (a bigint:
 * every product of g stays far below 2^63 for g up to MAX_ROWS, where int4 overflowed at
 * g * 104729 past row 20,505 and g * 7919 past row 271,181).
 */
const SAMPLE_ROWS: Record<string, { columns: string; select: string }> = {
  messages: {
    columns: 'session_id, role, content, created_at',
    select: `md5('session' || (g % 997))::uuid, (ARRAY['user', 'assistant', 'system'])[1 + g % 3], 'sample message ' || g`,
  },
  execution_logs: {
    columns: 'execution_id, agent_id, level, message, metadata, created_at',
    select: `md5('execution' || (g % 4999))::uuid, md5('agent' || (g % 31))::uuid, (ARRAY['debug', 'info', 'warn', 'error'])[1 + g % 4], 'step ' || (g % 10) || ' finished', jsonb_build_object('step', g % 10)`,
  },
  api_key_logs: {
    columns: 'api_key_id, endpoint, method, status_code, latency_ms, ip_address, created_at',
    select: `md5('key' || (g % 211))::uuid, (ARRAY['/v1/chat', '/v1/agents', '/v1/sessions', '/v1/usage'])[1 + g % 4], (ARRAY['GET', 'POST'])[1 + g % 2], (ARRAY[200, 200, 200, 201, 400, 429, 500])[1 + g % 7]::smallint, 5 + (g * 7919) % 900, ('10.0.' || (g % 250) || '.' || (g % 199 + 1))::inet`,
  },
  usage_records: {
    columns: 'organization_id, user_id, resource_type, quantity, cost_usd, metadata, created_at',
    select: `md5('org' || (g % 97))::uuid, md5('user' || (g % 1013))::uuid, (ARRAY['tokens', 'requests', 'storage'])[1 + g % 3], 1 + (g * 104729) % 5000, round(((g * 104729) % 5000) * 0.000002, 6), '{}'::jsonb`,
  },
};

/** Months that hold sample rows: the HISTORY_MONTHS before the current one, and the current one so far. */
const SAMPLE_MONTHS = HISTORY_MONTHS + 1;

/**
 * Rows $1..$2 into the month that is $4 months before the month of $3 (the server's "now") in
 * zone $5, spread evenly from the month's start to its end, or to "now" for the current month.
 * Month arithmetic happens in that zone on the server, so the rows land in the partitions of
 * those months on any day, the 1st and the 31st included; the spread is done on epoch seconds
 * so that a DST change inside the month cannot push a row past its end. A table with time-ordered
 * ids gets each row's id made here from its created_at, by the kit's uuid_v7_at in `kitSchema`:
 * the same id the table's trigger would make, without a trigger call per row (a quarter of the load).
 */
const LOAD_MONTH_SQL = (table: string, sample: { columns: string; select: string }, kitSchema: string | null) => `INSERT INTO ${table} (${kitSchema === null ? '' : 'id, '}${sample.columns})
SELECT ${kitSchema === null ? '' : `${quoteIdent(kitSchema)}.uuid_v7_at(r.at), `}${sample.select}, r.at
  FROM (SELECT extract(epoch FROM s.start AT TIME ZONE $5::text)::float8 AS lower,
               extract(epoch FROM least((s.start + interval '1 month') AT TIME ZONE $5::text, $3::timestamptz))::float8 AS upper
          FROM (SELECT date_trunc('month', $3::timestamptz AT TIME ZONE $5::text) - make_interval(months => $4::int) AS start) AS s) AS m,
       generate_series($1::bigint, $2::bigint) AS g,
       LATERAL (SELECT to_timestamp(m.lower + ((g - $1::bigint)::float8 + 0.5) / ($2::bigint - $1::bigint + 1)::float8 * (m.upper - m.lower)) AS at) AS r`;

/**
 * Sample rows `first`..`last` (row numbers, 1-based) into the month `monthsBack` months before
 * the month of `now` (an ISO timestamp from the server), in the table's zone. `kitSchema` is where
 * the kit is installed, for the ids of a table with time-ordered ids.
 */
export function sampleRowsStep(table: TableConfig, first: number, last: number, monthsBack: number, now: string, kitSchema: string): SqlStep {
  const sample = SAMPLE_ROWS[table.name.name];
  if (!sample) throw new UsageError(`partkit demo has no sample rows for ${table.name.name}.`);
  return sqlStep(
    `load sample rows ${first}-${last} into ${table.name.schema}.${table.name.name}, ${monthsBack} month(s) back`,
    LOAD_MONTH_SQL(quoteQualified(table.name), sample, table.ids === 'uuidv7' ? kitSchema : null),
    { params: [first, last, now, monthsBack, table.timeZone], table: `${table.name.schema}.${table.name.name}` },
  );
}

/**
 * One INSERT ... SELECT per month, oldest first, each filling one partition with an equal share
 * of the rows (the current month too, even on its 1st, so that every month shows rows).
 */
export function loadSteps(table: TableConfig, rows: number, now: string, kitSchema: string): SqlStep[] {
  const steps: SqlStep[] = [];
  for (let slot = 0; slot < SAMPLE_MONTHS; slot += 1) {
    const first = Math.floor((slot * rows) / SAMPLE_MONTHS) + 1;
    const last = Math.floor(((slot + 1) * rows) / SAMPLE_MONTHS);
    if (first <= last) steps.push(sampleRowsStep(table, first, last, SAMPLE_MONTHS - 1 - slot, now, kitSchema));
  }
  return steps;
}

export class Progress {
  private done = 0;
  constructor(
    private readonly total: number,
    private readonly enabled: boolean,
  ) {}

  advance(count: number, label: string): void {
    this.done += count;
    if (!this.enabled || this.total === 0) return;
    const width = 30;
    const share = Math.min(1, this.done / this.total);
    const bar = '#'.repeat(Math.round(share * width)).padEnd(width, '.');
    process.stderr.write(`\r  [${bar}] ${String(Math.round(share * 100)).padStart(3)}% ${label.padEnd(28)}`);
    if (this.done >= this.total) process.stderr.write('\n');
  }
}
