/**
 * JUnit XML for CI systems: one <testsuite> per table (and one for the database-wide checks),
 * one <testcase> per check, a <failure> for each failed check.
 */

export interface JunitCase {
  /** Suite the case belongs to (a table name, or e.g. "database"). */
  readonly suite: string;
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Characters XML 1.0 cannot carry at all, even escaped. */
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Escapes text for element content, or for an attribute value (where line breaks would be folded to spaces). */
export function escapeXml(text: string, attribute = false): string {
  const escaped = text
    .replace(INVALID_XML, '\uFFFD')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
  return attribute ? escaped.replaceAll('\n', '&#10;').replaceAll('\r', '&#13;').replaceAll('\t', '&#9;') : escaped;
}

export function renderJunit(name: string, cases: readonly JunitCase[], timestamp: Date = new Date()): string {
  const suites = new Map<string, JunitCase[]>();
  for (const each of cases) suites.set(each.suite, [...(suites.get(each.suite) ?? []), each]);
  const failures = cases.filter((each) => !each.ok).length;
  // JUnit's timestamp is ISO 8601 without a zone designator.
  const stamp = timestamp.toISOString().replace(/\.\d+Z$/, '');
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escapeXml(name)}" tests="${cases.length}" failures="${failures}" errors="0" time="0">`,
  ];
  for (const [suite, members] of suites) {
    const failed = members.filter((each) => !each.ok).length;
    lines.push(`  <testsuite name="${escapeXml(suite)}" tests="${members.length}" failures="${failed}" errors="0" skipped="0" timestamp="${stamp}" time="0">`);
    for (const each of members) {
      const head = `    <testcase classname="${escapeXml(`${name}.${suite}`)}" name="${escapeXml(each.name)}" time="0"`;
      if (each.ok) {
        lines.push(`${head}>`, `      <system-out>${escapeXml(each.detail)}</system-out>`, '    </testcase>');
      } else {
        lines.push(`${head}>`, `      <failure message="${escapeXml(each.detail, true)}" type="CheckFailed">${escapeXml(each.detail)}</failure>`, '    </testcase>');
      }
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>', '');
  return lines.join('\n');
}
