/**
 * Where to connect: --database-url, else DATABASE_URL, else the libpq variables
 * (PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGSSLMODE). Passwords never leave this module
 * except inside the pg client configuration.
 */
import type { ClientBase, ClientConfig } from 'pg';
import { ConnectionError, sqlState } from './errors.js';

export interface ConnectionTarget {
  readonly config: ClientConfig;
  /** host:port/database as user, safe to print. */
  readonly display: string;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/** Replaces the password part of anything that looks like a connection URL. */
export function redact(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@');
}

function sslFromMode(mode: string | undefined): ClientConfig['ssl'] {
  switch (mode) {
    case undefined:
    case '':
    case 'disable':
    case 'allow':
    case 'prefer':
      return undefined;
    case 'require':
    case 'no-verify':
      return { rejectUnauthorized: false };
    case 'verify-ca':
    case 'verify-full':
      return { rejectUnauthorized: true };
    default:
      throw new ConnectionError(`Unknown PGSSLMODE/sslmode "${mode}".`, 'Use disable, require, verify-ca or verify-full.');
  }
}

/**
 * `applicationName` names partkit's sessions in pg_stat_activity (the CLI passes `partkit <command>`)
 * unless the URL (`?application_name=`) or PGAPPNAME gives one.
 */
export function resolveConnection(databaseUrl: string | undefined, env: NodeJS.ProcessEnv = process.env, applicationName = 'partkit'): ConnectionTarget {
  const url = databaseUrl ?? (env.DATABASE_URL || undefined);
  const parts = url === undefined ? fromEnvironment(env) : fromUrl(url, env);
  const config: ClientConfig = {
    application_name: parts.applicationName || applicationName,
    connectionTimeoutMillis: Number(env.PARTKIT_CONNECT_TIMEOUT_MS ?? DEFAULT_CONNECT_TIMEOUT_MS),
    host: parts.host,
    port: parts.port,
    user: parts.user,
    database: parts.database,
    ...(parts.password !== undefined ? { password: parts.password } : {}),
    ssl: sslFromMode(parts.sslmode),
  };
  return { config, display: `${parts.user}@${parts.host}:${parts.port}/${parts.database}` };
}

interface ConnectionParts {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password: string | undefined;
  readonly sslmode: string | undefined;
  readonly applicationName: string | undefined;
}

/** postgres://user:password@host:port/database?sslmode=...; libpq variables fill what it leaves out. */
function fromUrl(url: string, env: NodeJS.ProcessEnv): ConnectionParts {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConnectionError(`The database URL is not a valid URL (${redact(url)}).`, 'Expected postgres://user:password@host:5432/database.');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConnectionError(`The database URL must start with postgres:// or postgresql:// (got "${parsed.protocol}").`, 'Expected postgres://user:password@host:5432/database.');
  }
  return {
    host: parsed.searchParams.get('host') ?? (decodeURIComponent(parsed.hostname) || env.PGHOST || 'localhost'),
    port: Number(parsed.port || env.PGPORT || 5432),
    user: decodeURIComponent(parsed.username) || env.PGUSER || env.USER || 'postgres',
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || decodeURIComponent(parsed.username) || 'postgres',
    password: parsed.password ? decodeURIComponent(parsed.password) : env.PGPASSWORD,
    sslmode: parsed.searchParams.get('sslmode') ?? env.PGSSLMODE,
    applicationName: parsed.searchParams.get('application_name') ?? env.PGAPPNAME,
  };
}

/** PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGSSLMODE, with libpq's defaults. */
function fromEnvironment(env: NodeJS.ProcessEnv): ConnectionParts {
  const user = env.PGUSER || env.USER || 'postgres';
  return {
    host: env.PGHOST || 'localhost',
    port: Number(env.PGPORT || 5432),
    user,
    database: env.PGDATABASE || user,
    password: env.PGPASSWORD,
    sslmode: env.PGSSLMODE,
    applicationName: env.PGAPPNAME,
  };
}

/** The same credentials, another database (pg_cron's `cron.database_name`). */
export function withDatabase(target: ConnectionTarget, database: string): ConnectionTarget {
  const { user, host, port } = target.config;
  return { config: { ...target.config, database }, display: `${user}@${host}:${port}/${database}` };
}

/** Turns a failed connect into a short message that names no password. */
export function connectionError(target: ConnectionTarget, error: unknown): ConnectionError {
  const code = sqlState(error) ?? (error as NodeJS.ErrnoException | undefined)?.code;
  const raw = error instanceof Error ? error.message : String(error);
  const password = target.config.password;
  const message = redact(typeof password === 'string' && password.length > 0 ? raw.split(password).join('***') : raw);
  const hints: Record<string, string> = {
    '28P01': 'Check the user name and password (DATABASE_URL or PGPASSWORD).',
    '28000': 'The server refused this user: check pg_hba.conf or the host\'s access rules.',
    '3D000': 'Create the database first, or point --database-url at an existing one.',
    ECONNREFUSED: 'Is the server running and listening on that host and port?',
    ENOTFOUND: 'Check the host name.',
  };
  const timedOut = /timeout/i.test(message);
  return new ConnectionError(
    `Cannot connect to ${target.display}: ${timedOut ? 'timed out' : message}.`,
    hints[code ?? ''] ?? (timedOut ? 'The host did not answer in time; check host, port and firewall.' : undefined),
    { cause: error },
  );
}

/**
 * The target of an application's own connection (a pg.Client, or a client of its pg.Pool): its
 * user, host, port, database and credentials, so that partkit can reach pg_cron's database as
 * the same user, and print where it is connected without the password.
 */
export function targetOfClient(client: ClientBase, applicationName = 'partkit'): ConnectionTarget {
  // node-postgres keeps the resolved settings (ssl, password) on connectionParameters; the typed fields are a subset.
  const given = (client as ClientBase & { connectionParameters?: ClientConfig }).connectionParameters ?? {};
  const own = client as ClientBase & Partial<Pick<ClientConfig, 'user' | 'host' | 'port' | 'database' | 'password'>>;
  const config: ClientConfig = {
    ...given,
    application_name: applicationName,
    connectionTimeoutMillis: given.connectionTimeoutMillis ?? DEFAULT_CONNECT_TIMEOUT_MS,
    user: given.user ?? own.user,
    host: given.host ?? own.host,
    port: given.port ?? own.port,
    database: given.database ?? own.database,
    // node-postgres keeps the password out of enumeration: the spread above does not copy it.
    password: given.password ?? own.password,
  };
  return { config, display: `${config.user}@${config.host}:${config.port}/${config.database}` };
}
