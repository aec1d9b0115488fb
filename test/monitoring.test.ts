/**
 * Something to watch: `partkit status --format prometheus` (node_exporter's textfile collector) and
 * the kit's read-only view `partkit.metrics` (postgres_exporter's custom queries) give the same
 * gauges per table; the alert rules in docs/monitoring/ pass `promtool check rules` and their own
 * `promtool test rules`. Checked with the real tools (Debian's prometheus and
 * prometheus-postgres-exporter, installed by test/targets/prepare.sh), on both strategies, with a
 * table whose name needs quoting and escaping (quotes, a backslash, spaces).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { METRIC_COLUMNS } from '../src/verify/metrics.js';
import { configFiles, partkit } from './helpers/cli.js';
import { monthOf } from './helpers/clock.js';
import { describeWithTools, POSTGRES_EXPORTER, PROMTOOL, promtool, startPostgresExporter, type RunningExporter } from './helpers/monitoring.js';
import { createRole, createTestDatabase, describeTarget, REPO_DIR, runPartkit, runPrinted, type TargetName, type TestDatabase } from './helpers/targets.js';
import { shellQuote } from '../src/core/shell.js';

const DOCS = path.join(REPO_DIR, 'docs', 'monitoring');
/** Table `Odd "Name" \ Logs` in schema public, as SQL writes it, which is also how the metrics label it. */
const ODD_SQL = 'public."Odd ""Name"" \\ Logs"';
const ODD_LABEL = ODD_SQL;
const MESSAGES = 'public.messages';

interface StatusJson {
  readonly tables: readonly { readonly table: string; readonly children: readonly { readonly month: string | null }[]; readonly archived: readonly { readonly month: string | null }[] }[];
}

/** name{labels} -> value, with the labels sorted and postgres_exporter's own `server` label left out. */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const family of parsePrometheusTextFormat(text)) {
    if (!family.name.startsWith('partkit_')) continue;
    expect(family.type, family.name).toBe('GAUGE');
    for (const metric of family.metrics) {
      const labels = Object.entries(metric.labels ?? {})
        .filter(([name]) => name !== 'server')
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, value]) => `${name}=${JSON.stringify(value)}`);
      found.set(`${family.name}{${labels.join(',')}}`, Number(metric.value));
    }
  }
  return found;
}

function value(found: Map<string, number>, column: string, database: string, table: string): number | undefined {
  return found.get(`partkit_${column}{database=${JSON.stringify(database)},table=${JSON.stringify(table)}}`);
}

