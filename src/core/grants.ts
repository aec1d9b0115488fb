/**
 * The rights `provision` needs from a non-superuser, each with the exact GRANT an administrator
 * runs and whether the user has it now. `doctor` lists them; `provision` refuses, before anything
 * changes, when one it needs for this run is missing.
 */
import type { Capabilities, Decision } from './capabilities.js';
import type { Config } from './config.js';
import type { Database } from './db.js';
import { MissingCapabilityError } from './errors.js';
import { quoteIdent, type QualifiedName } from './identifiers.js';
import { pendingMigrations } from './kit.js';

export interface RequiredGrant {
  /** What is needed, e.g. 'USAGE on schema cron'. */
  readonly privilege: string;
  /** What provision does with it. */
  readonly purpose: string;
  /** The database in which an administrator runs the statement. */
  readonly database: string;
  readonly statement: string;
  /** true: has it; false: missing; null: cannot tell yet (e.g. pg_cron is not created). */
  readonly has: boolean | null;
  /** Whether the next provision needs it; otherwise it is needed later (e.g. to update the job). */
  readonly neededNow: boolean;
  /** Grants for the pg_cron scheduler, which --scheduler external does without. */
  readonly forScheduler: boolean;
}

/** pg_cron's signatures in 1.4 to 1.6, used before the extension exists to show what will be granted. */
const DEFAULT_SIGNATURES = {
  scheduleInDatabase: 'cron.schedule_in_database(text,text,text,text,text,boolean)',
  alterJob: 'cron.alter_job(bigint,text,text,text,text,boolean)',
};

/** What the rights provision needs depend on, read from the server (see readGrantFacts). */
export interface GrantFacts {
  /** Kit migrations not applied yet; null when this user may not read the kit's migrations table. */
  readonly pendingMigrations: readonly string[] | null;
  /** Which of the archive schemas and pg_partman's configured schema exist. */
  readonly existingSchemas: readonly string[];
  /** The configured tables' schemas that exist, with whether this user may CREATE in each. */
  readonly tableSchemas: readonly { readonly name: string; readonly canCreate: boolean }[];
  /** Roles owning some of the existing tables of which this user is not a member. */
  readonly ownersNotMemberOf: readonly { readonly owner: string; readonly tables: readonly string[] }[];
}

/** Reads the facts requiredGrants needs; every read is one that cannot fail on a missing right. */
export async function readGrantFacts(db: Database, caps: Capabilities, config: Config, pending: readonly string[] | null): Promise<GrantFacts> {
  const wanted = [...new Set([...config.tables.map((table) => table.archiveSchema).filter((schema): schema is string => schema !== null), config.partmanSchema])];
  const existing = await db.query<{ name: string }>('SELECT nspname AS name FROM pg_namespace WHERE nspname = ANY($1::text[])', [wanted]);
  const schemas = [...new Set(caps.tables.map((table) => table.qualified.schema))];
  const tableSchemas =
    schemas.length === 0
      ? []
      : await db.query<{ name: string; canCreate: boolean }>(`SELECT nspname AS name, has_schema_privilege(oid, 'CREATE') AS "canCreate" FROM pg_namespace WHERE nspname = ANY($1::text[])`, [schemas]);
  const tables = caps.tables.filter((table) => table.exists).map((table) => table.qualified);
  return {
    pendingMigrations: pending,
    existingSchemas: existing.map((row) => row.name),
    tableSchemas,
    ownersNotMemberOf: tables.length > 0 ? await ownersNotMemberOf(db, tables) : [],
  };
}

/** Every right provision needs for this decision (doctor lists them). */
export async function requiredGrants(db: Database, caps: Capabilities, decision: Decision, config: Config): Promise<RequiredGrant[]> {
  // A user who cannot even read the kit's migrations table cannot run them either: count the schema as needed.
  const pending = await pendingMigrations(db, config.kitSchema).catch(() => null);
  return grantsNeeded(await readGrantFacts(db, caps, config, pending), caps, decision, config);
}

