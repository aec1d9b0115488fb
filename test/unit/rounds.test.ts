/**
 * Operations in rounds, in process: the dry run's rendering of first rounds (renderRounds) and the
 * decisions of a drain's rounds (drainPhase), fed hand-built states and round results, with no
 * server. The runner's loop itself (runPhases: read afresh, plan, apply, until done) runs against a
 * real server in test/executor.test.ts; the migrate and dry-run-equality files run the phases of
 * fill, swap and drop there too.
 */
import { describe, expect, it } from 'vitest';
import type { StepRows } from '../../src/core/db.js';
import { quoteQualified } from '../../src/core/identifiers.js';
import { renderRounds, roundsPlan, sqlStep, type Plan } from '../../src/core/plan.js';
import { drainPhase, REPLAYED_STEP } from '../../src/migrate/capture.js';
import type { Column, Relation } from '../../src/migrate/inspect.js';

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

describe('drainPhase: replay rounds until a round takes fewer than a batch and the backlog is small enough', () => {
  const column = (name: string): Column => ({ name, type: 'bigint' }) as unknown as Column;
  const relation = (name: string): Relation => ({ label: `public.${name}`, quoted: quoteQualified({ schema: 'public', name }), relkind: 'r', distributedBy: null }) as unknown as Relation;
  const options = {
    capture: { schema: 'public', name: 'Odd "T"_capture' },
    key: [column('id')],
    columns: [column('id'), column('created_at')],
    live: relation('Odd "T"'),
    copy: relation('Odd "T"_partitioned'),
    group: 'migrate replay t',
    table: 'public."Odd ""T"""',
    batch: 100,
    until: 20,
  };
  /** The rows a replay round returns: `replayed` keys taken. */
  const took = (plan: Plan, replayed: number): StepRows[] => plan.steps.map((step) => ({ step, rows: step.id === REPLAYED_STEP ? [{ replayed: String(replayed) }] : [] }));

  it('always runs a first round, even with nothing captured', () => {
    const drain = drainPhase(options);
    const first = drain.plan({ backlog: 0 }, 0);
    expect(first?.steps.map((step) => step.description)).toEqual([
      'replay in one snapshot (REPEATABLE READ)',
      'replay: delete the captured keys from public.Odd "T"_partitioned',
      'replay: insert the current rows of public.Odd "T" for those keys',
      'replay: remove the replayed keys from Odd "T"_capture',
    ]);
    drain.applied!(took(first!, 0), [5], first!);
    expect(drain.plan({ backlog: 0 }, 1)).toBeNull();
    expect(drain.replayed).toBe(0);
  });

  it('goes on after a full round (the backlog is not even counted then), and after a short one while more than `until` keys wait', () => {
    const drain = drainPhase(options);
    const first = drain.plan({ backlog: 250 }, 0)!;
    drain.applied!(took(first, 100), [5], first);
    expect(drain.plan({ backlog: null }, 1)).not.toBeNull();
    drain.applied!(took(first, 60), [5], first);
    // A writer added keys meanwhile: 30 wait, more than 20.
    expect(drain.plan({ backlog: 30 }, 2)).not.toBeNull();
    drain.applied!(took(first, 30), [5], first);
    expect(drain.plan({ backlog: 20 }, 3)).toBeNull();
    expect(drain.replayed).toBe(190);
  });

  it('says what later rounds would do, from the backlog it read, and nothing for a single round', () => {
    expect(drainPhase({ ...options, maxRounds: 200 }).later!({ backlog: 12345 })).toBe('rounds like the first, of up to 100 keys each, until one takes fewer and at most 20 are left (12345 waiting now, at most 200 round(s))');
    expect(drainPhase({ ...options, maxRounds: 1 }).later!({ backlog: 5 })).toBeNull();
  });
});