describeWithTools([PROMTOOL], 'the alert rules in docs/monitoring', () => {
  it('pass promtool check rules, and fire in their own promtool unit tests exactly as documented', async () => {
    const checked = await promtool(['check', 'rules', path.join(DOCS, 'alerts.yml')]);
    expect(checked.exitCode, checked.all).toBe(0);
    expect(checked.all).toMatch(/SUCCESS: 4 rules found/);
    const tested = await promtool(['test', 'rules', path.join(DOCS, 'alerts.test.yml')]);
    expect(tested.exitCode, tested.all).toBe(0);
    // The four alerts the issue asks for, each on the gauge it names and with its threshold.
    const rules = (parseYaml(readFileSync(path.join(DOCS, 'alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string; for?: string }[] }[] }).groups.flatMap((group) => group.rules);
    expect(rules.map(({ alert, expr, for: pending }) => ({ alert, expr, pending }))).toEqual([
      { alert: 'PartkitFewMonthsAhead', expr: 'partkit_months_ahead < 2', pending: '15m' },
      { alert: 'PartkitRowsInDefault', expr: 'partkit_default_rows > 0', pending: '1h' },
      { alert: 'PartkitMaintenanceNotSucceeding', expr: 'partkit_seconds_since_maintenance_success > 3 * 3600', pending: undefined },
      { alert: 'PartkitArchiveNotExported', expr: 'partkit_export_waiting_seconds > 7 * 86400', pending: undefined },
    ]);
    for (const rule of rules) expect(METRIC_COLUMNS.map((c) => `partkit_${c.column}`)).toContain(rule.expr.split(' ')[0]);
  });

  it("the postgres_exporter queries file reads every column of the view, as METRIC_COLUMNS describes it", () => {
    const queries = parseYaml(readFileSync(path.join(DOCS, 'postgres_exporter.yml'), 'utf8')) as Record<string, { query: string; metrics: Record<string, { usage: string; description: string }>[] }>;
    expect(Object.keys(queries)).toEqual(['partkit']);
    expect(queries.partkit!.query).toBe('SELECT * FROM partkit.metrics');
    const columns = queries.partkit!.metrics.map((entry) => Object.entries(entry)[0]!);
    expect(columns.map(([name, { usage }]) => [name, usage])).toEqual([['database', 'LABEL'], ['table', 'LABEL'], ...METRIC_COLUMNS.map(({ column }) => [column, 'GAUGE'])]);
    for (const { column, help } of METRIC_COLUMNS) expect(columns.find(([name]) => name === column)![1].description).toBe(help);
  });
});

const VARIANTS: readonly { target: TargetName; strategy: 'plpgsql' | 'partman' }[] = [
  { target: 'bare18', strategy: 'plpgsql' },
  { target: 'pg15-partman4', strategy: 'partman' },
];

for (const { target, strategy } of VARIANTS) {
  describeTarget(target, `metrics of a ${strategy} setup on ${target}`, () => {
    describeWithTools([PROMTOOL, POSTGRES_EXPORTER], 'with promtool and postgres_exporter', () => {
      let db: TestDatabase;
      let config: string;
      let exporter: RunningExporter | undefined;
      const exportDir = mkdtempSync(path.join(tmpdir(), 'partkit-metrics-export-'));
      const textfileDir = mkdtempSync(path.join(tmpdir(), 'partkit-metrics-textfile-'));
      const old = monthOf(-14);
      /** Months of messages in the archive after the first maintenance. */
      let archived = 0;

      /**
       * The textfile collector's recipe of docs/monitoring.md, as a shell runs it (write aside,
       * then rename), and the file it leaves checked by promtool, then parsed.
       */
      async function statusMetrics(): Promise<Map<string, number>> {
        const file = path.join(textfileDir, 'partkit.prom');
        const ran = await runPrinted(`partkit status --format prometheus --config ${shellQuote(config)} --database-url ${shellQuote(db.url)} > ${file}.$$ && mv ${file}.$$ ${file}`);
        expect(ran.exitCode, ran.stderr).toBe(0);
        const text = readFileSync(file, 'utf8');
        expect(text.endsWith('\n# EOF\n')).toBe(true);
        const checked = await promtool(['check', 'metrics'], text);
        expect(checked.exitCode, `${checked.all}\n${text}`).toBe(0);
        return samples(text);
      }

      beforeAll(async () => {
        db = await createTestDatabase(target, { kit: true });
        await db.query(`CREATE TABLE ${ODD_SQL} (id bigint GENERATED BY DEFAULT AS IDENTITY, created_at timestamptz NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
        config = configFiles('metrics').write('partkit', { strategy, tables: [{ name: MESSAGES }, { name: ODD_SQL }] });
        await partkit(db, ['provision'], { config });
        // A month past the 12 months' retention, which the first maintenance archives.
        if (strategy === 'partman') await db.query(`SET TimeZone = 'UTC'; SELECT partman.create_partition_time(p_parent_table := 'public.messages', p_partition_times := ARRAY['${old.date}']::timestamptz[])`);
        else await db.query('SELECT partkit.create_monthly_partition($1, $2, $3)', [MESSAGES, old.year, old.month]);
        await partkit(db, ['maintain'], { config });
      });
      afterAll(async () => {
        await exporter?.stop();
        await db?.drop();
      });

      it('status --format prometheus passes promtool and shows each table: months ahead, hot months, the archive, the last run', async () => {
        await db.query(`INSERT INTO ${ODD_SQL} (created_at) VALUES ($1)`, [monthOf(10).mid]);
        const found = await statusMetrics();
        const name = db.name;
        // The oracle for the months: status --json, which lists them through its own query.
        const shown = (await partkit(db, ['status', '--json'], { config })).json as unknown as StatusJson;
        const monthStart = (key: string) => Date.parse(`${key}-01T00:00:00Z`) / 1000;
        for (const table of [MESSAGES, ODD_LABEL]) {
          const months = shown.tables.find((t) => t.table === table)!.children.map((child) => child.month!).sort();
          expect(value(found, 'months_ahead', name, table), table).toBe(4);
          expect(value(found, 'oldest_hot_month_timestamp_seconds', name, table), table).toBe(monthStart(months[0]!));
          expect(value(found, 'newest_hot_month_timestamp_seconds', name, table), table).toBe(monthStart(monthOf(4).key));
          expect(months.at(-1), table).toBe(monthOf(4).key);
          expect(value(found, 'last_maintenance_success', name, table), table).toBe(1);
          expect(value(found, 'seconds_since_maintenance_success', name, table), table).toBeLessThan(600);
          expect(value(found, 'last_maintenance_timestamp_seconds', name, table), table).toBeGreaterThan(Date.parse(monthOf(0).date) / 1000);
        }
        expect(value(found, 'default_rows', name, ODD_LABEL)).toBe(1);
        expect(value(found, 'default_rows', name, MESSAGES)).toBe(0);
        // The old month is archived and waits for export since retention made it due: its month's
        // end plus 12 months, about a month ago.
        archived = new Set(shown.tables.find((t) => t.table === MESSAGES)!.archived.map((month) => month.month)).size;
        expect(archived).toBeGreaterThanOrEqual(1);
        expect(value(found, 'archived_months', name, MESSAGES)).toBe(archived);
        expect(value(found, 'exported_months', name, MESSAGES)).toBe(0);
        expect(value(found, 'export_waiting_months', name, MESSAGES)).toBe(archived);
        const due = Date.parse(monthOf(-1).date) / 1000;
        expect(value(found, 'export_waiting_seconds', name, MESSAGES)).toBeGreaterThan(Date.now() / 1000 - due - 3 * 86_400);
        expect(value(found, 'archived_months', name, ODD_LABEL)).toBe(0);
        expect(value(found, 'export_waiting_seconds', name, ODD_LABEL)).toBe(0);
      });

      it('postgres_exporter, as a role that may only read the view, scrapes the same gauges', async () => {
        const monitor = await createRole('partkit_monitor', db, { grants: ['GRANT USAGE ON SCHEMA partkit TO {role}', 'GRANT SELECT ON partkit.metrics TO {role}'] });
        exporter = await startPostgresExporter(`${monitor.url}?sslmode=disable`, path.join(DOCS, 'postgres_exporter.yml'));
        const scraped = samples(await exporter.scrape());
        const printed = await statusMetrics();
        expect([...scraped.keys()].sort()).toEqual([...printed.keys()].sort());
        expect(scraped.size).toBe(METRIC_COLUMNS.length * 2);
        for (const [key, printedValue] of printed) {
          // Ages grow between the two reads; everything else is equal.
          if (/^partkit_(seconds_since_maintenance_success|export_waiting_seconds)\{/.test(key)) expect(Math.abs(scraped.get(key)! - printedValue), key).toBeLessThan(60);
          else expect(scraped.get(key), key).toBe(printedValue);
        }
        const log = await exporter.stop();
        exporter = undefined;
        expect(log).not.toMatch(/level=error/);
      });

      it('an export clears the wait; a failed maintenance shows for its table only, and the rows in the default', async () => {
        await partkit(db, ['archive', 'export', '--to', exportDir], { config });
        // A month after premake that cannot be made: a partition of a few of its days is in the way,
        // and a row of another of its days waits in the default.
        const blocked = monthOf(9);
        await db.query(`CREATE TABLE public.messages_in_the_way PARTITION OF messages FOR VALUES FROM ('${blocked.key}-20 00:00+00') TO ('${blocked.key}-25 00:00+00')`);
        await db.query(`INSERT INTO messages (session_id, role, content, created_at) VALUES (gen_random_uuid(), 'user', 'blocked', $1)`, [`${blocked.key}-05 12:00+00`]);
        await partkit(db, ['maintain'], { config, expectedExit: 1 });
        const found = await statusMetrics();
        const name = db.name;
        expect(value(found, 'exported_months', name, MESSAGES)).toBe(archived);
        expect(value(found, 'export_waiting_months', name, MESSAGES)).toBe(0);
        expect(value(found, 'export_waiting_seconds', name, MESSAGES)).toBe(0);
        expect(value(found, 'last_maintenance_success', name, MESSAGES)).toBe(0);
        expect(value(found, 'default_rows', name, MESSAGES)).toBe(1);
        expect(value(found, 'last_maintenance_success', name, ODD_LABEL)).toBe(1);
        // The odd table's row found its month (10 ahead), so nothing waits there any more.
        expect(value(found, 'default_rows', name, ODD_LABEL)).toBe(0);
        // The failure does not reset the age of the last success: the first maintenance, minutes ago.
        const sinceSuccess = value(found, 'seconds_since_maintenance_success', name, MESSAGES)!;
        expect(sinceSuccess).toBeGreaterThan(value(found, 'seconds_since_maintenance_success', name, ODD_LABEL)!);
      });
    });
  });
}

describeTarget('bare18', 'status --format prometheus refusals', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('bare18');
  });
  afterAll(() => db?.drop());

  it('refuses --json beside it (exit 2), and a database without the kit (exit 4, naming provision)', async () => {
    const both = await runPartkit(['status', '--format', 'prometheus', '--json', '--database-url', db.url]);
    expect(both.exitCode, both.stderr).toBe(2);
    expect(both.stderr).toMatch(/--format prometheus and --json exclude each other/);
    const bare = await runPartkit(['status', '--format', 'prometheus', '--database-url', db.url]);
    expect(bare.exitCode, bare.stderr).toBe(4);
    expect(bare.stderr).toMatch(/metrics view is not installed in schema partkit .*\nhint: Run `partkit provision` first/);
    expect(bare.stdout).toBe('');
  });
});

describeWithTools([PROMTOOL], 'promtool itself', () => {
  it('rejects a broken exposition, so its verdict above can fail', async () => {
    const broken = await promtool(['check', 'metrics'], '# TYPE partkit_months_ahead gauge\npartkit_months_ahead{table="x} 4\n');
    expect(broken.exitCode).not.toBe(0);
  });
});
