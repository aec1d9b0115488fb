/**
 * A throwaway cluster of Debian's PostgreSQL packages, on the host or inside the trixie root (run
 * with chroot in a private mount namespace), optionally under a faked clock (libfaketime).
 *
 * The global set-up starts one per Debian target for the whole run; test/clock.test.ts starts its
 * own and restarts them to move their clock (libfaketime fixes the offset when the server starts).
 * Every server listens on 127.0.0.1 only, with `trust` on its private unix socket folder and
 * scram-sha-256 over TCP, and is stopped by its PID.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { isAlive } from '../../src/core/processes.js';
import { initdbArguments, onFreePort, writeHostBasedAuth } from '../../src/throwaway/server.js';
import type { OsUser } from '../../src/throwaway/os-user.js';

export const HOST = '127.0.0.1';
export const SUPERUSER = 'postgres';
/** libfaketime's path, the same on the host (bookworm) and in the trixie root. */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/** Test clusters are thrown away: durability only costs time. */
export const THROWAWAY_SETTINGS: Record<string, string> = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };

/** A target that cannot exist on this machine (binaries absent, not root): skipped outside CI. */
export class TargetMissing extends Error {}

export interface DebianClusterOptions {
  /** Used in folder names and messages. */
  readonly name: string;
  readonly major: number;
  readonly settings: Record<string, string>;
  /** Run inside this root with chroot (root only); paths given to the server are inside it. */
  readonly chrootRoot?: string;
}

/**
 * The environment that shifts a process's clock by `offsetSeconds` (libfaketime); empty for 0.
 * Monotonic clocks are left alone so that timeouts and sleeps keep their real length.
 */
