import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

/** One command-line option, for `node:util` parseArgs and for `--help`. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The value's name in `--help`, e.g. `ms` for `--timeout <ms>`. */
  readonly value?: string;
  readonly description: string;
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS = {
  servers: {
    type: 'string',
    short: 's',
    value: 'host:port,...',
    description: 'job servers (default $GEARMAN_SERVERS, else 127.0.0.1:4730)',
  },
  json: { type: 'boolean', description: 'print JSON instead of tables, for scripts' },
  verbose: { type: 'boolean', description: 'more detail, and stack traces on errors' },
  help: { type: 'boolean', short: 'h', description: 'show help for the command' },
} as const satisfies Record<string, OptionSpec>;

/** The options of a command, by long name. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** The values parsed for `O` plus the global options: strings and booleans, or absent. */
export type ParsedValues<O extends OptionSpecs> = {
  [K in keyof (O & typeof GLOBAL_OPTIONS)]?: (O & typeof GLOBAL_OPTIONS)[K]['type'] extends 'string'
    ? string
    : boolean;
};

/** A parsed command line. */
export interface ParsedArgs<O extends OptionSpecs> {
  readonly values: ParsedValues<O>;
  /** Positional arguments before a `--`. */
  readonly positionals: string[];
  /** Everything after the first `--`, untouched (`work <fn> -- <command> [args...]`); null without `--`. */
  readonly rest: string[] | null;
}

/**
 * Finds the command word: the first argument that is neither an option nor the value of a
 * global option, so that `gearmanode --servers h:4730 status` and `gearmanode status --servers
 * h:4730` both work. Returns the command (undefined when there is none) and the other arguments.
 */
export function splitCommand(argv: readonly string[]): { command?: string; args: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') break;
    if (arg.startsWith('-') && arg !== '-') {
      if (takesValue(arg)) i++; // skip the option's value
      continue;
    }
    return { command: arg, args: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { args: [...argv] };
}

// Whether a global option written as `arg` takes the next argument as its value.
function takesValue(arg: string): boolean {
  if (arg.includes('=')) return false;
  for (const [name, spec] of Object.entries(GLOBAL_OPTIONS)) {
    if (spec.type !== 'string') continue;
    if (arg === `--${name}` || ('short' in spec && arg === `-${spec.short}`)) return true;
  }
  return false;
}

/**
 * Parses a command's arguments (without the command word) with `node:util` parseArgs, strict:
 * an unknown option or a missing value is a UsageError naming the command.
 */
export function parseCommandArgs<O extends OptionSpecs>(
  command: string,
  options: O,
  argv: readonly string[],
): ParsedArgs<O> {
  const config: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  const all: OptionSpecs = { ...GLOBAL_OPTIONS, ...options };
  for (const [name, spec] of Object.entries(all)) {
    config[name] =
      spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short };
  }
  const dashdash = argv.indexOf('--');
  const before = dashdash === -1 ? argv : argv.slice(0, dashdash);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: attachNegativeValues(before, all),
      options: config,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error, all), command);
  }
  return {
    values: parsed.values as ParsedValues<O>,
    positionals: parsed.positionals,
    rest: dashdash === -1 ? null : argv.slice(dashdash + 1),
  };
}

/**
 * Writes `--port -1` as `--port=-1` (and `-p -1` likewise) for options that take a value, so that
 * a negative number reaches the option's own check ("--port must be an integer from 0 to 65535")
 * instead of parseArgs' "argument is ambiguous".
 */
function attachNegativeValues(argv: readonly string[], options: OptionSpecs): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    const name = optionName(arg, options);
    if (name !== undefined && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

// The long name of the value-taking option written as `arg` (`--port` or `-p`), if it is one.
function optionName(arg: string, options: OptionSpecs): string | undefined {
  for (const [name, spec] of Object.entries(options)) {
    if (spec.type !== 'string') continue;
    if (arg === `--${name}` || (spec.short !== undefined && arg === `-${spec.short}`)) return name;
  }
  return undefined;
}

// parseArgs messages are long and mention `args`/`strict`; keep the first sentence.
function parseArgsMessage(error: unknown, options: OptionSpecs): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  if (unknown) return `unknown option ${unknown[1]}`;
  const ambiguous = /^Option '(?:-\w, )?([^' ]+)[^']*' argument is ambiguous/.exec(message);
  if (ambiguous) {
    const written = ambiguous[1] as string;
    const short = Object.entries(options).find(([, spec]) => `-${spec.short}` === written);
    const long = short === undefined ? written : `--${short[0]}`;
    return `option ${written} needs a value; for one that starts with -, write ${long}=<value>`;
  }
  const missing = /^Option '([^']+)' argument missing/.exec(message);
  if (missing) {
    // parseArgs writes "-t, --timeout <value>"; the long name is enough.
    return `option ${(missing[1] ?? '').replace(/^-\w, /, '').replace(/ <value>$/, '')} needs a value`;
  }
  return message.split(/\. |\n/)[0] ?? message;
}

