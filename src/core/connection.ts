/**
 * Where to connect: --database-url, else DATABASE_URL, else the libpq variables
 * (PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGSSLMODE). Passwords never leave this module
 * except inside the pg client configuration: what is printed (`display`, a URL in a message) is
 * built from the parts without the password, so nothing printed needs masking afterwards, and a
 * server's message that happens to contain the password's text (a database named like it) is
 * printed as the server wrote it.
 */
import type { ClientBase, ClientConfig } from 'pg';
import { ConnectionError, sqlState } from './errors.js';

export interface ConnectionTarget {
  readonly config: ClientConfig;
  /** host:port/database as user, safe to print. */
  readonly display: string;
  /**
   * Where the settings came from: a URL (--database-url or DATABASE_URL), the PG* variables, or
   * nothing at all (libpq's defaults, localhost:5432), which a failed connect says.
   */
  readonly source?: 'url' | 'environment' | 'defaults';
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/**
 * Replaces the password part of anything that looks like a connection URL (by its place in the
 * URL, never by its text): the last guard before a message is printed. The placeholder
 * `password` of the examples in hints stays.
 */
export function redact(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)(?!password@)[^@\s]*@/gi, '$1***@');
}

/**
 * A connection URL with its password taken out of the user-info part, for messages: parsed when it
 * parses; otherwise everything between the user name and the last `@` goes (libpq reads the
 * user-info up to the last `@`, so a password may hold `/` or `@`).
 */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '';
    return parsed.toString();
  } catch {
    const start = url.indexOf('://');
    const at = url.lastIndexOf('@');
    if (start < 0 || at < start) return url;
    const userInfo = url.slice(start + 3, at);
    const colon = userInfo.indexOf(':');
    return colon < 0 ? url : `${url.slice(0, start + 3)}${userInfo.slice(0, colon)}:***${url.slice(at)}`;
  }
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
  const source = url !== undefined ? 'url' : LIBPQ_VARIABLES.some((name) => env[name]) ? 'environment' : 'defaults';
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
  return { config, display: `${parts.user}@${parts.host}:${parts.port}/${parts.database}`, source };
}

const LIBPQ_VARIABLES = ['PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'PGSSLMODE'] as const;

/** A %-decoded part of the URL; a bad %-sequence names the part, never its text (it may be the password). */
function decodePart(text: string, part: string, url: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ConnectionError(
      `The database URL ${withoutPassword(url)} has a bad %-sequence in its ${part}: a % must be followed by two hex digits.`,
      'Write a literal % as %25 (and @ : / ? # as %40 %3A %2F %3F %23), e.g. postgres://app:p%25ss@host:5432/semibot.',
    );
  }
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
    throw new ConnectionError(`The database URL is not a valid URL (${withoutPassword(url)}).`, 'Expected postgres://user:password@host:5432/database.');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConnectionError(`The database URL must start with postgres:// or postgresql:// (got "${parsed.protocol}").`, 'Expected postgres://user:password@host:5432/database.');
  }
  const username = decodePart(parsed.username, 'user name', url);
  return {
    host: parsed.searchParams.get('host') ?? (decodePart(parsed.hostname, 'host', url) || env.PGHOST || 'localhost'),
    port: Number(parsed.port || env.PGPORT || 5432),
    user: username || env.PGUSER || env.USER || 'postgres',
    database: decodePart(parsed.pathname.replace(/^\//, ''), 'database name', url) || username || 'postgres',
    password: parsed.password ? decodePart(parsed.password, 'password', url) : env.PGPASSWORD,
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
  return { ...target, config: { ...target.config, database }, display: `${user}@${host}:${port}/${database}` };
}

/** node-postgres' words for a server that asks for a password when none was given (SCRAM). */
const NO_PASSWORD = /client password must be a string/;

/**
 * Turns a failed connect into a short message. It never holds the password: `display` is built
 * without it and the server's (or driver's) message is printed as it is, whatever words the
 * password shares with it.
 */
export function connectionError(target: ConnectionTarget, error: unknown): ConnectionError {
  const code = sqlState(error) ?? (error as NodeJS.ErrnoException | undefined)?.code;
  const raw = error instanceof Error ? error.message : String(error);
  if (NO_PASSWORD.test(raw) && !target.config.password) {
    return new ConnectionError(
      `Cannot connect to ${target.display}: the server asks for a password, and none was given.`,
      'Put it in the URL (postgres://user:PASSWORD@host:5432/database) or set PGPASSWORD.',
      { cause: error },
    );
  }
  const hints: Record<string, string> = {
    '28P01': 'Check the user name and password (DATABASE_URL or PGPASSWORD).',
    '28000': 'The server refused this user: check pg_hba.conf or the host\'s access rules.',
    '3D000': 'Create the database first, or point --database-url at an existing one.',
    ECONNREFUSED: 'Is the server running and listening on that host and port?',
    ENOTFOUND: 'Check the host name.',
  };
  const timedOut = /timeout/i.test(raw);
  // Nothing said where to connect: say which defaults were tried, so that the failure is not a riddle.
  const defaults = target.source === 'defaults' ? ' (no --database-url, DATABASE_URL or PG* variable is set, so partkit tried libpq\'s defaults)' : '';
  const hint = hints[code ?? ''] ?? (timedOut ? 'The host did not answer in time; check host, port and firewall.' : undefined);
  return new ConnectionError(
    `Cannot connect to ${target.display}${defaults}: ${timedOut ? 'timed out' : raw}.`,
    defaults ? `Say where the database is: --database-url postgres://user:password@host:5432/database, or DATABASE_URL, or PGHOST/PGPORT/PGUSER/PGDATABASE.${hint ? ` ${hint}` : ''}` : hint,
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
