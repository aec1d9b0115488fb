/**
 * Printed commands. Every hint that names a partkit command renders it here, so that it runs
 * as printed in a POSIX shell: each argument is single-quoted unless it is plainly safe.
 */

/** Characters that no POSIX shell treats specially in an unquoted word. */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One argument as a POSIX shell word: 'it'\''s' for an embedded single quote. */
export function shellQuote(argument: string): string {
  if (argument.length > 0 && SAFE_WORD.test(argument)) return argument;
  return `'${argument.replaceAll("'", `'\\''`)}'`;
}

/** `partkit <args>` with every argument quoted for the shell, e.g. partkit migrate fill '"My Schema"."Odd ""Name"" Log"'. */
export function partkitCommand(args: readonly string[]): string {
  return ['partkit', ...args].map(shellQuote).join(' ');
}
