/**
 * Plans are values: a list of steps that can be printed (--dry-run) or applied, never both.
 * Nothing in a plan runs while it is built.
 */
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
 * The plan as a psql script: exactly what apply would run, in the same order, with the same
 * transactions, settings and database switches.
 */
export function renderPlan(plan: Plan, context: { appDatabase: string; cronDatabase?: string; lockTimeout: string }): string {
  const lines: string[] = [`-- partkit plan: ${plan.steps.length} step(s) for database ${context.appDatabase}`, '\\set ON_ERROR_STOP on'];
  let current: 'app' | 'cron' = 'app';
  for (const [index, step] of plan.steps.entries()) {
    lines.push('', `-- step ${index + 1}: ${step.description}`);
    if (step.kind === 'migrations') {
      lines.push(`\\set schema ${step.schema}`, `\\i ${step.psqlScript}`);
      continue;
    }
    const target = step.database ?? 'app';
    if (target !== current) {
      const database = target === 'cron' ? context.cronDatabase ?? 'postgres' : context.appDatabase;
      lines.push(`\\connect ${quoteIdent(database)}`);
      current = target;
    }
    const statement = terminated(inlineParams(step.sql, step.params));
    if (step.transaction === false) {
      if (step.timeZone) lines.push(`SET TimeZone = ${quoteLiteral(step.timeZone)};`);
      lines.push(statement);
      continue;
    }
    const previous = plan.steps[index - 1];
    const next = plan.steps[index + 1];
    const continuesGroup = step.group !== undefined && previous?.kind === 'sql' && previous.group === step.group;
    const groupGoesOn = step.group !== undefined && next?.kind === 'sql' && next.group === step.group;
    if (!continuesGroup) lines.push('BEGIN;', `SET LOCAL lock_timeout = ${quoteLiteral(context.lockTimeout)};`);
    if (step.timeZone) lines.push(`SET LOCAL TimeZone = ${quoteLiteral(step.timeZone)};`);
    lines.push(statement);
    if (!groupGoesOn) lines.push('COMMIT;');
  }
  if (current !== 'app') lines.push('', `\\connect ${quoteIdent(context.appDatabase)}`);
  return `${lines.join('\n')}\n`;
}
