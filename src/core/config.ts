/**
 * The configuration file (JSON). The built-in default manages Semibot's four tables;
 * a file may override the defaults and list other tables. Validation is done by zod, and
 * every error names the field it is about.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { CronSyntaxError, longestGapSeconds, parseCron } from './cron.js';
import { ConfigError, IdentifierTooLongError, isPartkitError } from './errors.js';
import { checkIdentifierLength, findControlCharacter, parseQualifiedName, type QualifiedName } from './identifiers.js';

const UNIT_DAYS = { day: 1, week: 7, month: 30, year: 365 } as const;
type IntervalUnit = keyof typeof UNIT_DAYS;

/** `12 months`, `3 years`, `90 days`, `1 week`: normalised to "<n> <unit>s". */
export function parseInterval(text: string): { amount: number; unit: IntervalUnit; approxDays: number; text: string } | undefined {
  const match = /^\s*(\d{1,4})\s*(day|week|month|year)s?\s*$/i.exec(text);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2]!.toLowerCase() as IntervalUnit;
  if (amount <= 0) return undefined;
  return { amount, unit, approxDays: amount * UNIT_DAYS[unit], text: `${amount} ${unit}${amount === 1 ? '' : 's'}` };
}

/** Every string of the file: no control characters (a newline in a name could end a SQL comment). */
const text = z.string().superRefine((value, ctx) => {
  const control = findControlCharacter(value);
  if (control) ctx.addIssue({ code: 'custom', message: `contains the control character ${control} (tab, newline and the like are not allowed)`, abort: true });
});

const intervalText = text.refine((value) => parseInterval(value) !== undefined, {
  message: 'expected an interval such as "12 months", "3 years" or "90 days"',
});

/** Only monthly partitions are supported; `monthly` is accepted as pg_partman 4 spells it. */
const partitionInterval = text
  .transform((value) => (value.trim().toLowerCase() === 'monthly' ? '1 month' : value))
  .refine((value) => parseInterval(value)?.text === '1 month', {
    message: 'only "1 month" partitions are supported',
  })
  .transform(() => '1 month' as const);

const timeZone = text.refine(
  (value) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: value });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a known IANA time zone (e.g. "UTC", "Asia/Shanghai")' },
);

const identifier = text
  .min(1)
  .refine((value) => Buffer.byteLength(value) <= 63, { message: 'longer than 63 bytes' });

/** Cron syntax as pg_cron takes it: five fields, a shortcut such as @daily, or pg_cron's "N seconds". */
const cronSchedule = text.superRefine((value, ctx) => {
  try {
    longestGapSeconds(parseCron(value));
  } catch (error) {
    if (!(error instanceof CronSyntaxError)) throw error;
    ctx.addIssue({ code: 'custom', message: `not a cron schedule pg_cron runs: ${error.message} (e.g. "0 * * * *", "@daily", "30 seconds")` });
  }
});

/** A file mode as an octal string ("0600"); the owner must keep what partkit itself needs (`ownerBits`). */
function octalMode(ownerBits: number, what: string) {
  return z
    .string()
    .regex(/^0?[0-7]{3}$/, { message: `expected an octal mode such as "0${ownerBits.toString(8)}0"` })
    .refine((value) => (Number.parseInt(value, 8) & ownerBits) === ownerBits, { message: `the owner needs ${what} (0${ownerBits.toString(8)}00 at least)` });
}

/** Archived rows are user data: readable by their owner only, unless the config says otherwise. */
export const DEFAULT_ARCHIVE_MODES = { fileMode: '0600', dirMode: '0700' } as const;

/**
 * Citus: shard the table by `column` across the workers (months stay range partitions on each).
 * `colocateWith` is "default" (Citus groups tables with the same column type and shard count),
 * "none", or a table distributed before it (e.g. "public.messages"). null: keep it a local table.
 */
const distribution = z
  .strictObject({
    column: identifier,
    colocateWith: text.min(1).optional(),
  })
  .nullable();

const tableSettingsShape = {
  controlColumn: identifier,
  interval: partitionInterval,
  premake: z.number().int().min(1).max(60),
  retention: intervalText.nullable(),
  archive: z.boolean(),
  purge: z.strictObject({ enabled: z.boolean(), after: intervalText }),
  timeZone,
  distribution,
  ids: z.enum(['uuidv7', 'random']),
};

const tableSettings = z.strictObject(tableSettingsShape);

