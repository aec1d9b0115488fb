/**
 * Inspection: what the server has, what the user may do, and the state of every configured
 * table. Read-only. The strategy (partman or plpgsql) and scheduler (pg_cron or external) are
 * decided here, with the reasons.
 */
import { inspectCitus, type CitusState } from './citus.js';
import type { Config, Strategy, TableConfig } from './config.js';
import type { Database } from './db.js';
import { displayName, dottedName, quoteIdent, type QualifiedName } from './identifiers.js';

export type Host = 'aws-rds' | 'aws-aurora' | 'azure' | 'cloud-sql' | 'supabase' | 'neon' | 'unknown';
export type Scheduler = 'pg_cron' | 'external';

export interface ExtensionState {
  readonly available: boolean;
  readonly defaultVersion: string | null;
  readonly installed: boolean;
  readonly version: string | null;
  readonly schema: string | null;
  /** Whether CREATE EXTENSION needs a superuser (pg_available_extension_versions.superuser, not trusted). */
  readonly needsSuperuser: boolean;
}

export interface CronState extends ExtensionState {
  readonly preloaded: boolean;
  /** cron.database_name: the only database where pg_cron can be created. */
  readonly databaseName: string | null;
  /** Whether this user may schedule jobs for another database (cron.schedule_in_database). */
  readonly canScheduleInDatabase: boolean | null;
  /** This user's rights on pg_cron's objects, read in pg_cron's database; null where unknown (not created, not reachable). */
  readonly rights: CronRights;
  /** True when this user may not read shared_preload_libraries, so `preloaded` is a best guess. */
  readonly settingsHidden: boolean;
}

/** A function partkit calls, with its exact signature (as GRANT takes it) and whether this user may execute it. */
export interface FunctionRight {
  readonly signature: string;
  readonly execute: boolean;
}

export interface CronRights {
  /** pg_cron's schema as SQL writes it (`cron`). */
  readonly schema: string | null;
  /** USAGE on that schema: needed to name anything in it, cron.job included. */
  readonly usage: boolean | null;
  readonly scheduleInDatabase: FunctionRight | null;
  /** cron.alter_job, which updates an existing job (revoked from PUBLIC in pg_cron 1.4 and 1.6 alike). */
  readonly alterJob: FunctionRight | null;
}

const UNKNOWN_CRON_RIGHTS: CronRights = { schema: null, usage: null, scheduleInDatabase: null, alterJob: null };

export interface TableState {
  readonly name: string;
  readonly qualified: QualifiedName;
  readonly exists: boolean;
  /** 'r' table, 'p' partitioned table, 'v' view, ... */
  readonly relkind: string | null;
  readonly partitioned: boolean;
  /** 'range' | 'list' | 'hash' when partitioned. */
  readonly partitionStrategy: string | null;
  readonly partitionKey: readonly string[];
  readonly controlColumn: { readonly name: string; readonly exists: boolean; readonly type: string | null; readonly notNull: boolean };
  readonly primaryKey: readonly string[] | null;
  readonly primaryKeyIncludesControl: boolean;
  readonly estimatedRows: number;
  readonly children: number;
  readonly defaultPartition: string | null;
  /** Who manages it now: a part_config row, a row in the kit's managed_table, or nobody. */
  readonly registeredWith: { readonly partman: boolean; readonly plpgsql: boolean };
}

/** This user's rights on pg_partman's schema and its part_config (null where pg_partman is not installed). */
export interface PartmanRights {
  readonly usage: boolean;
  readonly create: boolean;
  /**
   * SELECT, INSERT, UPDATE and DELETE on pg_partman's tables (part_config, part_config_sub, 4.x's
   * custom_time_partitions): create_parent reads them all and inserts, maintenance updates, deprovision deletes.
   */
  readonly partConfig: boolean;
}

