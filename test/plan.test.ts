import { describe, expect, it } from 'vitest';
import { planUnits, renderPlan, sqlComment, sqlStep, type MigrationsStep, type Plan } from '../src/core/plan.js';

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
    const migrations: MigrationsStep = { kind: 'migrations', description: 'kit', schema: 'partkit', directory: '/m', psqlScript: '/i.psql', pending: [] };
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

  it('quotes the kit schema and script path of a migrations step as psql arguments', () => {
    const migrations: MigrationsStep = { kind: 'migrations', description: 'kit', schema: "my kit's", directory: '/m', psqlScript: '/opt/part kit/install.psql', pending: [] };
    const script = renderPlan({ steps: [migrations] }, context);
    expect(script).toContain("\\set schema 'my kit''s'");
    expect(script).toContain("\\i '/opt/part kit/install.psql'");
  });
});