const tableEntry = z.strictObject({
  name: text.min(1),
  ...Object.fromEntries(Object.entries(tableSettingsShape).map(([key, schema]) => [key, schema.optional()])),
} as { name: typeof text } & { [K in keyof typeof tableSettingsShape]: z.ZodOptional<(typeof tableSettingsShape)[K]> });

/** The Semibot tables the design names: what a config without `tables` manages. */
export const SEMIBOT_TABLES = ['public.messages', 'public.execution_logs', 'public.api_key_logs', 'public.usage_records'] as const;

const configFile = z.strictObject({
  $schema: text.optional(),
  strategy: z.enum(['auto', 'partman', 'plpgsql']).default('auto'),
  kitSchema: identifier.default('partkit'),
  partmanSchema: identifier.default('partman'),
  archiveSchema: identifier.default('partkit_archive'),
  maintenance: z
    .strictObject({
      schedule: cronSchedule.default('0 * * * *'),
      jobName: identifier.optional(),
    })
    .default({ schedule: '0 * * * *' }),
  archiveExport: z
    .strictObject({
      fileMode: octalMode(0o600, 'read and write').default(DEFAULT_ARCHIVE_MODES.fileMode),
      dirMode: octalMode(0o700, 'read, write and search').default(DEFAULT_ARCHIVE_MODES.dirMode),
    })
    .default(DEFAULT_ARCHIVE_MODES),
  defaults: tableSettings.partial().default({}),
  tables: z.array(tableEntry).min(1).default(() => SEMIBOT_TABLES.map((name) => ({ name }))),
});

/** The config file's content as written (every key optional); the API takes it as `config`. */
export type ConfigFile = z.input<typeof configFile>;

/** The config file's JSON Schema (draft 2020-12), for editors: point "$schema" at a saved copy. */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configFile, { io: 'input', unrepresentable: 'any' }),
    title: 'partkit configuration',
    description: 'Tables partkit partitions by month, and how. Every key is optional; see the README.',
  };
}

export type Strategy = 'partman' | 'plpgsql';

export interface TableConfig {
  readonly name: QualifiedName;
  readonly controlColumn: string;
  readonly interval: '1 month';
  readonly premake: number;
  /** Normalised interval text, or null to keep every month attached. */
  readonly retention: string | null;
  /** Where months past retention go; null when archive is off (then retention must be off too). */
  readonly archiveSchema: string | null;
  readonly purgeAfter: string | null;
  readonly timeZone: string;
  /** Citus distribution (see src/citus/); null or absent for a local table. */
  readonly distribution?: TableDistribution | null;
  /**
   * The ids of a table partkit creates: "uuidv7", time-ordered ids made from created_at with an id
   * range per month, so that a lookup by id alone opens one month (docs/benchmarks.md); "random",
   * the template's gen_random_uuid(). A table that exists keeps its ids whatever this says.
   */
  readonly ids: 'uuidv7' | 'random';
}

export interface TableDistribution {
  readonly column: string;
  /** "default", "none" or a table name as Citus's colocate_with takes it. */
  readonly colocateWith: string;
}

export interface Config {
  readonly strategy: 'auto' | Strategy;
  readonly kitSchema: string;
  readonly partmanSchema: string;
  readonly maintenance: { readonly schedule: string; readonly jobName: string | undefined };
  /** Modes of the files and folders `archive export` writes (numbers, e.g. 0o600). */
  readonly archiveExport: { readonly fileMode: number; readonly dirMode: number };
  readonly tables: readonly TableConfig[];
  /** Where the config came from, for messages. */
  readonly source: string;
  /** Where it was found: a file, the environment, the built-in default, or the application's code. */
  readonly origin: ConfigOrigin;
}

export const BUILTIN_DEFAULTS = {
  controlColumn: 'created_at',
  interval: '1 month',
  premake: 4,
  retention: '12 months',
  archive: true,
  purge: { enabled: false, after: '3 years' },
  timeZone: 'UTC',
  distribution: null,
  ids: 'uuidv7',
} as const;

export const BUILTIN_CONFIG: unknown = {};

/** Where each resolved table's settings were written, for messages: "tables[2].controlColumn" or "defaults.controlColumn". */
const settingFields = new WeakMap<TableConfig, (key: string) => string>();

