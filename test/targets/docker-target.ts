/**
 * The `docker` test target (see /work/shared/TARGETS.md): a private Docker daemon, started once per
 * run by test/targets/global-setup.ts and stopped by PID in its teardown, with the STAND-IN for the
 * official `postgres:17` image built in it (test/targets/docker.sh build-standin). test/docker.test.ts
 * builds partkit's own image (docker/Dockerfile) on top and runs it with testcontainers.
 *
 * The daemon keeps its images in ${PARTKIT_TARGETS_DIR}/docker/data, so the stand-in and the build
 * cache survive between runs; its pid file there also keeps a second run on the same machine from
 * starting another daemon on the same data (that run reports the target missing and skips it). It
 * uses no bridge, no iptables and no IP forwarding: containers run in the host's network namespace
 * and listen on 127.0.0.1 only.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { TestProject } from 'vitest/node';
import { isAlive } from '../../src/core/processes.js';

/** What test/docker.test.ts learns about the docker target (plain data: it crosses into the workers). */
export interface DockerTargetInfo {
  readonly available: boolean;
  /** Why the target is missing (only when `available` is false). */
  readonly reason?: string;
  /** DOCKER_HOST of the private daemon, e.g. unix:///var/cache/partkit/docker/docker.sock. */
  readonly dockerHost: string;
  /** The docker client matching the daemon. */
  readonly dockerBin: string;
  /** The daemon's version; '' when missing. */
  readonly version: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    partkitDocker: DockerTargetInfo;
  }
}

export class DockerTargetMissing extends Error {}

export interface RunningDocker {
  readonly info: DockerTargetInfo;
  stop(): Promise<void>;
}

const TARGETS_DIR = process.env.PARTKIT_TARGETS_DIR ?? '/var/cache/partkit';
const STATE_DIR = path.join(TARGETS_DIR, 'docker');
const DOCKERD = '/usr/sbin/dockerd';
const DOCKER = '/usr/bin/docker';
const DOCKER_SH = fileURLToPath(new URL('./docker.sh', import.meta.url));
const DOCKER_TEST_FILE = fileURLToPath(new URL('../docker.test.ts', import.meta.url));

export function missingDockerInfo(reason: string): DockerTargetInfo {
  return { available: false, reason, dockerHost: '', dockerBin: DOCKER, version: '' };
}

/**
 * False when the run's file filters (`vitest run test/x.test.ts`) leave test/docker.test.ts out, so
 * such runs start no daemon. Vitest keeps the filters on an internal field: when it is absent, true.
 */
export function runIncludesDockerTests(project: TestProject): boolean {
  const filters = (project.vitest as unknown as { filenamePattern?: readonly string[] }).filenamePattern;
  if (filters === undefined || filters.length === 0) return true;
  return filters.some((filter) => DOCKER_TEST_FILE.includes(filter) || path.resolve(filter) === DOCKER_TEST_FILE);
}

