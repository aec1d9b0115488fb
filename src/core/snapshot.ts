/**
 * Read once: a command reads everything it plans from in one read-only snapshot
 * (Database.readSnapshot: REPEATABLE READ, READ ONLY), so that its reads agree with each other and
 * with the server's clock (now() is the snapshot's start), and then plans with a pure function.
 *
 * Inside a transaction a read cannot be retried alone (a failed statement ends it), so a read that
 * waits too long for a lock makes the whole snapshot start again, with the executor's back-off, as
 * one read outside a transaction would be. Reads in it must be ones that cannot fail on a missing
 * right: a right is asked about (has_table_privilege) before a table is read, and a missing one is
 * recorded in the snapshot for the planner to refuse.
 */
import type { Database } from './db.js';
import { LockError } from './errors.js';

export async function readOnce<T>(db: Database, body: () => Promise<T>): Promise<T> {
  return db.retryingLocks(async () => {
    try {
      return await db.readSnapshot({}, body);
    } catch (error) {
      // Database.query names a busy lock as LockError at once inside a snapshot; its cause, the
      // server's 55P03, lets retryingLocks start the snapshot again (and name the holder when it gives up).
      throw error instanceof LockError && error.cause !== undefined ? error.cause : error;
    }
  });
}
