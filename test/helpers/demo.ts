/**
 * What the tests of `partkit demo` (test/demo.test.ts, and the README's `npx partkit demo` in
 * test/readme.test.ts) check in its output, and that its throwaway server is gone afterwards.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { isAlive } from '../../src/core/processes.js';

export interface DemoJson {
  server: { kind: string; version: string; dataDir: string | null; pid: number | null; stopped: boolean };
  strategy: string;
  scheduler: string;
  rowsPerTable: number;
  /** The server's now() the sample months were counted from (ISO, UTC). */
  now: string;
  tables: { table: string; partitions: { name: string; from: string; to: string; rows: number }[]; defaultRows: number; archived: { name: string; rows: number }[] }[];
  partitions: number;
  archived: number;
  maintenance: { created: number; detached: number; failed: number };
  pruning: boolean;
  explain: { from: string; to: string; partitionsScanned: string[]; plan: string };
  kept: unknown;
}

export const DEMO_TABLES = ['public.messages', 'public.execution_logs', 'public.api_key_logs', 'public.usage_records'];

/** PIDs of processes whose command line mentions the folder. */
function processesUsing(folder: string): string[] {
  const lines = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n');
  return lines.filter((line) => line.includes(folder)).map((line) => line.trim());
}

/** The demo's postmaster has exited, nothing runs on its data folder, and the folder is removed. */
export function expectGone(dataDir: string, pid: number): void {
  expect(isAlive(pid), `postmaster ${pid} still running`).toBe(false);
  expect(processesUsing(dataDir)).toEqual([]);
  expect(existsSync(dataDir)).toBe(false);
  expect(existsSync(path.dirname(dataDir))).toBe(false);
}

/** Data folder and PID from the demo's start-up line on stderr. */
export function startedServer(stderr: string): { dataDir: string; pid: number } {
  const match = /data in (\S+) \(pid (\d+)\)/.exec(stderr);
  if (!match) throw new Error(`no start-up line in:\n${stderr}`);
  return { dataDir: match[1]!, pid: Number(match[2]) };
}

/** `YYYY-MM` of the month `count` months after `key`. */
function addMonths(key: string, count: number): string {
  const [year, month] = key.split('-').map(Number) as [number, number];
  const index = year * 12 + month - 1 + count;
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`;
}

/**
 * The sample rows fill the 13 months kept attached (12 before the server's current month, and the
 * current one) in equal shares, none in the default; the 6 months before those were archived.
 * `current` is the server's month as `YYYY-MM` in UTC (the built-in config's zone); by default
 * the month of the `now` the demo reports.
 */
export function expectSampleLayout(result: DemoJson, current = result.now.slice(0, 7)): void {
  expect(result.tables.map((t) => t.table)).toEqual(DEMO_TABLES);
  const keptMonths = Array.from({ length: 13 }, (_, i) => addMonths(current, i - 12));
  const share = result.rowsPerTable / 19;
  for (const table of result.tables) {
    const total = table.partitions.reduce((sum, p) => sum + p.rows, 0) + table.archived.reduce((sum, p) => sum + p.rows, 0) + table.defaultRows;
    expect(total, table.table).toBe(result.rowsPerTable);
    expect(table.defaultRows, table.table).toBe(0);
    const filled = table.partitions.filter((p) => p.rows > 0);
    expect(filled.map((p) => p.from.slice(0, 7)), table.table).toEqual(keptMonths);
    for (const partition of [...filled, ...table.archived]) {
      expect(Math.abs(partition.rows - share), partition.name).toBeLessThan(1);
    }
    expect(table.archived, table.table).toHaveLength(6);
  }
  expect(result.archived).toBe(24);
  expect(result.pruning).toBe(true);
  expect(result.explain.partitionsScanned).toHaveLength(1);
  expect(result.explain.from.slice(0, 7)).toBe(addMonths(current, -1));
  expect(result.maintenance.failed).toBe(0);
}

/**
 * Rows per table as the text report prints them: its monthly partitions, its archived months
 * and its default partition added up.
 */
export function reportedRowsPerTable(stdout: string): Map<string, number> {
  const totals = new Map<string, number>();
  let table: string | undefined;
  const number = (text: string) => Number(text.replaceAll(',', ''));
  for (const line of stdout.split('\n')) {
    const header = /^(\S+\.\S+): \d+ monthly partitions \+ default \(([\d,]+) rows in the default\), \d+ archived$/.exec(line);
    if (header) {
      table = header[1]!;
      totals.set(table, number(header[2]!));
      continue;
    }
    const rows = /^ {2}\S.* ([\d,]+) rows$/.exec(line);
    if (table !== undefined && rows) totals.set(table, totals.get(table)! + number(rows[1]!));
    else table = undefined;
  }
  return totals;
}

/** The --rows default as `partkit demo --help` states it. */
export function defaultRowsFromHelp(help: string): number {
  const match = /--rows\b[^\n]*?\[default: (\d+)\]/.exec(help.replace(/\n\s+(?=\S)/g, ' '));
  if (!match) throw new Error(`no --rows default in:\n${help}`);
  return Number(match[1]);
}

/**
 * What `partkit demo` without options must print: the default rows in every table (as loaded,
 * counted in its report), pruning to one partition, and a stopped, removed server.
 */
export function expectDefaultDemoReport(result: { exitCode?: number | undefined; stdout: string; stderr: string }, defaultRows: number): void {
  expect(result.exitCode, result.stderr).toBe(0);
  expect(result.stdout).toContain(`strategy plpgsql, ${defaultRows.toLocaleString('en-US')} rows per table`);
  expect(Object.fromEntries(reportedRowsPerTable(result.stdout))).toEqual(Object.fromEntries(DEMO_TABLES.map((name) => [name, defaultRows])));
  expect(result.stdout).toMatch(/partition pruning: only messages_y\d{4}m\d{2} was scanned, of \d+ monthly partitions/);
  expect(result.stdout).toContain('the demo server was stopped and its files removed');
  expect(`${result.stdout}${result.stderr}`).not.toMatch(/postgres(ql)?:\/\/[^@\s/]*:[^@\s]*@/);
  const { dataDir, pid } = startedServer(result.stderr);
  expectGone(dataDir, pid);
}