export interface Capabilities {
  /** `now` is the server's clock at inspection: the one clock partkit counts months from (pg_cron and maintenance use it too). */
  readonly server: { readonly version: string; readonly versionNum: number; readonly timezone: string; readonly now: Date };
  readonly database: string;
  readonly user: { readonly name: string; readonly superuser: boolean; readonly adminRoles: readonly string[]; readonly canCreateInDatabase: boolean };
  readonly host: Host;
  readonly extensions: { readonly pg_partman: ExtensionState & { readonly rights: PartmanRights | null }; readonly pg_cron: CronState };
  readonly kit: { readonly schema: string; readonly installed: boolean };
  readonly tables: readonly TableState[];
  /** Citus (src/citus/): installed? coordinator? active workers? and each table's distribution. */
  readonly citus: CitusState;
}

export interface Decision {
  readonly strategy: Strategy;
  readonly scheduler: Scheduler;
  readonly reasons: readonly string[];
  /** Steps someone must take to enable what is missing, for the detected host. */
  readonly advice: readonly string[];
}

const ADMIN_ROLES = ['rds_superuser', 'azure_pg_admin', 'cloudsqlsuperuser', 'supabase_admin', 'neon_superuser'];

async function inspectServer(db: Database) {
  const [row] = await db.query<{
    version: string;
    version_num: number;
    timezone: string;
    now: Date;
    database: string;
    user: string;
    superuser: boolean;
    can_create: boolean;
    admin_roles: string[] | null;
    settings: string[] | null;
    preload: string | null;
    cron_database: string | null;
    aurora: boolean;
  }>(
    `SELECT current_setting('server_version') AS version,
            current_setting('server_version_num')::int AS version_num,
            current_setting('TimeZone') AS timezone,
            now() AS now,
            current_database() AS database,
            current_user AS "user",
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
            has_database_privilege(current_database(), 'CREATE') AS can_create,
            (SELECT array_agg(rolname ORDER BY rolname) FROM pg_roles
              WHERE rolname = ANY($1::text[]) AND rolname <> current_user
                AND pg_has_role(current_user, oid, 'MEMBER')) AS admin_roles,
            (SELECT array_agg(DISTINCT split_part(name, '.', 1)) FROM pg_settings
              WHERE name ~ '^(rds|azure|cloudsql|neon|supautils|apg)\\.') AS settings,
            -- Reading these settings needs pg_read_all_settings (NULL here when the user lacks it).
            CASE WHEN can_read THEN current_setting('shared_preload_libraries') END AS preload,
            CASE WHEN can_read THEN current_setting('cron.database_name', true) END AS cron_database,
            EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'aurora_version') AS aurora
       FROM (SELECT pg_has_role(current_user, 'pg_read_all_settings', 'MEMBER')
                    OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS can_read) AS r`,
    [ADMIN_ROLES],
  );
  return row!;
}

function fingerprint(settings: readonly string[], aurora: boolean, roles: readonly string[]): Host {
  if (aurora || settings.includes('apg')) return 'aws-aurora';
  if (settings.includes('rds')) return 'aws-rds';
  if (settings.includes('azure')) return 'azure';
  if (settings.includes('cloudsql')) return 'cloud-sql';
  if (settings.includes('neon')) return 'neon';
  if (settings.includes('supautils') || roles.includes('supabase_admin')) return 'supabase';
  return 'unknown';
}

/** Looked up through the catalog: naming the functions needs USAGE on schema cron, which is one of the rights asked about. */
// The extension itself lives in pg_catalog; its objects in the schema cron it creates.
const CRON_RIGHTS = `SELECT e.extversion AS version, n.nspname AS schema, c.oid::regnamespace::text AS schema_sql,
            has_schema_privilege(c.oid, 'USAGE') AS usage,
            (SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = c.oid AND p.proname = 'schedule_in_database' ORDER BY p.oid LIMIT 1) AS schedule_signature,
            (SELECT has_function_privilege(p.oid, 'EXECUTE') FROM pg_proc p WHERE p.pronamespace = c.oid AND p.proname = 'schedule_in_database' ORDER BY p.oid LIMIT 1) AS schedule_execute,
            (SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = c.oid AND p.proname = 'alter_job' ORDER BY p.oid LIMIT 1) AS alter_signature,
            (SELECT has_function_privilege(p.oid, 'EXECUTE') FROM pg_proc p WHERE p.pronamespace = c.oid AND p.proname = 'alter_job' ORDER BY p.oid LIMIT 1) AS alter_execute
       FROM pg_extension e
       JOIN pg_namespace n ON n.oid = e.extnamespace
       JOIN pg_namespace c ON c.nspname = 'cron'
      WHERE e.extname = 'pg_cron'`;