/** The rights provision needs, from what was read: no server. */
export function grantsNeeded(facts: GrantFacts, caps: Capabilities, decision: Decision, config: Config): RequiredGrant[] {
  const role = quoteIdent(caps.user.name);
  const grants: RequiredGrant[] = [];

  // Schemas provision creates: CREATE SCHEMA (even IF NOT EXISTS) needs CREATE on the database.
  const schemas: string[] = [];
  if (facts.pendingMigrations === null || facts.pendingMigrations.length > 0) schemas.push(config.kitSchema);
  const archiveSchemas = [...new Set(config.tables.map((table) => table.archiveSchema).filter((schema): schema is string => schema !== null))];
  const partman = caps.extensions.pg_partman;
  const wanted = [...archiveSchemas, ...(decision.strategy === 'partman' && !partman.installed ? [config.partmanSchema] : [])];
  for (const schema of wanted) if (!facts.existingSchemas.includes(schema) && !schemas.includes(schema)) schemas.push(schema);
  grants.push({
    privilege: `CREATE on database ${quoteIdent(caps.database)}`,
    purpose: schemas.length > 0 ? `create schema${schemas.length > 1 ? 's' : ''} ${schemas.join(', ')}` : "create partkit's schemas (they exist now; needed again when a partkit upgrade adds kit migrations)",
    database: caps.database,
    statement: `GRANT CREATE ON DATABASE ${quoteIdent(caps.database)} TO ${role};`,
    has: caps.user.canCreateInDatabase,
    neededNow: schemas.length > 0,
    forScheduler: false,
  });

  // Tables provision creates (the Semibot tables), and the months and time indexes it makes for
  // every table, go in the table's schema: CREATE there.
  for (const row of facts.tableSchemas) {
    grants.push({
      privilege: `CREATE on schema ${quoteIdent(row.name)}`,
      purpose: `create the missing tables, the months and the time indexes in schema ${row.name}`,
      database: caps.database,
      statement: `GRANT CREATE ON SCHEMA ${quoteIdent(row.name)} TO ${role};`,
      has: row.canCreate,
      neededNow: true,
      forScheduler: false,
    });
  }

  // Tables that exist: only their owner (or a member of its role) may make, attach and detach their months.
  for (const owner of facts.ownersNotMemberOf) {
    grants.push({
      privilege: `membership in role ${owner.owner}, which owns ${owner.tables.join(', ')}`,
      purpose: 'make, attach and detach their months (PostgreSQL allows it only to the owner of a table; or make this user their owner with ALTER TABLE ... OWNER TO)',
      database: caps.database,
      statement: `GRANT ${quoteIdent(owner.owner)} TO ${role};`,
      has: false,
      neededNow: true,
      forScheduler: false,
    });
  }

  // pg_partman installed by an administrator: create_parent writes part_config and makes the set's
  // template table in pg_partman's schema, maintenance updates part_config (verified on 4.7 and 5.2).
  const partmanRights = partman.rights;
  if (decision.strategy === 'partman' && partman.installed && partman.schema && partmanRights) {
    const schema = quoteIdent(partman.schema);
    grants.push(
      {
        privilege: `USAGE and CREATE on schema ${schema}`,
        purpose: `call pg_partman and let it make each table's template table in schema ${partman.schema}`,
        database: caps.database,
        statement: `GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${role};`,
        has: partmanRights.usage && partmanRights.create,
        neededNow: true,
        forScheduler: false,
      },
      {
        privilege: `SELECT, INSERT, UPDATE, DELETE on the tables of schema ${schema} (part_config, part_config_sub)`,
        purpose: 'register the tables with pg_partman and keep their settings (retention, premake) as the config says',
        database: caps.database,
        statement: `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role};`,
        has: partmanRights.partConfig,
        neededNow: true,
        forScheduler: false,
      },
    );
  }

  // pg_cron: the job is made in pg_cron's database and aimed at ours.
  const cron = caps.extensions.pg_cron;
  if (decision.scheduler === 'pg_cron' && cron.databaseName) {
    const rights = cron.rights;
    const schema = rights.schema ?? 'cron';
    const known = cron.installed;
    grants.push(
      {
        privilege: `USAGE on schema ${schema}`,
        purpose: 'name pg_cron\'s functions and read cron.job (provision, verify, status)',
        database: cron.databaseName,
        statement: `GRANT USAGE ON SCHEMA ${schema} TO ${role};`,
        has: known ? rights.usage : null,
        neededNow: true,
        forScheduler: true,
      },
      {
        privilege: `EXECUTE on ${rights.scheduleInDatabase?.signature ?? DEFAULT_SIGNATURES.scheduleInDatabase}`,
        purpose: `schedule the maintenance job for database ${caps.database}`,
        database: cron.databaseName,
        statement: `GRANT EXECUTE ON FUNCTION ${rights.scheduleInDatabase?.signature ?? DEFAULT_SIGNATURES.scheduleInDatabase} TO ${role};`,
        has: known ? rights.scheduleInDatabase?.execute ?? false : null,
        neededNow: true,
        forScheduler: true,
      },
      {
        privilege: `EXECUTE on ${rights.alterJob?.signature ?? DEFAULT_SIGNATURES.alterJob}`,
        purpose: 'update the job when the schedule or command changes',
        database: cron.databaseName,
        statement: `GRANT EXECUTE ON FUNCTION ${rights.alterJob?.signature ?? DEFAULT_SIGNATURES.alterJob} TO ${role};`,
        has: known ? rights.alterJob?.execute ?? false : null,
        neededNow: false,
        forScheduler: true,
      },
    );
  }
  return grants;
}

