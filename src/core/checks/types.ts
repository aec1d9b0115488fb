/**
 * One verification result. `table` is the table's display name, or null for checks about the
 * server or the database as a whole (extensions, the maintenance schedule).
 */
export interface CheckResult {
  readonly table: string | null;
  readonly check: string;
  readonly ok: boolean;
  /** What was found; on failure also what is wrong and how to fix it. */
  readonly detail: string;
  /** A passing check with something worth fixing (it does not fail verify). */
  readonly warning?: true;
}

export function pass(table: string | null, check: string, detail: string): CheckResult {
  return { table, check, ok: true, detail };
}

/** Passes, but says what should be fixed: verify still exits 0. */
export function warn(table: string | null, check: string, detail: string): CheckResult {
  return { table, check, ok: true, detail, warning: true };
}

export function fail(table: string | null, check: string, detail: string): CheckResult {
  return { table, check, ok: false, detail };
}

/** One result from several problems: ok when there are none, else every problem in one detail. */
export function fromProblems(table: string | null, check: string, problems: readonly string[], okDetail: string): CheckResult {
  return problems.length === 0 ? pass(table, check, okDetail) : fail(table, check, problems.join('; '));
}
