/**
 * maintain's planner, in process: a MaintainState built by hand (what readMaintainState would read),
 * the request, and the plan or the refusal. Which months maintenance premakes, drains and archives
 * is decided by the kit's procedure on the server's clock (sql/kit/), so what is planned here is its
 * CALL; the month decisions are tested against the servers (maintain-live, provision-*, drain-live).
 */
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/core/config.js';
import { MissingCapabilityError, type PartkitError } from '../../src/core/errors.js';
import type { SqlStep } from '../../src/core/plan.js';
import { planMaintain } from '../../src/maintain/plan.js';
import type { MaintainState } from '../../src/maintain/state.js';

const config = resolveConfig({ tables: [{ name: 'public.messages' }, { name: '"My Schema"."Odd Tbl"' }] }, 'test.json');

const READY: MaintainState = {
  database: 'app',
  rights: { kit: { user: 'app_owner', usage: true, read: true, write: true }, ownersNotMemberOf: [], archivesWithoutCreate: [] },
  kitReady: true,
  table: null,
};

function refusal(state: MaintainState, table: string | null = null): PartkitError {
  try {
    planMaintain(state, config, { table, lockTimeout: '500ms' });
  } catch (error) {
    return error as PartkitError;
  }
  throw new Error('planMaintain did not refuse');
}

describe('maintain plans one CALL of the procedure', () => {
  it.each([
    [null, 'run maintenance (drains default partitions in bounded steps)'],
    ['public.messages', 'run maintenance of public.messages (drains default partitions in bounded steps)'],
  ])('for --table %s, outside a transaction, each lock waited for at most the lock timeout, tried once', (table, description) => {
    const state: MaintainState = table ? { ...READY, table: { name: { schema: 'public', name: 'messages' }, exists: true, managed: true, similar: [] } } : READY;
    const [step, ...rest] = planMaintain(state, config, { table, lockTimeout: '2s' }).steps as SqlStep[];
    expect(rest).toEqual([]);
    expect(step!.description).toBe(description);
    expect(step!.sql).toBe('CALL "partkit".run_maintenance_proc(p_table_name => $1, p_lock_timeout => $2, p_attempts => $3)');
    expect(step!.params).toEqual([table, '2s', 1]);
    expect(step!.transaction).toBe(false);
  });
});

describe('maintain refuses before it calls anything', () => {
  it.each<[string, MaintainState['rights'], RegExp, string]>([
    ['no USAGE on the kit', { ...READY.rights, kit: { user: 'ops', usage: false, read: null, write: null } }, /USAGE on schema partkit/, 'GRANT USAGE ON SCHEMA "partkit" TO "ops";'],
    ['no write on the maintenance log', { ...READY.rights, kit: { user: 'ops', usage: true, read: true, write: false } }, /SELECT, INSERT, UPDATE, DELETE on the tables of schema partkit/, 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "partkit" TO "ops";'],
    ['not a member of the owner', { ...READY.rights, ownersNotMemberOf: [{ owner: 'app_admin', tables: ['public.messages'] }] }, /membership in role app_admin, which owns public\.messages/, 'GRANT "app_admin" TO "app_owner";'],
    ['no CREATE in the archive schema', { ...READY.rights, archivesWithoutCreate: ['partkit_archive'] }, /CREATE on schema partkit_archive/, 'GRANT CREATE ON SCHEMA "partkit_archive" TO "app_owner";'],
  ])('a user with %s, naming the GRANT', (_, rights, message, grant) => {
    const error = refusal({ ...READY, rights, kitReady: rights.kit?.usage ? true : null });
    expect(error).toBeInstanceOf(MissingCapabilityError);
    expect(error.message).toMatch(/lacks rights that maintain needs in database app \(nothing was done\)/);
    expect(error.message).toMatch(message);
    expect(error.hint).toContain(`in database app: ${grant}`);
  });

  it('a kit without the procedure (not provisioned, or by an older partkit)', () => {
    const error = refusal({ ...READY, kitReady: false });
    expect(error.message).toBe("partkit's run_maintenance_proc(text,text,integer,bigint) and default_drain are not installed in schema partkit of database app.");
    expect(error.hint).toMatch(/partkit provision/);
  });

  it('a --table that names nothing, with the closest table and the command for it', () => {
    const error = refusal({ ...READY, table: { name: { schema: 'public', name: 'mesages' }, exists: false, managed: false, similar: [{ schema: 'public', name: 'messages' }] } }, 'public.mesages');
    expect(error.message).toBe('Table public.mesages does not exist in database app (nothing was changed).');
    expect(error.hint).toBe('Did you mean public.messages? partkit maintain --table public.messages');
  });

  it('a --table partkit does not manage, with the command that maintains one it does', () => {
    const error = refusal({ ...READY, table: { name: { schema: 'public', name: 'users' }, exists: true, managed: false, similar: [] } }, 'public.users');
    expect(error.message).toBe('public.users is not managed by partkit in database app (nothing was changed).');
    expect(error.hint).toBe("Add it to the config's \"tables\" and run partkit provision; or maintain them all: partkit maintain --table public.messages");
  });
});