/** "in database postgres: GRANT ...; GRANT ...;" for each database, in the order given. */
export function grantStatements(grants: readonly RequiredGrant[]): string {
  const byDatabase = new Map<string, string[]>();
  for (const grant of grants) byDatabase.set(grant.database, [...(byDatabase.get(grant.database) ?? []), grant.statement]);
  return [...byDatabase].map(([database, statements]) => `in database ${database}: ${statements.join(' ')}`).join(' Then ');
}

/** Throws (exit 4, nothing changed) when a right this provision needs is missing. */
export function refuseMissingGrants(caps: Capabilities, grants: readonly RequiredGrant[]): void {
  const missing = grants.filter((grant) => grant.has === false);
  if (missing.length === 0) return;
  const lines = missing.map((grant) => `  - ${grant.privilege}${grant.database !== caps.database ? ` (in database ${grant.database})` : ''}: to ${grant.purpose}`);
  const external = missing.some((grant) => grant.forScheduler) ? ' Or, for the pg_cron grants, run partkit with --scheduler external.' : '';
  throw new MissingCapabilityError(
    `The user ${caps.user.name} lacks rights that provision needs (nothing was changed):\n${lines.join('\n')}`,
    `An administrator must run, ${grantStatements(missing)}${external} Then run partkit provision again.`,
  );
}

/** What missingKitRights depends on, as read from the server (readKitRightFacts). */
export interface KitRightFacts {
  /** This user's rights on the kit's schema and its tables; null when the schema does not exist. */
  readonly kit: { readonly user: string; readonly usage: boolean | null; readonly read: boolean | null; readonly write: boolean | null } | null;
  /** For maintenance: roles owning configured tables of which this user is not a member. */
  readonly ownersNotMemberOf: readonly { readonly owner: string; readonly tables: readonly string[] }[];
  /** For maintenance: archive schemas of the config in which this user may not CREATE. */
  readonly archivesWithoutCreate: readonly string[];
}

/** Reads the facts of missingKitRights: only privilege lookups, none of which fails on a missing right. */
export async function readKitRightFacts(db: Database, config: Config, purpose: 'read' | 'maintain'): Promise<KitRightFacts> {
  const [kit] = await db.query<{ user: string; usage: boolean | null; read: boolean | null; write: boolean | null }>(
    `SELECT current_user AS user, has_schema_privilege(n.oid, 'USAGE') AS usage,
            bool_and(has_table_privilege(c.oid, 'SELECT')) AS read,
            bool_and(has_table_privilege(c.oid, 'INSERT') AND has_table_privilege(c.oid, 'UPDATE') AND has_table_privilege(c.oid, 'DELETE')) AS write
       FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind = 'r'
      WHERE n.nspname = $1 GROUP BY n.oid`,
    [config.kitSchema],
  );
  if (!kit || purpose !== 'maintain') return { kit: kit ?? null, ownersNotMemberOf: [], archivesWithoutCreate: [] };
  const archiveSchemas = [...new Set(config.tables.map((table) => table.archiveSchema).filter((name): name is string => name !== null))];
  const archives = await db.query<{ name: string }>(`SELECT nspname AS name FROM pg_namespace WHERE nspname = ANY ($1::text[]) AND NOT has_schema_privilege(oid, 'CREATE') ORDER BY 1`, [archiveSchemas]);
  return { kit, ownersNotMemberOf: await ownersNotMemberOf(db, config.tables.map((table) => table.name)), archivesWithoutCreate: archives.map((row) => row.name) };
}

