import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createTestDatabase, describeTarget, REPO_DIR, runPartkit, type TestDatabase } from './helpers/targets.js';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  name: string;
  on: unknown;
  permissions?: Record<string, string>;
  jobs: Record<string, { 'runs-on': string; env?: Record<string, string>; steps: Step[] }>;
}

const EXAMPLE = path.join(REPO_DIR, 'docs', 'examples', 'github-actions.yml');
const workflow = parse(readFileSync(EXAMPLE, 'utf8')) as Workflow;
const [job] = Object.values(workflow.jobs);

/** Every `partkit <command> [args]` the workflow's run scripts invoke (line continuations joined). */
function partkitInvocations(steps: readonly Step[]): { command: string; args: string[] }[] {
  const found: { command: string; args: string[] }[] = [];
  for (const step of steps) {
    if (!step.run) continue;
    for (const line of step.run.replace(/\\\n\s*/g, ' ').split('\n')) {
      const match = /(?:^|[\s;&|(])(?:npx\s+)?partkit\s+([^;&|#\n]*)/.exec(line);
      if (!match) continue;
      const [command = '', ...args] = match[1]!.trim().split(/\s+/);
      found.push({ command, args });
    }
  }
  return found;
}

const invocations = partkitInvocations(job?.steps ?? []);

describe('docs/examples/github-actions.yml', () => {
  it('is a workflow with one job on ubuntu that provisions, verifies with --junit and publishes the report', () => {
    expect(workflow.name).toBeTruthy();
    expect(workflow.on).toBeTruthy();
    expect(Object.keys(workflow.jobs)).toHaveLength(1);
    expect(job!['runs-on']).toMatch(/^ubuntu-/);
    expect(job!.env?.DATABASE_URL).toMatch(/^postgres:\/\/[^@]+@127\.0\.0\.1:5432\/\w+$/);
    expect(invocations.map((i) => i.command)).toEqual(['provision', 'verify', 'status']);
    const verify = invocations.find((i) => i.command === 'verify')!;
    const report = verify.args[verify.args.indexOf('--junit') + 1];
    expect(report).toBe('partkit-verify.xml');
    const upload = job!.steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    const publish = job!.steps.find((s) => s.uses?.startsWith('mikepenz/action-junit-report@'));
    expect(upload).toMatchObject({ if: 'always()', with: { path: report } });
    expect(publish).toMatchObject({ if: 'always()', with: { report_paths: report } });
    expect(workflow.permissions).toMatchObject({ checks: 'write' });
  });

  it('starts a PostgreSQL with pg_partman and pg_cron preloaded before partkit runs', () => {
    const scripts = job!.steps.map((s) => s.run ?? '').join('\n');
    expect(scripts).toMatch(/postgresql-17-partman/);
    expect(scripts).toMatch(/postgresql-17-cron/);
    expect(scripts).toMatch(/shared_preload_libraries=pg_cron/);
    expect(scripts).toMatch(/cron\.database_name=postgres/);
    const start = job!.steps.findIndex((s) => /docker run/.test(s.run ?? ''));
    const provision = job!.steps.findIndex((s) => /partkit provision/.test(s.run ?? ''));
    expect(start).toBeGreaterThanOrEqual(0);
    expect(start).toBeLessThan(provision);
  });

  it('every partkit command it runs exists in `partkit --help`, and every option it passes is accepted', async () => {
    const help = await runPartkit(['--help']);
    expect(help.exitCode).toBe(0);
    const commands = [...help.stdout.matchAll(/^\s+partkit (\w[\w-]*)/gm)].map((m) => m[1]);
    expect(invocations.length).toBeGreaterThan(0);
    for (const { command, args } of invocations) {
      expect(commands, `partkit ${command}`).toContain(command);
      const commandHelp = await runPartkit([command, ...args, '--help']);
      expect(commandHelp.exitCode, commandHelp.stderr).toBe(0);
      for (const option of args.filter((arg) => arg.startsWith('--'))) {
        expect(commandHelp.stdout, `partkit ${command} ${option}`).toContain(`${option.split('=')[0]} `);
      }
    }
  });
});

describeTarget('pg17-partman5', 'the example workflow, run against PG 17 with pg_partman 5 and pg_cron', () => {
  let db: TestDatabase;
  const cwd = mkdtempSync(path.join(tmpdir(), 'partkit-ci-example-'));
  beforeAll(async () => {
    db = await createTestDatabase('pg17-partman5');
  });
  afterAll(() => db?.drop());

  it('its partkit commands succeed in order and write a JUnit report with no failure', async () => {
    for (const { command, args } of invocations) {
      const result = await runPartkit([command, ...args], { cwd, env: { DATABASE_URL: db.url } });
      expect(result.exitCode, `partkit ${command}: ${result.stdout}\n${result.stderr}`).toBe(0);
    }
    const report = path.join(cwd, 'partkit-verify.xml');
    expect(existsSync(report)).toBe(true);
    const xml = readFileSync(report, 'utf8');
    expect(xml).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="partkit verify" tests="\d+" failures="0"/);
    expect(xml.match(/<testcase /g)!.length).toBeGreaterThan(20);
  });
});
