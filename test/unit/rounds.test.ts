/**
 * Operations in rounds, in process: the dry run's rendering of first rounds (renderRounds), with no
 * server. The runner's loop itself (runPhases: read afresh, plan, apply, until done) runs against a
 * real server in test/executor.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { renderRounds, roundsPlan, sqlStep, type Plan } from '../../src/core/plan.js';

const context = { appDatabase: 'app', lockTimeout: '500ms' };

function statements(script: string): string[] {
  return script.split('\n').filter((line) => line !== '' && !line.startsWith('--') && !line.startsWith('\\'));
}

describe('renderRounds: a dry run prints the first round of each phase and names the later ones', () => {
  it('keeps two rounds with the same group in two transactions, as they run', () => {
    const round = (n: number): Plan => ({ steps: [sqlStep(`replay ${n}`, `SELECT ${n}`, { group: 'migrate replay t' }), sqlStep(`remove ${n}`, `SELECT ${n}0`, { group: 'migrate replay t' })] });
    const script = renderRounds([round(1), round(2)], [], context);
    expect(statements(script)).toEqual([
      'BEGIN;',
      "SET LOCAL lock_timeout = '500ms';",
      'SELECT 1;',
      'SELECT 10;',
      'COMMIT;',
      'BEGIN;',
      "SET LOCAL lock_timeout = '500ms';",
      'SELECT 2;',
      'SELECT 20;',
      'COMMIT;',
    ]);
    // Steps without a group, and the descriptions, are left as they are.
    const plain = roundsPlan([{ steps: [sqlStep('alone', 'SELECT 1')] }]);
    expect(plain.steps[0]).toEqual(sqlStep('alone', 'SELECT 1'));
  });

  it('names what later rounds would do in comment lines after the script, and nothing when there are none', () => {
    const one: Plan = { steps: [sqlStep('copy', 'SELECT 1')] };
    expect(renderRounds([one], [], context)).not.toMatch(/Later rounds/);
    const script = renderRounds([one], ['copy t: batches of 7 rows\nDROP TABLE t;'], context);
    const lines = script.trimEnd().split('\n');
    expect(lines.slice(-2)).toEqual(['-- Later rounds are not printed: each is planned from what the server holds after the round before.', '-- copy t: batches of 7 rows\\u000aDROP TABLE t;']);
    expect(statements(script)).toEqual(statements(renderRounds([one], [], context)));
    expect(statements(script)).not.toContain('DROP TABLE t;');
  });
});
