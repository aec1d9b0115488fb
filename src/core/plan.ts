/**
 * Plans are values: a list of steps that can be printed (--dry-run) or applied, never both,
 * through the one runner (src/core/runner.ts).
 * Nothing in a plan runs while it is built.
 */
import { UsageError } from './errors.js';
import { quoteIdent, quoteLiteral } from './identifiers.js';
import { kitInstallStatements, type KitMigration } from './kit-install.js';

export type { KitMigration };

export interface SqlStep {
  readonly kind: 'sql';
  /** Stable name of the step, for code that looks a step up in the results (never match a description). */
  readonly id?: string;
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

/**
 * Installs the kit's own schema objects: the pending migration files, inlined, with the rows
 * postgres-migrations would record for them (so its bookkeeping sees the kit as installed).
 */
export interface MigrationsStep {
  readonly kind: 'migrations';
  /** Stable name of the step, for code that looks a step up (never match a description). */
  readonly id?: string;
  readonly description: string;
  readonly schema: string;
  /** Every kit migration (0 is postgres-migrations' own table): recorded hashes are checked against these. */
  readonly known: readonly KitMigration[];
  /** File names of the migrations this step applies, in order (a subset of known). */
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
 * walkPlan splits plans with this, and both sinks (renderPlan, Database.applyPlan) consume that
 * one walk, so the script --dry-run prints and what apply runs cannot drift apart. Steps that a
 * command runs as separate plans must not share a group when one plan holds them all (a dry run).
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

/** One statement as the runner sends it, in the order it sends them. */
export interface Statement {
  readonly sql: string;
  readonly params?: readonly unknown[];
  /** The step whose statement this is; its rows are that step's result. */
  readonly step?: Step;
  /** Comment lines printed before the statement (the step's number and description, or why). */
  readonly comments?: readonly string[];
  /** BEGIN / COMMIT of the unit: `--format sql` leaves them to the app's migration runner. */
  readonly control?: 'begin' | 'commit';
  /**
   * A `SET LOCAL` of the unit's transaction: `--format sql` sets it for the session instead (and puts
   * it back), because a migration file may run without a transaction, where SET LOCAL does nothing.
   */
  readonly local?: { readonly name: 'lock_timeout' | 'TimeZone'; readonly value: string };
}

/** One unit of planUnits, walked into the statements that run it. */
export interface Unit {
  readonly database: 'app' | 'cron';
  readonly transactional: boolean;
  readonly steps: readonly Step[];
  readonly statements: readonly Statement[];
  /** Run after a failed non-transactional unit (RESET TimeZone), so the session keeps its zone. */
  readonly cleanup?: Statement;
}

/**
 * The walk of a plan: the exact statements that run it, unit by unit. The runner has two sinks of
 * this one walk (src/core/runner.ts): Database.applyPlan sends each statement, renderPlan prints
 * it. Neither groups, sets a zone or wraps a transaction on its own, so they cannot disagree.
 */
export function walkPlan(plan: Plan, lockTimeout: string): Unit[] {
  let number = 0;
  const label = (step: Step) => sqlComment(`step ${(number += 1)}: ${step.description}`);
  const begin: Statement = { sql: 'BEGIN', control: 'begin' };
  const timeout: Statement = { sql: `SET LOCAL lock_timeout = ${quoteLiteral(lockTimeout)}`, local: { name: 'lock_timeout', value: lockTimeout } };
  const commit: Statement = { sql: 'COMMIT', control: 'commit' };
  return planUnits(plan.steps).map((unit): Unit => {
    const first = unit[0]!;
    if (first.kind === 'migrations') {
      return { database: 'app', transactional: true, steps: unit, statements: [begin, timeout, ...installStatements(first, label(first)), commit] };
    }
    const steps = unit as SqlStep[];
    const database = first.database ?? 'app';
    if (first.transaction === false) {
      const zone = first.timeZone ? quoteLiteral(first.timeZone) : undefined;
      const comments = [label(first)];
      const statements: Statement[] = zone
        ? [{ sql: `SET TimeZone = ${zone}`, comments }, { sql: first.sql, params: first.params ?? [], step: first }, { sql: 'RESET TimeZone' }]
        : [{ sql: first.sql, params: first.params ?? [], step: first, comments }];
      return { database, transactional: false, steps, statements, ...(zone ? { cleanup: { sql: 'RESET TimeZone' } } : {}) };
    }
    const statements: Statement[] = [begin, timeout];
    for (const step of steps) {
      const comments = [label(step)];
      if (step.timeZone) statements.push({ sql: `SET LOCAL TimeZone = ${quoteLiteral(step.timeZone)}`, comments, local: { name: 'TimeZone', value: step.timeZone } });
      statements.push({ sql: step.sql, params: step.params ?? [], step, ...(step.timeZone ? {} : { comments }) });
    }
    statements.push(commit);
    return { database, transactional: true, steps, statements };
  });
}

/**
 * The kit install (src/core/kit-install.ts) as the unit's statements: the first carries the step
 * (its rows are the step's result) and the step's label.
 */
function installStatements(step: MigrationsStep, label: string): Statement[] {
  return kitInstallStatements(step.schema, step.known, step.pending).map((statement, index) => ({
    sql: statement.sql,
    ...(index === 0 ? { step, comments: [label, ...(statement.comments ?? [])] } : statement.comments ? { comments: statement.comments } : {}),
  }));
}

/** A statement as a script holds it: parameters inlined as literals, ended by a semicolon. */
export function statementText(statement: Pick<Statement, 'sql' | 'params'>): string {
  return terminated(inlineParams(statement.sql, statement.params));
}

export interface RenderContext {
  readonly appDatabase: string;
  readonly cronDatabase?: string | undefined;
  readonly lockTimeout: string;
}

/**
 * The plan as a psql script: exactly what apply would run, in the same order, with the same
 * transactions, settings and database switches.
 */
export function renderPlan(plan: Plan, context: RenderContext): string {
  const lines: string[] = [sqlComment(`partkit plan: ${plan.steps.length} step(s) for database ${context.appDatabase}`), '\\set ON_ERROR_STOP on'];
  let current: 'app' | 'cron' = 'app';
  const connect = (target: 'app' | 'cron') => {
    const database = target === 'cron' ? context.cronDatabase ?? 'postgres' : context.appDatabase;
    // A psql meta-command ends at a newline whatever the quoting: such a name cannot be scripted.
    if (CONTROL_CHARACTERS.test(database)) throw new UsageError(`Database name ${JSON.stringify(database)} contains a control character; it cannot be written into a psql script.`);
    lines.push(`\\connect ${quoteIdent(database)}`);
    current = target;
  };
  for (const unit of walkPlan(plan, context.lockTimeout)) {
    if (unit.database !== current) {
      lines.push('');
      connect(unit.database);
    }
    lines.push('');
    for (const statement of unit.statements) lines.push(...(statement.comments ?? []), statementText(statement));
  }
  if (current !== 'app') {
    lines.push('');
    connect('app');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Rounds of an operation held in one plan, for a dry run: each round's groups are kept to that
 * round (a group name gets the round's number), so that the rendered script has the transactions
 * the rounds run in, even where two rounds use the same group (a fill's replay, a drain's).
 */
export function roundsPlan(rounds: readonly Plan[]): Plan {
  return {
    steps: rounds.flatMap((round, index) =>
      round.steps.map((step) => (step.kind === 'sql' && step.group !== undefined ? { ...step, group: `${step.group} (round ${index + 1})` } : step)),
    ),
  };
}

/**
 * The dry run of an operation in rounds (src/core/runner.ts runPhases): the first round of each
 * phase as a psql script (renderPlan), then, as comments, what the later rounds would do. Later
 * rounds are not printed: each is planned from what the server holds after the round before.
 */
export function renderRounds(rounds: readonly Plan[], later: readonly string[], context: RenderContext): string {
  const script = renderPlan(roundsPlan(rounds), context);
  if (later.length === 0) return script;
  return `${script}\n${[
    'Later rounds are not printed: each is planned from what the server holds after the round before.',
    ...later,
  ]
    .map((line) => sqlComment(line))
    .join('\n')}\n`;
}

/** `--format sql`: plain SQL files, for an application's own migration runner. */
export interface SqlFiles {
  /** For the application database: its migration file. */
  readonly app: string;
  /** For pg_cron's database: the maintenance job's file, or null when the plan schedules none. */
  readonly cron: string | null;
}

/** The session settings a migration file sets, saved first and put back at its end. */
const SESSION_SETTINGS = ['lock_timeout', 'TimeZone'] as const;

/**
 * The plan as the application database's migration file: plain SQL without psql meta-commands
 * (no \connect, no \set, no \i) and without BEGIN/COMMIT, which belong to whoever runs it. It is
 * right however it is run: in one transaction (psql -1, postgres-migrations, node-pg-migrate,
 * Flyway) or statement by statement (plain psql -f). Nothing depends on SET LOCAL, which does
 * nothing outside a transaction: the settings the runner sets LOCAL (lock_timeout, each step's
 * TimeZone, the kit's search_path) are set for the session, and the file puts the session's own
 * values back at its end and wherever a unit's transaction would have ended. Steps for pg_cron's
 * database are left out: they run in another database (the cron file, src/core/schedule.ts).
 * `header` lines come first, as comments; they must name no path of this machine.
 */
export function renderMigrationFile(plan: Plan, context: RenderContext & { readonly header: readonly string[] }): string {
  const saved = (name: string) => `partkit.saved_${name.toLowerCase()}`;
  const restore = (name: string) => `SELECT set_config(${quoteLiteral(name)}, current_setting(${quoteLiteral(saved(name))}), false) IS NULL AS restored`;
  const lines: string[] = [
    ...context.header.map((line) => sqlComment(line)),
    '',
    "-- The session's own settings, put back at the end: this file sets them for the session, never LOCAL.",
    ...SESSION_SETTINGS.map((name) => `SELECT set_config(${quoteLiteral(saved(name))}, current_setting(${quoteLiteral(name)}), false) IS NULL AS saved;`),
    `SET lock_timeout = ${quoteLiteral(context.lockTimeout)};`,
  ];
  for (const unit of walkPlan(plan, context.lockTimeout)) {
    if (unit.database === 'cron') continue;
    if (!unit.transactional) {
      throw new UsageError(
        `Step "${unit.steps[0]!.description}" cannot run inside a transaction, so it cannot be part of a migration file.`,
        'Run `partkit provision` for this database (or print the psql script without --format sql).',
      );
    }
    lines.push('');
    let zoneSet = false;
    for (const statement of unit.statements) {
      if (statement.control) continue;
      if (statement.local?.name === 'lock_timeout') continue;
      if (statement.local?.name === 'TimeZone') {
        zoneSet = true;
        lines.push(...(statement.comments ?? []), `SET TimeZone = ${quoteLiteral(statement.local.value)};`);
        continue;
      }
      lines.push(...(statement.comments ?? []), statementText(statement));
    }
    // A unit's transaction would have ended here, and its SET LOCAL TimeZone with it.
    if (zoneSet) lines.push(`${restore('TimeZone')};`);
  }
  lines.push('', "-- Back to the session's own settings.", ...SESSION_SETTINGS.map((name) => `${restore(name)};`));
  return `${lines.join('\n')}\n`;
}