export function fakeClockEnv(offsetSeconds: number): Record<string, string> {
  if (offsetSeconds === 0) return {};
  const sign = offsetSeconds < 0 ? '-' : '+';
  return { LD_PRELOAD: LIBFAKETIME, FAKETIME: `${sign}${Math.abs(Math.round(offsetSeconds))}s`, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}

export class DebianCluster {
  private pid = 0;
  private killOnExit: (() => void) | undefined;
  port = 0;
  version = '';
  binDir = '';

  private constructor(
    readonly options: DebianClusterOptions,
    /** Host path of the cluster's folder (data, log, socket). */
    readonly hostDir: string,
    private readonly innerDir: string,
    readonly password: string,
  ) {}

  /** initdb in a new temp folder; nothing runs yet. */
  static async init(options: DebianClusterOptions): Promise<DebianCluster> {
    const root = options.chrootRoot;
    const innerBinDir = `/usr/lib/postgresql/${options.major}/bin`;
    const inRoot = (inner: string): string => (root === undefined ? inner : path.join(root, inner));
    const isRoot = process.getuid?.() === 0;
    if (!existsSync(inRoot(path.join(innerBinDir, 'postgres')))) {
      throw new TargetMissing(`${inRoot(innerBinDir)}/postgres is not installed (run: bash test/targets/prepare.sh as root)`);
    }
    if (root !== undefined && !isRoot) throw new TargetMissing('running PostgreSQL with chroot needs root');

    const hostDir = await fs.mkdtemp(path.join(root === undefined ? os.tmpdir() : path.join(root, 'tmp'), `partkit-${options.name}-`));
    const innerDir = root === undefined ? hostDir : `/tmp/${path.basename(hostDir)}`;
    const cluster = new DebianCluster(options, hostDir, innerDir, randomBytes(18).toString('base64url'));
    try {
      // initdb refuses root: as root, everything runs as the postgres user (of the root, if chrooted).
      if (isRoot) {
        const runAs = osUser(inRoot('/etc/passwd'), SUPERUSER);
        await fs.chown(hostDir, runAs.uid, runAs.gid);
      }
      await fs.chmod(hostDir, 0o700);
      const pwFile = path.join(hostDir, 'pw');
      await fs.writeFile(pwFile, `${cluster.password}\n`, { mode: 0o600 });
      if (isRoot) {
        const runAs = osUser(inRoot('/etc/passwd'), SUPERUSER);
        await fs.chown(pwFile, runAs.uid, runAs.gid);
      }
      await cluster.run('initdb', initdbArguments(cluster.innerData, path.join(innerDir, 'pw')));
      await fs.rm(pwFile);
      await writeHostBasedAuth(cluster.hostData, isRoot ? osUser(inRoot('/etc/passwd'), SUPERUSER) : undefined);
      const settings = { listen_addresses: HOST, unix_socket_directories: innerDir, ...THROWAWAY_SETTINGS, ...options.settings };
      const conf = Object.entries(settings).map(([key, value]) => `${key} = '${value}'\n`).join('');
      await fs.appendFile(path.join(cluster.hostData, 'postgresql.conf'), `\n# partkit test target ${options.name}\n${conf}`);
      cluster.binDir = root === undefined ? innerBinDir : await chrootClientWrappers(root, innerBinDir, path.join(hostDir, 'bin'));
      return cluster;
    } catch (error) {
      await cluster.remove();
      throw error;
    }
  }

  private get innerData(): string {
    return path.join(this.innerDir, 'data');
  }

  get hostData(): string {
    return path.join(this.hostDir, 'data');
  }

  private get pidFile(): string {
    return path.join(this.hostData, 'postmaster.pid');
  }

  /**
   * Starts the server, its clock shifted by `fakeOffsetSeconds` (0: the real clock). The first
   * start picks a free port; restarts keep it.
   */
  async start(fakeOffsetSeconds = 0): Promise<void> {
    if (this.pid !== 0) throw new Error(`${this.options.name} is already running`);
    const logFile = path.join(this.innerDir, 'server.log');
    const serverLog = (): Promise<string> => fs.readFile(path.join(this.hostDir, 'server.log'), 'utf8').catch(() => '');
    try {
      this.port = await onFreePort(
        async (port) => {
          await this.run('pg_ctl', ['start', '-w', '-t', '90', '-D', this.innerData, '-l', logFile, '-o', `-p ${port}`], fakeClockEnv(fakeOffsetSeconds));
          return port;
        },
        { port: this.port || undefined, isPortInUse: async () => /could not bind|already in use/i.test(await serverLog()) },
      );
    } catch (error) {
      const log = await serverLog();
      throw new Error(`${(error as Error).message}\n${log.split('\n').slice(-20).join('\n')}`, { cause: error });
    }
    this.pid = Number(readFileSync(this.pidFile, 'utf8').split('\n')[0]);
    const pid = this.pid;
    const pidFile = this.pidFile;
    // For an 'exit' listener when the process ends without running the teardown (Ctrl-C).
    this.killOnExit = () => {
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        return; // already gone
      }
      const pause = new Int32Array(new SharedArrayBuffer(4));
      const deadline = Date.now() + 20_000;
      while (existsSync(pidFile) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 50);
    };
    this.version = await checkPassword(this.port, this.password);
  }

  /** Synchronous stop for process 'exit' handlers; also removes the folder. */
  forceStop(): void {
    this.killOnExit?.();
    rmSync(this.hostDir, { recursive: true, force: true });
  }

  /** Fast shutdown by PID; waits for the server to remove its pid file. */
  async stop(): Promise<void> {
    const pid = this.pid || (existsSync(this.pidFile) ? Number(readFileSync(this.pidFile, 'utf8').split('\n')[0]) : 0);
    this.pid = 0;
    this.killOnExit = undefined;
    if (pid === 0) return;
    for (const signal of ['SIGINT', 'SIGQUIT', 'SIGKILL'] as const) {
      try {
        process.kill(pid, signal);
      } catch {
        return; // not running
      }
      const deadline = Date.now() + (signal === 'SIGKILL' ? 5_000 : 20_000);
      while (Date.now() < deadline) {
        if (!existsSync(this.pidFile) || !isAlive(pid)) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** Stops the server and removes its folder. */
  async remove(): Promise<void> {
    await this.stop();
    await unmountBelow(this.hostDir);
    await fs.rm(this.hostDir, { recursive: true, force: true });
  }

  private async run(file: string, args: string[], extraEnv: Record<string, string> = {}): Promise<void> {
    const root = this.options.chrootRoot;
    const bin = path.join(`/usr/lib/postgresql/${this.options.major}/bin`, file);
    const isRoot = process.getuid?.() === 0;
    // The clock is shifted for pg_ctl and the server only: libfaketime preloaded into runuser
    // itself hangs it in the trixie root, so the variables are set by `env` after runuser.
    const command = Object.keys(extraEnv).length === 0 ? [bin, ...args] : ['env', ...Object.entries(extraEnv).map(([key, value]) => `${key}=${value}`), bin, ...args];
    let exe: string;
    let argv: string[];
    if (root !== undefined) {
      // A private mount namespace: /proc and /dev exist inside the root for as long as the
      // server runs, nothing is mounted on the host, and nothing can be left mounted.
      const script = 'mount -t proc proc "$0/proc" && mount --bind /dev "$0/dev" && exec chroot "$0" runuser -u postgres -- "$@"';
      [exe, argv] = ['unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, root, ...command]];
    } else if (isRoot) {
      [exe, argv] = ['runuser', ['-u', SUPERUSER, '--', ...command]];
    } else {
      [exe, argv] = [command[0]!, command.slice(1)];
    }
    const env = { LC_ALL: 'C', PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
    const result = await execa(exe, argv, { reject: false, all: true, env, extendEnv: false });
    if (result.exitCode !== 0) throw new Error(`${file} ${args[0] ?? ''} failed (exit ${result.exitCode}):\n${result.all}`);
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

/** Connects over TCP with the password (so a broken pg_hba.conf shows here) and reads the version. */
export async function checkPassword(port: number, password: string): Promise<string> {
  const client = new pg.Client({ host: HOST, port, user: SUPERUSER, password, database: 'postgres' });
  await client.connect();
  try {
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version ?? '';
  } finally {
    await client.end();
  }
}