/** Starts the daemon and builds the stand-in; throws DockerTargetMissing when a piece is not installed. */
export async function startDockerTarget(forceStopOnExit: Set<() => void>): Promise<RunningDocker> {
  if (!existsSync(DOCKERD) || !existsSync(DOCKER)) {
    throw new DockerTargetMissing(`${DOCKERD} is not installed (run: bash test/targets/prepare.sh as root)`);
  }
  if (process.getuid?.() !== 0) throw new DockerTargetMissing('running dockerd needs root');
  if (!existsSync(path.join(TARGETS_DIR, 'trixie-root/usr/lib/postgresql/17/bin/postgres'))) {
    throw new DockerTargetMissing(`no trixie root with PostgreSQL 17 under ${TARGETS_DIR} for the stand-in postgres:17 (run: bash test/targets/prepare.sh as root)`);
  }

  await fs.mkdir(path.join(STATE_DIR, 'data'), { recursive: true });
  const pidFile = path.join(STATE_DIR, 'dockerd.pid');
  refuseSecondDaemon(pidFile);

  const socket = path.join(STATE_DIR, 'docker.sock');
  const dockerHost = `unix://${socket}`;
  // Runtime state (containerd's sockets, mounts of running containers) is per run, away from the cache.
  const execRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'partkit-dockerd-'));
  const logFile = path.join(STATE_DIR, 'dockerd.log');
  const log = openSync(logFile, 'w');
  let daemon: ChildProcess;
  try {
    daemon = spawn(
      DOCKERD,
      [
        `--host=${dockerHost}`,
        `--data-root=${path.join(STATE_DIR, 'data')}`,
        `--exec-root=${execRoot}`,
        `--pidfile=${pidFile}`,
        '--iptables=false',
        '--ip-forward=false',
        '--ip-masq=false',
        '--bridge=none',
      ],
      { stdio: ['ignore', log, log] },
    );
  } finally {
    closeSync(log);
  }
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  const pid = daemon.pid ?? 0;

  const kill = (): void => {
    // vitest is exiting without its teardown (Ctrl-C): stop the daemon, waiting as the servers do.
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 20_000;
    while (isAlive(pid) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 50);
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  };
  forceStopOnExit.add(kill);
  const stop = async (): Promise<void> => {
    forceStopOnExit.delete(kill);
    await stopByPid(daemon, exited, logFile, execRoot);
    unmountBelow(path.join(STATE_DIR, 'data'));
    if (unmountBelow(execRoot)) rmSync(execRoot, { recursive: true, force: true });
  };

  try {
    const version = await waitUntilReady(dockerHost, daemon, logFile, pidFile);
    const standin = await execa('bash', [DOCKER_SH, 'build-standin'], { env: { DOCKER_HOST: dockerHost }, reject: false, all: true, timeout: 600_000 });
    if (standin.exitCode !== 0) throw new Error(`building the stand-in postgres:17 failed (exit ${standin.exitCode}):\n${standin.all}`);
    if (standin.all) process.stderr.write(`${standin.all}\n`);
    return { info: { available: true, dockerHost, dockerBin: DOCKER, version }, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Another run (a colleague's, in parallel) owns the daemon on this data: skip rather than hold that run up. */
function refuseSecondDaemon(pidFile: string): void {
  const pid = readPid(pidFile);
  if (pid > 0 && isAlive(pid) && commandOf(pid).includes('dockerd')) {
    throw new DockerTargetMissing(`another test run's dockerd (PID ${pid}) is using ${STATE_DIR}; run the docker tests again when it is done`);
  }
}

async function waitUntilReady(dockerHost: string, daemon: ChildProcess, logFile: string, pidFile: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const result = await execa(DOCKER, ['version', '--format', '{{.Server.Version}}'], { env: { DOCKER_HOST: dockerHost }, reject: false, timeout: 10_000 });
    // Only our own daemon counts: one started at the same moment by another run answers on the same socket.
    if (result.exitCode === 0 && daemon.exitCode === null && readPid(pidFile) === daemon.pid) return result.stdout.trim();
    if (daemon.exitCode !== null) refuseSecondDaemon(pidFile);
    if (daemon.exitCode !== null || Date.now() > deadline) {
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      throw new Error(`dockerd did not start (${daemon.exitCode === null ? 'no answer in 60 s' : `exit ${daemon.exitCode}`}); ${logFile}:\n${tail}`);
    }
    await sleep(200);
  }
}

/**
 * SIGTERM: dockerd stops its containers and says "Daemon shutdown complete". Debian's dockerd 20.10
 * then lingers for half a minute waiting on its containerd; by then everything is saved, so after a
 * short grace it is killed (its containerd dies with it), as it is after 30 s in any case.
 */
async function stopByPid(daemon: ChildProcess, exited: Promise<void>, logFile: string, execRoot: string): Promise<void> {
  if (daemon.exitCode !== null || daemon.signalCode !== null || daemon.pid === undefined) return;
  const containerdPidFile = path.join(execRoot, 'containerd', 'containerd.pid');
  const containerdPid = existsSync(containerdPidFile) ? Number(readFileSync(containerdPidFile, 'utf8').trim()) : 0;
  process.kill(daemon.pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  let graceUntil = Infinity;
  let gone = false;
  while (!gone && Date.now() < Math.min(deadline, graceUntil)) {
    gone = await Promise.race([exited.then(() => true), sleep(250).then(() => false)]);
    if (graceUntil === Infinity && readFileSync(logFile, 'utf8').includes('Daemon shutdown complete')) graceUntil = Date.now() + 3_000;
  }
  if (!gone) {
    process.kill(daemon.pid, 'SIGKILL');
    await exited;
  }
  // Its containerd goes with it (parent-death signal); waited for, so nothing outlives the run.
  for (let waited = 0; containerdPid > 0 && isAlive(containerdPid) && commandOf(containerdPid).includes('containerd') && waited < 10_000; waited += 100) {
    if (waited === 5_000) process.kill(containerdPid, 'SIGKILL');
    await sleep(100);
  }
}

/**
 * dockerd leaves mounts of its own behind even after a clean exit: its network namespace file
 * (<exec-root>/netns/default) and a bind mount of the data root on itself. Unmounted deepest first;
 * false if one cannot be.
 */
function unmountBelow(dir: string): boolean {
  let mountInfo = '';
  try {
    mountInfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return false;
  }
  const mounts = mountInfo
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of mounts) {
    try {
      execFileSync('umount', [mountPoint]);
    } catch {
      process.stderr.write(`partkit targets: docker: cannot unmount ${mountPoint}\n`);
      return false;
    }
  }
  return true;
}

function readPid(pidFile: string): number {
  try {
    return Number(readFileSync(pidFile, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