async function inspectExtensions(db: Database) {
  const rows = await db.query<{ name: string; default_version: string | null; installed_version: string | null; schema: string | null; needs_superuser: boolean | null }>(
    `SELECT a.name, a.default_version, e.extversion AS installed_version, n.nspname AS schema,
            (SELECT v.superuser AND NOT v.trusted FROM pg_available_extension_versions v
              WHERE v.name = a.name AND v.version = a.default_version) AS needs_superuser
       FROM pg_available_extensions a
       LEFT JOIN pg_extension e ON e.extname = a.name
       LEFT JOIN pg_namespace n ON n.oid = e.extnamespace
      WHERE a.name IN ('pg_partman', 'pg_cron')`,
  );
  const state = (name: string): ExtensionState => {
    const row = rows.find((r) => r.name === name);
    return {
      available: row !== undefined,
      defaultVersion: row?.default_version ?? null,
      installed: row?.installed_version != null,
      version: row?.installed_version ?? null,
      schema: row?.schema ?? null,
      needsSuperuser: row?.needs_superuser ?? true,
    };
  };
  return { partman: state('pg_partman'), cron: state('pg_cron') };
}

/** pg_cron lives in cron.database_name; look there (same credentials) when it is another database. */
async function inspectCronDatabase(
  db: Database,
  cronDatabase: string,
): Promise<{ installed: boolean; version: string | null; schema: string | null; canScheduleInDatabase: boolean | null; rights: CronRights }> {
  try {
    const [row] = await db.queryCron<{
      version: string;
      schema: string;
      schema_sql: string;
      usage: boolean;
      schedule_signature: string | null;
      schedule_execute: boolean | null;
      alter_signature: string | null;
      alter_execute: boolean | null;
    }>(cronDatabase, CRON_RIGHTS);
    if (!row) return { installed: false, version: null, schema: null, canScheduleInDatabase: null, rights: UNKNOWN_CRON_RIGHTS };
    const right = (signature: string | null, execute: boolean | null): FunctionRight | null => (signature === null ? null : { signature, execute: execute ?? false });
    const rights: CronRights = {
      schema: row.schema_sql,
      usage: row.usage,
      scheduleInDatabase: right(row.schedule_signature, row.schedule_execute),
      alterJob: right(row.alter_signature, row.alter_execute),
    };
    return { installed: true, version: row.version, schema: row.schema, canScheduleInDatabase: row.usage && (rights.scheduleInDatabase?.execute ?? false), rights };
  } catch (error) {
    db.log.debug(`cannot inspect pg_cron in database ${cronDatabase}: ${(error as Error).message}`);
    return { installed: false, version: null, schema: null, canScheduleInDatabase: null, rights: UNKNOWN_CRON_RIGHTS };
  }
}

async function inspectPartmanRights(db: Database, schema: string | null): Promise<PartmanRights | null> {
  if (schema === null) return null;
  const [row] = await db.query<PartmanRights>(
    `SELECT has_schema_privilege(n.oid, 'USAGE') AS usage, has_schema_privilege(n.oid, 'CREATE') AS create,
            coalesce((SELECT bool_and(has_table_privilege(c.oid, p)) FROM pg_class c, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p
                       WHERE c.relnamespace = n.oid AND c.relname IN ('part_config', 'part_config_sub', 'custom_time_partitions')), false) AS "partConfig"
       FROM pg_namespace n WHERE n.nspname = $1`,
    [schema],
  );
  return row ?? null;
}

