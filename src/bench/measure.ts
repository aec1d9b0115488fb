/**
 * Timing and plan reading for `partkit bench`: wall-clock samples with their median and p95, and
 * what EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) says about a query (partitions scanned, blocks).
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';

export interface Timing {
  /** Milliseconds, in the order they were taken. */
  readonly samples: readonly number[];
  readonly median: number;
  readonly p95: number;
  readonly min: number;
}

export function summarise(samples: readonly number[]): Timing {
  if (samples.length === 0) throw new Error('no samples to summarise');
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  // Nearest rank: with fewer than 20 samples this is the largest one, which is what p95 means then.
  const p95 = sorted[Math.ceil(0.95 * sorted.length) - 1]!;
  return { samples: samples.map(round3), median: round3(median), p95: round3(p95), min: round3(sorted[0]!) };
}

export function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Wall-clock milliseconds of one statement, round trip included (the same for both tables). */
export async function timeQuery(client: pg.Client, sql: string, params: readonly unknown[]): Promise<number> {
  const started = performance.now();
  await client.query(sql, params as unknown[]);
  return performance.now() - started;
}

export interface PlanFacts {
  readonly planningMs: number;
  readonly executionMs: number;
  /** Shared buffers found in cache / read from the OS, by execution (the top node counts its children). */
  readonly sharedHit: number;
  readonly sharedRead: number;
  /** Tables and partitions the executor opened (scan nodes), sorted. */
  readonly relationsScanned: readonly string[];
  /** Children the planner or executor pruned away ("Subplans Removed"). */
  readonly subplansRemoved: number;
  /** Scan node types, e.g. "Seq Scan", "Index Scan", with how many of each. */
  readonly scanNodes: Readonly<Record<string, number>>;
  /** The plan as text, for the JSON report. */
  readonly text: string;
}

interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Relation Name'?: string;
  readonly 'Subplans Removed'?: number;
  readonly 'Shared Hit Blocks'?: number;
  readonly 'Shared Read Blocks'?: number;
  readonly Plans?: readonly PlanNode[];
}

function walk(node: PlanNode, visit: (node: PlanNode) => void): void {
  visit(node);
  for (const child of node.Plans ?? []) walk(child, visit);
}

/** Runs EXPLAIN (ANALYZE, BUFFERS) of the statement twice, JSON for the figures and text for people. */
export async function explain(client: pg.Client, sql: string, params: readonly unknown[]): Promise<PlanFacts> {
  const json = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode; 'Planning Time': number; 'Execution Time': number }> }>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`,
    params as unknown[],
  );
  const root = json.rows[0]!['QUERY PLAN'][0]!;
  const relations = new Set<string>();
  const scanNodes: Record<string, number> = {};
  let subplansRemoved = 0;
  walk(root.Plan, (node) => {
    if (node['Relation Name'] !== undefined) {
      relations.add(node['Relation Name']);
      scanNodes[node['Node Type']] = (scanNodes[node['Node Type']] ?? 0) + 1;
    }
    subplansRemoved += node['Subplans Removed'] ?? 0;
  });
  const text = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) ${sql}`, params as unknown[]);
  return {
    planningMs: round3(root['Planning Time']),
    executionMs: round3(root['Execution Time']),
    sharedHit: root.Plan['Shared Hit Blocks'] ?? 0,
    sharedRead: root.Plan['Shared Read Blocks'] ?? 0,
    relationsScanned: [...relations].sort(),
    subplansRemoved,
    scanNodes,
    text: text.rows.map((row) => row['QUERY PLAN']).join('\n'),
  };
}