/**
 * The rights a user needs on the kit's schema to read it (verify, status) or to run maintenance,
 * for a user other than the one who provisioned: maintenance also makes and moves months, which
 * PostgreSQL allows only to the owner of each table (or a member of its role), and moves them into
 * the archive schema (CREATE there). Each missing one comes with its GRANT; empty when all are there.
 */
export async function missingKitRights(db: Database, config: Config, purpose: 'read' | 'maintain'): Promise<{ user: string; statements: string[]; lacks: string[] }> {
  return kitRightsLacking(await readKitRightFacts(db, config, purpose), config, purpose);
}

/** missingKitRights from the facts read: no server. */
export function kitRightsLacking(facts: KitRightFacts, config: Config, purpose: 'read' | 'maintain'): { user: string; statements: string[]; lacks: string[] } {
  const kit = config.kitSchema;
  const row = facts.kit;
  const lacks: string[] = [];
  const statements: string[] = [];
  // No kit schema: nothing to grant on it (requireKit says what to run).
  if (!row) return { user: '', statements, lacks };
  const user = row.user;
  const role = quoteIdent(user);
  const schema = quoteIdent(kit);
  if (!row.usage) {
    lacks.push(`USAGE on schema ${kit}`);
    statements.push(`GRANT USAGE ON SCHEMA ${schema} TO ${role};`);
  }
  if (purpose === 'read' && row.read === false) {
    lacks.push(`SELECT on the tables of schema ${kit}`);
    statements.push(`GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${role};`);
  }
  if (purpose === 'maintain') {
    if (row.read === false || row.write === false) {
      lacks.push(`SELECT, INSERT, UPDATE, DELETE on the tables of schema ${kit} (the maintenance log)`);
      statements.push(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role};`);
    }
    for (const owner of facts.ownersNotMemberOf) {
      lacks.push(`membership in role ${owner.owner}, which owns ${owner.tables.join(', ')} (only a table's owner may make and detach its months)`);
      statements.push(`GRANT ${quoteIdent(owner.owner)} TO ${role};`);
    }
    for (const archive of facts.archivesWithoutCreate) {
      lacks.push(`CREATE on schema ${archive} (months past retention are moved there)`);
      statements.push(`GRANT CREATE ON SCHEMA ${quoteIdent(archive)} TO ${role};`);
    }
  }
  return { user, statements, lacks };
}

/**
 * The roles that own some of `tables` and of which the current user is not a member, each with its
 * tables: PostgreSQL lets only a table's owner (or a member of its role) make and detach its months.
 */
async function ownersNotMemberOf(db: Database, tables: readonly QualifiedName[]): Promise<{ owner: string; tables: string[] }[]> {
  return db.query<{ owner: string; tables: string[] }>(
    `SELECT pg_get_userbyid(c.relowner) AS owner, array_agg(format('%s.%s', n.nspname, c.relname) ORDER BY 1) AS tables
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN unnest($1::text[], $2::text[]) AS t(schema, name) ON t.schema = n.nspname AND t.name = c.relname
      WHERE NOT pg_has_role(current_user, c.relowner, 'USAGE')
      GROUP BY c.relowner ORDER BY 1`,
    [tables.map((table) => table.schema), tables.map((table) => table.name)],
  );
}

/** Throws (exit 4, nothing done) when `missingKitRights` found a right missing, naming each GRANT. */
export async function refuseMissingKitRights(db: Database, config: Config, purpose: 'read' | 'maintain', command: string): Promise<void> {
  refuseLackingKitRights(await missingKitRights(db, config, purpose), db.name, command);
}

/** The refusal of refuseMissingKitRights, from what was found missing (`database`: its name, for messages). */
export function refuseLackingKitRights(missing: { user: string; statements: readonly string[]; lacks: readonly string[] }, database: string, command: string): void {
  if (missing.lacks.length === 0) return;
  throw new MissingCapabilityError(
    `The user ${missing.user} lacks rights that ${command} needs in database ${database} (nothing was done):\n${missing.lacks.map((lack) => `  - ${lack}`).join('\n')}`,
    `An administrator must run, in database ${database}: ${missing.statements.join(' ')} Then run partkit ${command} again (or run it as the user who provisioned).`,
  );
}
