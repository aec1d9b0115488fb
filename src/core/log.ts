/**
 * Logs go to stderr; results and SQL go to stdout, so `partkit provision --dry-run | psql` works.
 */
export interface Logger {
  info(message: string): void;
  debug(message: string): void;
  warn(message: string): void;
}

export function createLogger(options: { verbose: boolean; quiet?: boolean }): Logger {
  const write = (line: string) => process.stderr.write(`${line}\n`);
  return {
    info: (message) => {
      if (!options.quiet) write(message);
    },
    debug: (message) => {
      if (options.verbose) write(`[sql] ${message}`);
    },
    warn: (message) => write(`warning: ${message}`),
  };
}

export const silentLogger: Logger = { info: () => undefined, debug: () => undefined, warn: () => undefined };