async function inspectTableState(db: Database, table: TableConfig, partmanSchema: string | null, kitInstalled: boolean, kitSchema: string): Promise<TableState> {
  const [row] = await db.query<{
    oid: number;
    relkind: string;
    partstrat: string | null;
    partkey: string[] | null;
    control_exists: boolean;
    control_type: string | null;
    control_not_null: boolean | null;
    pk: string[] | null;
    estimated_rows: string;
    children: number;
    default_partition: string | null;
  }>(
    `SELECT c.oid, c.relkind, pt.partstrat,
            (SELECT array_agg(a.attname::text ORDER BY k.ord)
               FROM unnest(pt.partattrs::int2[]) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum) AS partkey,
            ctl.attname IS NOT NULL AS control_exists,
            format_type(ctl.atttypid, ctl.atttypmod) AS control_type,
            ctl.attnotnull AS control_not_null,
            (SELECT array_agg(a.attname::text ORDER BY a.attnum)
               FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
              WHERE i.indrelid = c.oid AND i.indisprimary) AS pk,
            greatest(c.reltuples, 0) + coalesce((SELECT sum(greatest(p.reltuples, 0)) FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhrelid WHERE h.inhparent = c.oid), 0) AS estimated_rows,
            (SELECT count(*)::int FROM pg_inherits h WHERE h.inhparent = c.oid) AS children,
            (SELECT p.relname::text FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhrelid
              WHERE h.inhparent = c.oid AND pg_get_expr(p.relpartbound, p.oid) = 'DEFAULT') AS default_partition
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
       LEFT JOIN pg_attribute ctl ON ctl.attrelid = c.oid AND ctl.attname = $3 AND NOT ctl.attisdropped
      WHERE n.nspname = $1 AND c.relname = $2`,
    [table.name.schema, table.name.name, table.controlColumn],
  );
  const strategies: Record<string, string> = { r: 'range', l: 'list', h: 'hash' };
  let partman = false;
  let plpgsql = false;
  if (row && partmanSchema) {
    const registered = await db.query(`SELECT 1 FROM ${quoteIdent(partmanSchema)}.part_config WHERE parent_table = $1`, [dottedName(table.name)]);
    partman = registered.length > 0;
  }
  if (row && kitInstalled) {
    const managed = await db.query<{ strategy: string }>(`SELECT strategy FROM ${quoteIdent(kitSchema)}.managed_table WHERE parent_schema = $1 AND parent_table = $2`, [table.name.schema, table.name.name]);
    plpgsql = managed[0]?.strategy === 'plpgsql';
  }
  const pk = row?.pk ?? null;
  return {
    name: displayName(table.name),
    qualified: table.name,
    exists: row !== undefined,
    relkind: row?.relkind ?? null,
    partitioned: row?.relkind === 'p',
    partitionStrategy: row?.partstrat ? strategies[row.partstrat] ?? row.partstrat : null,
    partitionKey: row?.partkey ?? [],
    controlColumn: { name: table.controlColumn, exists: row?.control_exists ?? false, type: row?.control_type ?? null, notNull: row?.control_not_null ?? false },
    primaryKey: pk,
    primaryKeyIncludesControl: pk?.includes(table.controlColumn) ?? false,
    estimatedRows: Math.round(Number(row?.estimated_rows ?? 0)),
    children: row?.children ?? 0,
    defaultPartition: row?.default_partition ?? null,
    registeredWith: { partman, plpgsql },
  };
}