/** The config field a table's setting comes from (the table's entry, else `defaults`). */
export function settingField(table: TableConfig, key: keyof typeof BUILTIN_DEFAULTS): string {
  return settingFields.get(table)?.(key) ?? key;
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)), '');
}

/** Validates parsed JSON and resolves every table against the defaults. */
export function resolveConfig(raw: unknown, source: string): Config {
  const parsed = configFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = fieldPath(issue.path) || '(root)';
    const what = issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}` : issue.message;
    throw new ConfigError(`Invalid config ${source}: field "${field}": ${what}.`, 'Fix the field and run again; see README "Configuration".');
  }
  const file = parsed.data;
  const defaults = { ...BUILTIN_DEFAULTS, ...file.defaults };
  const seen = new Map<string, number>();
  const tables = file.tables.map((entry, index): TableConfig => {
    const at = (key: string) => `tables[${index}]${key ? `.${key}` : ''}`;
    let name: QualifiedName;
    try {
      name = parseQualifiedName(entry.name);
    } catch (error) {
      const message = `Invalid config ${source}: field "${at('name')}": ${isPartkitError(error) ? error.message : String(error)}`;
      if (error instanceof IdentifierTooLongError) throw new IdentifierTooLongError(message, error.hint);
      throw new ConfigError(message);
    }
    const key = `${name.schema}.${name.name}`;
    if (seen.has(key)) {
      throw new ConfigError(`Invalid config ${source}: field "${at('name')}": duplicate table ${JSON.stringify(entry.name)} (also tables[${seen.get(key)}]).`);
    }
    seen.set(key, index);
    const settings = { ...defaults, ...Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined)) } as typeof defaults;
    const retention = settings.retention === null ? null : parseInterval(settings.retention)!;
    if (retention && retention.approxDays < 30) {
      throw new ConfigError(`Invalid config ${source}: field "${at('retention')}": retention "${settings.retention}" is shorter than the partition interval (1 month).`);
    }
    if (retention && !settings.archive) {
      throw new ConfigError(
        `Invalid config ${source}: field "${at('archive')}": archive is off but retention is "${retention.text}"; partkit never drops months in maintenance.`,
        'Set "archive": true (months past retention move to the archive schema) or "retention": null.',
      );
    }
    const purge = settings.purge.enabled ? parseInterval(settings.purge.after)! : null;
    if (purge && retention && purge.approxDays < retention.approxDays) {
      throw new ConfigError(`Invalid config ${source}: field "${at('purge.after')}": purge after "${purge.text}" comes before retention "${retention.text}".`);
    }
    for (const [label, suffixBytes] of [['default', '_default'.length], ['monthly child', '_y2026m01'.length]] as const) {
      try {
        checkIdentifierLength(name.name + 'x'.repeat(suffixBytes), `Table name (with its ${label} partition suffix)`);
      } catch (error) {
        if (!(error instanceof IdentifierTooLongError)) throw error;
        throw new IdentifierTooLongError(`Invalid config ${source}: field "${at('name')}": ${error.message}`, error.hint);
      }
    }
    if (settings.archive && file.archiveSchema === name.schema) {
      throw new ConfigError(
        `Invalid config ${source}: field "archiveSchema": "${file.archiveSchema}" is the schema of ${at('')} (${entry.name}); months past retention must move out of the table's own schema.`,
        'Set "archiveSchema" to a schema of its own (the default is "partkit_archive").',
      );
    }
    const distribution = resolveDistribution(settings.distribution, name, at('distribution'), source);
    // Time-ordered ids put a trigger on the parent, and Citus refuses to distribute a table with
    // triggers: a distributed table keeps random ids unless the config asks otherwise, which it refuses.
    const idsGiven = (entry as Record<string, unknown>).ids !== undefined || (file.defaults as Record<string, unknown>).ids !== undefined;
    if (distribution !== null && settings.ids === 'uuidv7' && idsGiven) {
      throw new ConfigError(
        `Invalid config ${source}: field "${at('ids')}": "uuidv7" ids need a trigger on ${entry.name}, and Citus does not distribute a table with triggers.`,
        'Leave "ids" out (a distributed table gets "random") or set "ids": "random" for it.',
      );
    }
    const resolved: TableConfig = {
      name,
      controlColumn: settings.controlColumn,
      interval: '1 month',
      premake: settings.premake,
      retention: retention?.text ?? null,
      archiveSchema: settings.archive ? file.archiveSchema : null,
      purgeAfter: purge?.text ?? null,
      timeZone: settings.timeZone,
      distribution,
      ids: distribution === null ? settings.ids : 'random',
    };
    const entryKeys = entry as Record<string, unknown>;
    const defaultKeys = file.defaults as Record<string, unknown>;
    settingFields.set(resolved, (key) => (entryKeys[key] === undefined && defaultKeys[key] !== undefined ? `defaults.${key}` : at(key)));
    return resolved;
  });
  return {
    strategy: file.strategy,
    kitSchema: file.kitSchema,
    partmanSchema: file.partmanSchema,
    maintenance: { schedule: file.maintenance.schedule, jobName: file.maintenance.jobName },
    archiveExport: { fileMode: Number.parseInt(file.archiveExport.fileMode, 8), dirMode: Number.parseInt(file.archiveExport.dirMode, 8) },
    tables,
    source,
    origin: source === '(built-in default)' ? BUILTIN_ORIGIN : { from: 'code', path: null, description: source },
  };
}

