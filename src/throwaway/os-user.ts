/**
 * The OS user a throw-away server runs as: PostgreSQL refuses to run as root, so as root initdb
 * and the server run as an unprivileged user, which then owns the server's folders.
 */
import { execFileSync } from 'node:child_process';
import { MissingCapabilityError } from '../core/errors.js';

/** The user tried first; PostgreSQL's packages create it. */
const DEFAULT_OS_USER = 'postgres';

/** The numeric ids of the OS user a server runs as. */
export interface OsUser {
  readonly uid: number;
  readonly gid: number;
}


export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * The user to run PostgreSQL as when root: the one asked for, else `postgres`, else `nobody` (on
 * a fresh machine without PostgreSQL packages; its folders are private to this server anyway).
 */
export function unprivilegedOsUser(name: string | undefined): OsUser {
  const candidates = name === undefined ? [DEFAULT_OS_USER, 'nobody'] : [name];
  for (const candidate of candidates) {
    const user = lookUpOsUser(candidate);
    if (user !== undefined) return user;
  }
  throw new MissingCapabilityError(
    `PostgreSQL refuses to run as root, and there is no unprivileged OS user ${candidates.map((c) => `"${c}"`).join(' or ')} to run it as.`,
    'Create one (useradd --system postgres), or run as a normal user.',
  );
}

function lookUpOsUser(name: string): OsUser | undefined {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const uid = id('-u');
    const gid = id('-g');
    return Number.isInteger(uid) && uid > 0 && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}
