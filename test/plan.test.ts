import { describe, expect, it } from 'vitest';
import { planUnits, renderMigrationFile, renderPlan, sqlComment, sqlStep, type MigrationsStep, type Plan } from '../src/core/plan.js';

const context = { appDatabase: 'app', cronDatabase: 'postgres', lockTimeout: '5s' };

/** The statements of a rendered script, without comments and blank lines. */
function statements(script: string): string[] {
  return script.split('\n').filter((line) => line !== '' && !line.startsWith('--'));
}

describe('planUnits: the one grouping rule of render and apply', () => {
  it('runs each non-transactional step alone, even when several share a group', () => {
    const a = sqlStep('a', 'CALL a()', { transaction: false, group: 'g' });
    const b = sqlStep('b', 'CALL b()', { transaction: false, group: 'g' });
    expect(planUnits([a, b])).toEqual([[a], [b]]);
  });

  it('keeps consecutive transactional steps of one group together, and every step in some unit', () => {
    const steps = [
      sqlStep('1', 'SELECT 1', { group: 'g' }),
      sqlStep('2', 'SELECT 2', { group: 'g' }),
      sqlStep('3', 'CALL p()', { group: 'g', transaction: false }),
      sqlStep('4', 'SELECT 4', { group: 'g' }),
      sqlStep('5', 'SELECT 5', { group: 'g', database: 'cron' }),
      sqlStep('6', 'SELECT 6'),
      sqlStep('7', 'SELECT 7'),
      sqlStep('8', 'SELECT 8', { group: 'h' }),
    ];
    const units = planUnits(steps);
    expect(units.map((unit) => unit.map((step) => step.description))).toEqual([['1', '2'], ['3'], ['4'], ['5'], ['6'], ['7'], ['8']]);
    expect(units.flat()).toEqual(steps);
  });

  it('keeps a migrations step alone', () => {
    const migrations: MigrationsStep = { kind: 'migrations', description: 'kit', schema: 'partkit', known: [], pending: [] };
    const units = planUnits([migrations, sqlStep('x', 'SELECT 1', { group: 'g' })]);
    expect(units).toHaveLength(2);
  });
});

