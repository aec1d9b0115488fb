/**
 * What `partkit maintain` reads before it runs, in one read-only snapshot (src/core/snapshot.ts):
 * this user's rights on the kit, whether the kit has the procedure maintenance calls, and, for
 * --table, whether the table exists (with the names close to it when not) and is managed. The
 * planner (src/maintain/plan.ts) is a pure function of this value.
 */
import type { Config } from '../core/config.js';
import type { Database } from '../core/db.js';
import { readKitRightFacts, type KitRightFacts } from '../core/grants.js';
import { quoteIdent, type QualifiedName } from '../core/identifiers.js';
import { kitHas } from '../core/kit.js';
import { readOnce } from '../core/snapshot.js';
import { similarTables } from '../core/table-lookup.js';

/** The kit objects maintenance calls: a kit installed by an older partkit may lack them. */
export const MAINTAIN_KIT_OBJECTS = ['run_maintenance_proc(text,text,integer,bigint)', 'default_drain'] as const;

export interface MaintainState {
  /** The database read (its name, for messages). */
  readonly database: string;
  readonly rights: KitRightFacts;
  /** The kit has MAINTAIN_KIT_OBJECTS; null when not looked for (this user may not use the kit's schema). */
  readonly kitReady: boolean | null;
  /** For --table: the table as read; null without --table. */
  readonly table: { readonly name: QualifiedName; readonly exists: boolean; readonly managed: boolean; readonly similar: readonly QualifiedName[] } | null;
}

export async function readMaintainState(db: Database, config: Config, only: QualifiedName | undefined): Promise<MaintainState> {
  return readOnce(db, async () => {
    const rights = await readKitRightFacts(db, config, 'maintain');
    // Naming an object in a schema without USAGE on it fails, and the planner refuses such a user anyway.
    const kitReady = rights.kit !== null && !rights.kit.usage ? null : await kitHas(db, config.kitSchema, MAINTAIN_KIT_OBJECTS);
    let table: MaintainState['table'] = null;
    if (only) {
      const [row] = await db.query<{ exists: boolean; managed: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2) AS exists,
                ${kitReady ? `EXISTS (SELECT 1 FROM ${quoteIdent(config.kitSchema)}.managed_table m WHERE m.parent_schema = $1 AND m.parent_table = $2)` : 'false'} AS managed`,
        [only.schema, only.name],
      );
      const exists = row?.exists ?? false;
      table = { name: only, exists, managed: row?.managed ?? false, similar: exists ? [] : await similarTables(db, only) };
    }
    return { database: db.name, rights, kitReady, table };
  });
}