function resolveDistribution(
  value: { column: string; colocateWith?: string | undefined } | null,
  table: QualifiedName,
  field: string,
  source: string,
): TableDistribution | null {
  if (value === null) return null;
  const colocateWith = value.colocateWith ?? 'default';
  if (colocateWith !== 'default' && colocateWith !== 'none') {
    try {
      const other = parseQualifiedName(colocateWith);
      if (other.schema === table.schema && other.name === table.name) {
        throw new ConfigError(`Invalid config ${source}: field "${field}.colocateWith": a table cannot be co-located with itself.`, 'Use "default", "none" or another distributed table.');
      }
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(`Invalid config ${source}: field "${field}.colocateWith": ${isPartkitError(error) ? error.message : String(error)}`, 'Use "default", "none" or a table name such as "public.messages".');
    }
  }
  return { column: value.column, colocateWith };
}

/** The config file partkit looks for in the working directory when neither --config nor PARTKIT_CONFIG names one. */
export const CONFIG_FILE_NAME = 'partkit.json';

/** Where a config came from, for the line every command prints and for `--json`. */
export interface ConfigOrigin {
  /** file: --config or ./partkit.json; environment: PARTKIT_CONFIG; default: the built-in; code: an object given to the API. */
  readonly from: 'file' | 'environment' | 'default' | 'code';
  /** The file read (as given, or as found in the working directory); null when no file was read. */
  readonly path: string | null;
  /** One line for people, e.g. "partkit.json (found in the working directory)". */
  readonly description: string;
}

/** The file a config was read from, for a printed command's --config (null: the built-in default or a config given in code). */
export function configPath(config: Config): string | null {
  return config.origin.path ?? (config.source.startsWith('(') ? null : config.source);
}

/** `--config FILE` when the config came from a file, so that a printed command uses the same one. */
export function configArgs(config: Config): string[] {
  const file = configPath(config);
  return file === null ? [] : ['--config', file];
}

export const BUILTIN_ORIGIN: ConfigOrigin = { from: 'default', path: null, description: 'the built-in default (the four Semibot tables)' };

/** What the config would be read from: --config, else PARTKIT_CONFIG, else ./partkit.json, else the built-in default. */
export function findConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): ConfigOrigin {
  if (path !== undefined) return { from: 'file', path, description: `${path} (--config)` };
  const fromEnv = env.PARTKIT_CONFIG || undefined;
  if (fromEnv !== undefined) return { from: 'environment', path: fromEnv, description: `${fromEnv} (PARTKIT_CONFIG)` };
  const local = join(cwd, CONFIG_FILE_NAME);
  if (existsSync(local)) return { from: 'file', path: local, description: `${local} (${CONFIG_FILE_NAME} found in the working directory)` };
  return BUILTIN_ORIGIN;
}

/** The config `findConfig` names, read and validated; its `origin` says where it came from. */
export async function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Promise<Config> {
  const origin = findConfig(path, env, cwd);
  const file = origin.path;
  if (file === null) return { ...resolveConfig(BUILTIN_CONFIG, '(built-in default)'), origin };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`Cannot read config file ${origin.description}: ${(error as NodeJS.ErrnoException).code ?? String(error)}.`, 'Check the path given to --config or PARTKIT_CONFIG.');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Config file ${file} is not valid JSON: ${(error as Error).message}.`);
  }
  return { ...resolveConfig(raw, file), origin };
}
