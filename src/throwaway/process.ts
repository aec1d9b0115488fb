/**
 * The processes of a throw-away server: launching `postgres` and waiting until it is ready,
 * stopping it, running `initdb` and `postgres --version`, and the tail of its log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MissingCapabilityError } from '../core/errors.js';
import type { OsUser } from './os-user.js';

/** The only address a throw-away server listens on. */
export const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 60_000;
export const STOP_TIMEOUT_MS = 30_000;

export class PortInUseError extends Error {}

export interface LaunchArgs {
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

export async function launch({ postgres, dataDir, port, socketDir, settings, env, runAs, log, logFile }: LaunchArgs): Promise<ChildProcess> {
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
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timedOut = await Promise.race([exited.then(() => false), sleep(STOP_TIMEOUT_MS).then(() => true)]);
  if (timedOut) {
    child.kill('SIGKILL');
    await exited;
  }
}

export function run(file: string, args: string[], runAs: OsUser | undefined, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
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
export function waitForFileGoneSync(file: string, timeoutMs: number): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  while (existsSync(file) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 50);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The last lines a server logged, to explain a failed start. */
export class LogTail {
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
