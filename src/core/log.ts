/**
 * The logger every command and the executor report through. The library never writes on its own:
 * whoever calls it supplies the logger. The CLI's writes lines to stderr (results and SQL go to
 * stdout, so `partkit provision --dry-run | psql` works); an application passes its own logger, or
 * an `onEvent` callback through the API (src/index.ts), or nothing (then nothing is written).
 */
export interface Logger {
  info(message: string): void;
  /** Every statement the executor sends (`--verbose`). */
  debug(message: string): void;
  warn(message: string): void;
}

export interface LoggerOptions {
  readonly verbose: boolean;
  readonly quiet?: boolean | undefined;
  /** Where a line goes (the CLI: stderr). */
  readonly write: (line: string) => void;
}

/** The CLI's logger: info unless quiet, debug only when verbose (as `[sql] ...`), warnings always. */
export function createLogger(options: LoggerOptions): Logger {
  const { write } = options;
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

/** What a logger reports, as one value: the API's `onEvent` receives these. */
export interface LogEvent {
  readonly type: 'log';
  readonly level: 'info' | 'debug' | 'warn';
  readonly message: string;
}

/** A logger that hands every line to `onEvent` as a LogEvent. */
export function eventLogger(onEvent: (event: LogEvent) => void): Logger {
  return {
    info: (message) => onEvent({ type: 'log', level: 'info', message }),
    debug: (message) => onEvent({ type: 'log', level: 'debug', message }),
    warn: (message) => onEvent({ type: 'log', level: 'warn', message }),
  };
}