/**
 * Checks the number of positionals and returns them.
 * @throws UsageError naming the missing `names` or the first unexpected argument.
 */
export function expectPositionals(
  command: string,
  positionals: readonly string[],
  required: readonly string[],
  optional: readonly string[] = [],
): string[] {
  if (positionals.length < required.length) {
    const missing = required.slice(positionals.length).map((name) => `<${name}>`);
    throw new UsageError(`missing ${missing.join(' ')}`, command);
  }
  const max = required.length + optional.length;
  if (positionals.length > max) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[max])}`, command);
  }
  return [...positionals];
}

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration: a number of seconds (`30`, `1.5`) or a number with a unit, `ms`, `s`, `m`
 * or `h` (`500ms`, `2m`). Returns milliseconds.
 * @throws UsageError naming `option` for anything else or a negative duration.
 */
export function parseDuration(text: string, option: string, command?: string): number {
  const match = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) {
    throw new UsageError(
      `${option} must be a duration such as 30, 30s, 500ms or 2m, got ${JSON.stringify(text)}`,
      command,
    );
  }
  return Math.round(Number(match[1]) * (UNITS[match[2] ?? 's'] as number));
}

/**
 * Parses `--at`: an ISO 8601 time (`2030-01-01T09:00:00Z`), Unix seconds (`1893488400`) or a
 * delay from now (`+30s`, `+5m`).
 * @throws UsageError for anything else.
 */
export function parseAt(text: string, now: number = Date.now(), command?: string): Date {
  const value = text.trim();
  if (value.startsWith('+')) return new Date(now + parseDuration(value.slice(1), '--at', command));
  if (/^\d+$/.test(value)) return new Date(Number(value) * 1000);
  // Date.parse accepts more than ISO 8601, so ask for at least a date in ISO form.
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new UsageError(
      `--at must be an ISO 8601 time, Unix seconds or +<duration>, got ${JSON.stringify(text)}`,
      command,
    );
  }
  return new Date(ms);
}

/**
 * Parses a non-negative integer option.
 * @throws UsageError naming `option` unless `text` is an integer from `min` to `max`.
 */
export function parseInteger(
  text: string,
  option: string,
  {
    min = 0,
    max = Number.MAX_SAFE_INTEGER,
    command,
  }: { min?: number; max?: number; command?: string } = {},
): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(
      `${option} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`,
      command,
    );
  }
  return value;
}

/** Job priorities, as `--priority` takes them. */
export const PRIORITIES = ['low', 'normal', 'high'] as const;

/** A job priority. */
export type Priority = (typeof PRIORITIES)[number];

/**
 * Parses `--priority`: `low`, `normal` or `high`.
 * @throws UsageError for anything else.
 */
export function parsePriority(text: string, command?: string): Priority {
  const value = text.trim().toLowerCase();
  if ((PRIORITIES as readonly string[]).includes(value)) return value as Priority;
  throw new UsageError(
    `--priority must be low, normal or high, got ${JSON.stringify(text)}`,
    command,
  );
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
};

/** The largest packet body the protocol can describe: its length field is 32 bits. */
const MAX_PACKET_LIMIT = 2 ** 32 - 1;

/**
 * Parses a size in bytes: a whole number (`67108864`), optionally with a binary unit, `K`/`KiB`,
 * `M`/`MiB` or `G`/`GiB` (`128MiB`, `1G`). Returns bytes.
 * @throws UsageError naming `option` for anything else, 0, or more than 4 GiB − 1.
 */
export function parseSize(text: string, option: string, command?: string): number {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match === null ? undefined : SIZE_UNITS[(match[2] as string).toLowerCase()];
  const value = match === null || unit === undefined ? Number.NaN : Number(match[1]) * unit;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_PACKET_LIMIT) {
    throw new UsageError(
      `${option} must be a size from 1 byte to 4GiB-1, such as 67108864, 128MiB or 1GiB, got ${JSON.stringify(text)}`,
      command,
    );
  }
  return value;
}