export async function inspect(db: Database, config: Config): Promise<Capabilities> {
  const server = await inspectServer(db);
  const ext = await inspectExtensions(db);
  const settingsHidden = server.preload === null;
  let preloaded = !settingsHidden && server.preload!.split(',').map((s) => s.trim().replace(/^"|"$/g, '')).includes('pg_cron');
  let cronDatabase = preloaded ? server.cron_database ?? 'postgres' : null;
  // Without the right to read settings, pg_cron installed in `postgres` (its default database,
  // where it can only exist when preloaded) is the evidence left.
  let seenThere: Awaited<ReturnType<typeof inspectCronDatabase>> | undefined;
  if (settingsHidden && ext.cron.available) {
    seenThere = await inspectCronDatabase(db, 'postgres');
    if (seenThere.installed) {
      preloaded = true;
      cronDatabase = 'postgres';
    }
  }
  let cron: CronState = { ...ext.cron, preloaded, databaseName: cronDatabase, canScheduleInDatabase: null, settingsHidden, rights: UNKNOWN_CRON_RIGHTS };
  if (seenThere?.installed) {
    cron = { ...cron, ...seenThere };
  } else if (cronDatabase !== null && (cronDatabase !== server.database || ext.cron.installed)) {
    // queryCron reads through this connection when pg_cron lives in this very database.
    const there = await inspectCronDatabase(db, cronDatabase);
    cron = { ...cron, ...there };
  }
  const [kitRow] = await db.query<{ installed: boolean }>('SELECT to_regclass($1) IS NOT NULL AS installed', [`${quoteIdent(config.kitSchema)}.managed_table`]);
  const kitInstalled = kitRow?.installed ?? false;
  const partmanRights = ext.partman.installed ? await inspectPartmanRights(db, ext.partman.schema) : null;
  // Without USAGE on pg_partman's schema or SELECT on part_config the registration cannot be read:
  // the preflight (src/core/grants.ts) names the GRANT instead of a read failing here.
  const readablePartman = ext.partman.installed && partmanRights?.usage === true && partmanRights.partConfig ? ext.partman.schema : null;
  const tables: TableState[] = [];
  for (const table of config.tables) {
    tables.push(await inspectTableState(db, table, readablePartman, kitInstalled, config.kitSchema));
  }
  const adminRoles = server.admin_roles ?? [];
  return {
    server: { version: server.version, versionNum: server.version_num, timezone: server.timezone, now: server.now },
    database: server.database,
    user: { name: server.user, superuser: server.superuser, adminRoles, canCreateInDatabase: server.can_create },
    host: fingerprint(server.settings ?? [], server.aurora, adminRoles),
    extensions: { pg_partman: { ...ext.partman, rights: partmanRights }, pg_cron: cron },
    kit: { schema: config.kitSchema, installed: kitInstalled },
    tables,
    citus: await inspectCitus(db, config),
  };
}

/** How to get pg_partman / pg_cron on each host (what an administrator must do). */
export function enableAdvice(host: Host, extension: 'pg_partman' | 'pg_cron', appDatabase: string, partmanSchema = 'partman'): string {
  const createPartman = `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(partmanSchema)}; CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA ${quoteIdent(partmanSchema)};`;
  if (extension === 'pg_partman') {
    switch (host) {
      case 'aws-rds':
      case 'aws-aurora':
        return `As a member of rds_superuser, in database ${appDatabase}: ${createPartman}`;
      case 'azure':
        return `Add PG_PARTMAN to the server parameter azure.extensions, then in database ${appDatabase}: ${createPartman}`;
      case 'cloud-sql':
        return `As a cloudsqlsuperuser member, in database ${appDatabase}: ${createPartman}`;
      case 'supabase':
        return `Enable pg_partman under Database > Extensions (newer projects only; older projects keep the plpgsql strategy), or: ${createPartman}`;
      case 'neon':
        return `In database ${appDatabase}: ${createPartman}`;
      default:
        return `Install the pg_partman package for this server version (Debian: postgresql-<major>-partman), then as a superuser in database ${appDatabase}: ${createPartman}`;
    }
  }
  switch (host) {
    case 'aws-rds':
    case 'aws-aurora':
      return "Add pg_cron to shared_preload_libraries in the DB parameter group and reboot; then as rds_superuser in database postgres: CREATE EXTENSION pg_cron; (jobs reach other databases through cron.schedule_in_database).";
    case 'azure':
      return 'Add PG_CRON to azure.extensions and to shared_preload_libraries, restart, then CREATE EXTENSION pg_cron; in the database named by cron.database_name.';
    case 'cloud-sql':
      return 'Set the flag cloudsql.enable_pg_cron=on and restart; then CREATE EXTENSION pg_cron; in database postgres.';
    case 'supabase':
      return 'Enable pg_cron under Database > Extensions.';
    case 'neon':
      return "Set cron.database_name for the endpoint through Neon's API, then CREATE EXTENSION pg_cron; there (jobs run only while the compute is awake).";
    default:
      return "Install pg_cron (Debian: postgresql-<major>-cron), set shared_preload_libraries = 'pg_cron' and cron.database_name, restart, then CREATE EXTENSION pg_cron; in that database. Without it, run `partkit maintain` from an external scheduler.";
  }
}

