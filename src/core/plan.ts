/**
 * Plans are values: a list of steps that can be printed (--dry-run) or applied, never both.
 * Nothing in a plan runs while it is built.
 */
import { UsageError } from './errors.js';
import { quoteIdent, quoteLiteral } from './identifiers.js';

export interface SqlStep {
  readonly kind: 'sql';
  /** One line that says what the step changes, shown in output and as a comment in --dry-run. */
  readonly description: string;
  /** The statement. With params it must be a single statement using $1..$n. */
  readonly sql: string;
  readonly params?: readonly unknown[];
  /** 'app' (the target database) or 'cron' (pg_cron's cron.database_name). */
  readonly database?: 'app' | 'cron';
  /** Session time zone while the step runs (partition boundaries follow it). */
  readonly timeZone?: string;
  /** False for statements that cannot run inside a transaction block (CALL of a committing procedure). */
  readonly transaction?: boolean;
  /** The table the step is about, for per-table reports. */
  readonly table?: string;
  /** Consecutive steps with the same group run in one transaction: all or nothing. */
  readonly group?: string;
}

/** Installs the kit's own schema objects with postgres-migrations. */
export interface MigrationsStep {
  readonly kind: 'migrations';
  readonly description: string;
  readonly schema: string;
  /** Folder with the numbered migration files. */
  readonly directory: string;
  /** psql script that installs the same objects (for --dry-run). */
  readonly psqlScript: string;
  readonly pending: readonly string[];
}

export type Step = SqlStep | MigrationsStep;

export interface Plan {
  readonly steps: readonly Step[];
}

export function sqlStep(description: string, sql: string, options: Omit<SqlStep, 'kind' | 'description' | 'sql'> = {}): SqlStep {
  return { kind: 'sql', description, sql, ...options };
}

/** Inlines $n parameters as literals so the statement can be pasted into psql. */
export function inlineParams(sql: string, params: readonly unknown[] = []): string {
  if (params.length === 0) return sql;
  return sql.replace(/\$(\d+)/g, (whole, index: string) => {
    const position = Number(index) - 1;
    return position < params.length ? quoteLiteral(params[position]) : whole;
  });
}

function terminated(sql: string): string {
  const text = sql.trim();
  return text.endsWith(';') ? text : `${text};`;
}

/**
 * What runs together: a migrations step alone; a non-transactional step alone (even inside a
 * group: it cannot share a transaction block, and every step must still run); otherwise
 * consecutive transactional steps of one `group` on one database, in one transaction.
 * renderPlan and the executor (Database.applyPlan) both split plans with this, so the script
 * --dry-run prints and what apply runs cannot drift apart.
 */
export function planUnits(steps: readonly Step[]): Step[][] {
  const units: Step[][] = [];
  let open: SqlStep[] | undefined;
  for (const step of steps) {
    const joins =
      open !== undefined &&
      step.kind === 'sql' &&
      step.transaction !== false &&
      step.group !== undefined &&
      open[0]!.group === step.group &&
      (open[0]!.database ?? 'app') === (step.database ?? 'app');
    if (joins) {
      open!.push(step as SqlStep);
      continue;
    }
    const unit: Step[] = [step];
    units.push(unit);
    open = step.kind === 'sql' && step.transaction !== false && step.group !== undefined ? (unit as SqlStep[]) : undefined;
  }
  return units;
}

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * One `--` comment line holding any text: control characters (newline, CR, tab, ...) are shown
 * as \uXXXX escapes, so text from a config, a table name or the server cannot end the comment
 * and smuggle a statement into a psql script.
 */
export function sqlComment(text: string): string {
  return `-- ${text.replace(new RegExp(CONTROL_CHARACTERS, 'g'), (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)}`;
}

/** A psql meta-command argument, single-quoted (psql reads '' and backslash escapes inside). */
function psqlArgument(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''").replaceAll('\n', '\\n').replaceAll('\r', '\\r')}'`;
}

/**
 * The plan as a psql script: exactly what apply would run, in the same order, with the same
 * transactions, settings and database switches.
 */
export function renderPlan(plan: Plan, context: { appDatabase: string; cronDatabase?: string; lockTimeout: string }): string {
  const lines: string[] = [sqlComment(`partkit plan: ${plan.steps.length} step(s) for database ${context.appDatabase}`), '\\set ON_ERROR_STOP on'];
  let current: 'app' | 'cron' = 'app';
  const connect = (target: 'app' | 'cron') => {
    const database = target === 'cron' ? context.cronDatabase ?? 'postgres' : context.appDatabase;
    // A psql meta-command ends at a newline whatever the quoting: such a name cannot be scripted.
    if (CONTROL_CHARACTERS.test(database)) throw new UsageError(`Database name ${JSON.stringify(database)} contains a control character; it cannot be written into a psql script.`);
    lines.push(`\\connect ${quoteIdent(database)}`);
    current = target;
  };
  let number = 0;
  for (const unit of planUnits(plan.steps)) {
    const [first] = unit;
    if (first!.kind === 'migrations') {
      number += 1;
      lines.push('', sqlComment(`step ${number}: ${first!.description}`), `\\set schema ${psqlArgument(first!.schema)}`, `\\i ${psqlArgument(first!.psqlScript)}`);
      continue;
    }
    const steps = unit as SqlStep[];
    const target = first!.database ?? 'app';
    if (target !== current) {
      lines.push('');
      connect(target);
    }
    if (first!.transaction === false) {
      number += 1;
      lines.push('', sqlComment(`step ${number}: ${first!.description}`));
      if (first!.timeZone) lines.push(`SET TimeZone = ${quoteLiteral(first!.timeZone)};`);
      lines.push(terminated(inlineParams(first!.sql, first!.params)));
      // The executor resets it too: the next step must not inherit this step's zone.
      if (first!.timeZone) lines.push('RESET TimeZone;');
      continue;
    }
    lines.push('', 'BEGIN;', `SET LOCAL lock_timeout = ${quoteLiteral(context.lockTimeout)};`);
    for (const step of steps) {
      number += 1;
      lines.push(sqlComment(`step ${number}: ${step.description}`));
      if (step.timeZone) lines.push(`SET LOCAL TimeZone = ${quoteLiteral(step.timeZone)};`);
      lines.push(terminated(inlineParams(step.sql, step.params)));
    }
    lines.push('COMMIT;');
  }
  if (current !== 'app') {
    lines.push('');
    connect('app');
  }
  return `${lines.join('\n')}\n`;
}