describe('renderPlan', () => {
  it('prints every step of a group of non-transactional steps, each outside a transaction', () => {
    const plan: Plan = {
      steps: [sqlStep('first', 'CALL first()', { transaction: false, group: 'g' }), sqlStep('second', 'CALL second()', { transaction: false, group: 'g' })],
    };
    const script = renderPlan(plan, context);
    expect(statements(script)).toEqual(['\\set ON_ERROR_STOP on', 'CALL first();', 'CALL second();']);
  });

  it('resets TimeZone after a non-transactional step that set one, as apply does', () => {
    const plan: Plan = {
      steps: [sqlStep('tokyo', 'CALL p()', { transaction: false, timeZone: 'Asia/Tokyo' }), sqlStep('next', 'SELECT 1')],
    };
    expect(statements(renderPlan(plan, context))).toEqual([
      '\\set ON_ERROR_STOP on',
      "SET TimeZone = 'Asia/Tokyo';",
      'CALL p();',
      'RESET TimeZone;',
      'BEGIN;',
      "SET LOCAL lock_timeout = '5s';",
      'SELECT 1;',
      'COMMIT;',
    ]);
  });

  it('wraps a group in one transaction and switches databases around cron steps', () => {
    const plan: Plan = {
      steps: [sqlStep('a', 'SELECT 1', { group: 'g' }), sqlStep('b', 'SELECT 2', { group: 'g', timeZone: 'UTC' }), sqlStep('c', 'SELECT 3', { database: 'cron' })],
    };
    expect(statements(renderPlan(plan, context))).toEqual([
      '\\set ON_ERROR_STOP on',
      'BEGIN;',
      "SET LOCAL lock_timeout = '5s';",
      'SELECT 1;',
      "SET LOCAL TimeZone = 'UTC';",
      'SELECT 2;',
      'COMMIT;',
      '\\connect "postgres"',
      'BEGIN;',
      "SET LOCAL lock_timeout = '5s';",
      'SELECT 3;',
      'COMMIT;',
      '\\connect "app"',
    ]);
  });

  it('never lets a description end its comment line: no injected line starts a statement', () => {
    const evil = 'job\nDROP TABLE x;\n--';
    for (const step of [sqlStep(evil, 'SELECT 1'), sqlStep(evil, 'CALL p()', { transaction: false }), sqlStep(`cr\rDROP TABLE x;\u2028DROP TABLE y;`, 'SELECT 2', { group: 'g' })]) {
      const script = renderPlan({ steps: [step] }, context);
      for (const line of script.split(/\r\n|\r|\n|\u2028|\u2029/)) expect(line).not.toMatch(/^\s*DROP/i);
      expect(script).toContain('DROP TABLE x;');
    }
    expect(sqlComment('a\nb\tc\u007fd')).toBe('-- a\\u000ab\\u0009c\\u007fd');
  });

  it('inlines the kit migrations: no \\i, no path, the schema quoted once, each file recorded as postgres-migrations would', () => {
    const known = [
      { id: 0, name: 'create-migrations-table', fileName: '0_create-migrations-table.sql', hash: 'h0', sql: 'CREATE TABLE IF NOT EXISTS migrations (id integer);\n' },
      { id: 1, name: 'first', fileName: '1_first.sql', hash: 'h1', sql: 'CREATE TABLE applied_before (x int);\n' },
      { id: 2, name: 'second', fileName: '2_second.sql', hash: 'h2', sql: 'CREATE TABLE pending_one (x int);\n' },
    ];
    const migrations: MigrationsStep = { kind: 'migrations', description: 'kit', schema: "my kit's", known, pending: ['2_second.sql'] };
    const script = renderPlan({ steps: [migrations] }, context);
    expect(script).not.toMatch(/^\\i/m);
    expect(script).not.toContain('install.psql');
    expect(script).toContain(`SET search_path TO "my kit's";`);
    expect(script).toContain('CREATE TABLE pending_one (x int);');
    expect(script).not.toContain('applied_before');
    expect(script).toContain("INSERT INTO migrations (id, name, hash) VALUES (2, 'second', 'h2');");
    expect(script).toContain("INSERT INTO migrations (id, name, hash) VALUES (0, 'create-migrations-table', 'h0') ON CONFLICT (id) DO NOTHING;");
    const file = renderMigrationFile({ steps: [migrations, sqlStep('job', 'SELECT 1', { database: 'cron' })] }, { ...context, header: ['the job is in the cron file'] });
    expect(file).not.toMatch(/^\\/m);
    expect(file).not.toMatch(/^(BEGIN|COMMIT);/m);
    expect(file).not.toContain('SELECT 1;');
  });

  it('--format sql sets nothing LOCAL: the zone, lock_timeout and search_path are set for the session and put back, also at the end of each unit that set a zone', () => {
    const steps = [sqlStep('in Shanghai', 'SELECT 2', { timeZone: 'Asia/Shanghai', group: 'g' }), sqlStep('same transaction', 'SELECT 3', { group: 'g' }), sqlStep('next unit', 'SELECT 4')];
    const file = renderMigrationFile({ steps }, { ...context, header: ['planned'] });
    expect(file).not.toMatch(/^SET LOCAL /m);
    expect(file).not.toMatch(/, true\)/);
    const lines = statements(file);
    expect(lines).toEqual([
      "SELECT set_config('partkit.saved_lock_timeout', current_setting('lock_timeout'), false) IS NULL AS saved;",
      "SELECT set_config('partkit.saved_timezone', current_setting('TimeZone'), false) IS NULL AS saved;",
      "SET lock_timeout = '5s';",
      "SET TimeZone = 'Asia/Shanghai';",
      'SELECT 2;',
      'SELECT 3;',
      "SELECT set_config('TimeZone', current_setting('partkit.saved_timezone'), false) IS NULL AS restored;",
      'SELECT 4;',
      "SELECT set_config('lock_timeout', current_setting('partkit.saved_lock_timeout'), false) IS NULL AS restored;",
      "SELECT set_config('TimeZone', current_setting('partkit.saved_timezone'), false) IS NULL AS restored;",
    ]);
  });

  it('--format sql refuses a step that cannot run in a transaction', () => {
    expect(() => renderMigrationFile({ steps: [sqlStep('index', 'CREATE INDEX CONCURRENTLY i ON t (x)', { transaction: false })] }, { ...context, header: [] })).toThrow(/cannot run inside a transaction/);
  });
});
