/**
 * `partkit migrate status <table>`: where a migration stands, read-only. The phase (from the
 * three names and the capture), the capture backlog, the rows the fill has copied and its ETA
 * (from the speed recorded with the last batch), and what the first maintenance will archive.
 */
import type { Config } from '../core/config.js';
import type { Database } from '../core/db.js';
import { backlog, captureName, readCapture } from './capture.js';
import { displayName } from '../core/identifiers.js';
import { shellQuote } from '../core/shell.js';
import { inspectMigration } from './inspect.js';
import { fromClause } from './copy.js';
import { describeArchive, monthsToArchive, type MonthToArchive } from './retention.js';

export type MigrationPhase = 'not started' | 'prepped' | 'filling' | 'filled' | 'swapped' | 'done' | 'unknown';

export interface MigrateStatus {
  readonly table: string;
  readonly phase: MigrationPhase;
  readonly capture: { readonly active: boolean; readonly backlog: number };
  readonly fill: { readonly rowsCopied: number; readonly estimatedRows: number; readonly complete: boolean; readonly rowsPerSecond: number | null; readonly etaSeconds: number | null };
  readonly archive: readonly MonthToArchive[];
  /** The retention the archive preview counts with (the table's in the config, or the built-in default). */
  readonly retention: string | null;
  readonly next: string | null;
  readonly changes: 0;
}

export async function migrateStatus(db: Database, config: Config, input: string): Promise<MigrateStatus> {
  const inspection = await inspectMigration(db, config, input, 'status');
  const { names, settings } = inspection;
  const label = displayName(names.table);
  // The table as a shell argument, so that the next command runs as printed.
  const shown = displayName(names.table);
  const arg = shellQuote(shown);
  const capture = captureName(names);
  const found = await readCapture(db, capture);
  const state = found.state;
  const waiting = found.exists ? await backlog(db, capture) : 0;
  let phase: MigrationPhase = 'unknown';
  let next: string | null = null;
  if (inspection.state === 'swapped') {
    phase = 'swapped';
    next = `partkit provision, then partkit migrate drop ${arg} --yes (or partkit migrate unswap ${arg})`;
  } else if (inspection.state === 'unswapped' && !inspection.partitioned) {
    phase = 'not started';
    next = `partkit migrate prep ${arg}`;
  } else if (inspection.state === 'unswapped' && found.exists) {
    phase = state.done ? 'filled' : state.rowsCopied > 0 || state.block || state.after ? 'filling' : 'prepped';
    next = state.done ? `partkit migrate swap ${arg}` : `partkit migrate fill ${arg}`;
  } else if (inspection.table?.relkind === 'p' && !inspection.retired && !found.exists) {
    phase = 'done';
  }
  if (found.exists && (phase === 'prepped' || phase === 'filling' || phase === 'filled')) {
    next = `${next} (or undo prep and fill: partkit migrate abort ${arg})`;
  }
  const source = inspection.state === 'swapped' ? inspection.retired : inspection.table?.relkind === 'r' ? inspection.table : undefined;
  const estimatedRows = source?.estimatedRows ?? 0;
  const rate = state.rowsPerSecond ?? null;
  const etaSeconds = phase === 'filling' && rate ? Math.max(0, Math.round((estimatedRows - state.rowsCopied) / rate)) : phase === 'filled' || phase === 'swapped' ? 0 : null;
  const archive = source?.control.type ? await monthsToArchive(db, fromClause(source), settings, source.control.type) : [];
  return {
    table: label,
    phase,
    capture: { active: found.exists, backlog: waiting },
    fill: { rowsCopied: state.rowsCopied, estimatedRows, complete: state.done, rowsPerSecond: rate, etaSeconds },
    archive,
    retention: settings.retention,
    next,
    changes: 0,
  };
}

/** The phases in which a fill is under way or kept: the others have no copy to count rows in. */
const FILLING_PHASES: readonly MigrationPhase[] = ['prepped', 'filling', 'filled', 'swapped'];

export function renderMigrateStatus(status: MigrateStatus): string {
  if (status.phase === 'done') return `${status.table}: done: it is partitioned and the original was dropped; nothing is captured.`;
  const lines = [`${status.table}: ${status.phase}`, `  capture: ${status.capture.active ? `on, ${status.capture.backlog} key(s) waiting to be replayed` : 'off'}`];
  if (FILLING_PHASES.includes(status.phase)) {
    lines.push(
      `  fill: ${status.fill.rowsCopied}${status.fill.estimatedRows > 0 ? ` of ~${status.fill.estimatedRows}` : ''} row(s) copied${status.fill.complete ? ' (whole table)' : ''}${status.fill.rowsPerSecond ? `, ${status.fill.rowsPerSecond} rows/s` : ''}${status.fill.etaSeconds !== null ? `, ETA ${status.fill.etaSeconds} s` : ''}`,
    );
  }
  if (status.phase !== 'unknown') lines.push(`  ${describeArchive(status.archive, status.retention, status.table)}`);
  if (status.next) lines.push(`next: ${status.next}`);
  return lines.join('\n');
}