/** Superusers and host admin roles may create any extension; others only those that need no superuser. */
export function canCreateExtension(caps: Capabilities, ext: ExtensionState): boolean {
  return caps.user.superuser || caps.user.adminRoles.length > 0 || (!ext.needsSuperuser && caps.user.canCreateInDatabase);
}

/** Why one side of the decision (the strategy, or the scheduler) went as it did, and what would enable the rest. */
export interface Choice {
  readonly reasons: readonly string[];
  readonly advice: readonly string[];
}

/**
 * The scheduler of the maintenance job: the one asked for, else pg_cron where it is preloaded, else an
 * external one. `kept`: the requested scheduler is not a flag but what provision recorded in the kit's
 * registry (src/core/settings.ts), kept because nothing asked for another. The strategy is chosen by
 * the strategies themselves (`decide`, src/strategies/index.ts).
 */
export function decideScheduler(caps: Capabilities, config: Config, requestedScheduler: 'auto' | Scheduler = 'auto', kept = false): Choice & { readonly scheduler: Scheduler } {
  const reasons: string[] = [];
  const advice: string[] = [];
  const cron = caps.extensions.pg_cron;
  let scheduler: Scheduler;
  if (requestedScheduler === 'external') {
    scheduler = 'external';
    reasons.push(kept ? `the external scheduler recorded in ${config.kitSchema}.maintenance_schedule is kept (--scheduler changes it): run \`partkit maintain\` from it` : 'an external scheduler was requested: run `partkit maintain` from it');
  } else if (requestedScheduler === 'pg_cron' && !cron.preloaded) {
    scheduler = 'pg_cron';
    reasons.push(`scheduler pg_cron was ${kept ? `recorded in ${config.kitSchema}.maintenance_schedule` : 'requested'}, but pg_cron is not preloaded on this server`);
    advice.push(enableAdvice(caps.host, 'pg_cron', caps.database));
  } else if (cron.preloaded) {
    scheduler = 'pg_cron';
    if (kept && requestedScheduler === 'pg_cron') reasons.push(`the pg_cron scheduler recorded in ${config.kitSchema}.maintenance_schedule is kept (--scheduler changes it)`);
    reasons.push(
      cron.installed
        ? `pg_cron ${cron.version} is installed in database ${cron.databaseName}${cron.databaseName !== caps.database ? `; jobs target ${caps.database} through cron.schedule_in_database` : ''}`
        : `pg_cron is preloaded and will be created in database ${cron.databaseName}`,
    );
    if (cron.databaseName !== caps.database && cron.installed && cron.canScheduleInDatabase === false) {
      advice.push(`The user ${caps.user.name} may not call cron.schedule_in_database; an administrator must run in database ${cron.databaseName}: GRANT USAGE ON SCHEMA cron TO ${quoteIdent(caps.user.name)}; GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text,text,text,text,text,boolean) TO ${quoteIdent(caps.user.name)};`);
    }
    if (!cron.installed && !caps.user.superuser && caps.user.adminRoles.length === 0) {
      advice.push(`The user ${caps.user.name} cannot create pg_cron; an administrator must run in database ${cron.databaseName}: CREATE EXTENSION IF NOT EXISTS pg_cron;`);
    }
  } else {
    scheduler = 'external';
    if (cron.settingsHidden && cron.available) {
      reasons.push(`the user ${caps.user.name} may not read shared_preload_libraries, and pg_cron is not installed in database postgres: assuming it is not preloaded`);
      advice.push(`If pg_cron is preloaded, an administrator can create it (CREATE EXTENSION pg_cron; in the database named by cron.database_name) or GRANT pg_read_all_settings TO ${quoteIdent(caps.user.name)}; so partkit can see it.`);
    }
    reasons.push(
      cron.available
        ? "pg_cron is installed on the host but not in shared_preload_libraries: run `partkit maintain` from an external scheduler"
        : 'pg_cron is not available: run `partkit maintain` from an external scheduler (cron, a Kubernetes CronJob, a scheduled CI job)',
    );
    advice.push(`To schedule inside the database: ${enableAdvice(caps.host, 'pg_cron', caps.database)}`);
  }
  return { scheduler, reasons, advice };
}

