import { Buffer } from 'node:buffer';
import { InvalidArgumentError } from '../errors.js';

/**
 * Every admin command and the shape of its reply
 * ([protocol.md section 9.2](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#92-responses)):
 * `list` is lines up to a lone `.`, `value` is one `OK <value>` line, `status` is one `OK` line.
 * Any of them may be a single `ERR …` line instead. The command names are the words sent, in
 * gearmand's spelling.
 */
export const ADMIN_REPLY_SHAPES = {
  status: 'list',
  prioritystatus: 'list',
  workers: 'list',
  'show jobs': 'list',
  'show unique jobs': 'list',
  'cancel job': 'status',
  'create function': 'status',
  'drop function': 'status',
  maxqueue: 'status',
  shutdown: 'status',
  getpid: 'value',
  version: 'value',
  verbose: 'value',
  // `satisfies` keeps this table and the AdminCommand union in step: a missing or extra key fails.
} as const satisfies Record<AdminCommandName, 'list' | 'value' | 'status'>;

/** The name of an admin command, e.g. `'status'` or `'cancel job'`. */
export type AdminCommandName = AdminCommand['command'];

/** How a reply to an admin command is framed: see `ADMIN_REPLY_SHAPES`. */
export type AdminReplyShape = (typeof ADMIN_REPLY_SHAPES)[AdminCommandName];

/**
 * Per-priority job limits for `maxqueue`. 0 means unlimited. gearmand refuses a new job when
 * the function's total of queued and running jobs, of all priorities, is already at the limit
 * for the new job's priority
 * ([protocol.md section 7](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#7-queue-limits)).
 */
export interface MaxQueueLimits {
  readonly high: number;
  readonly normal: number;
  /** @default unlimited: gearmand resets `low` when only two numbers are sent */
  readonly low?: number;
}

/**
 * An admin command as data. `encodeAdminCommand` turns it into the line to send and
 * `parseAdminRequest` turns a received line back into it.
 */
export type AdminCommand =
  /** Jobs and workers per function: resolves to `FunctionStatus[]`. */
  | { readonly command: 'status' }
  /** Queued jobs per function and priority: resolves to `FunctionPriorityStatus[]`. */
  | { readonly command: 'prioritystatus' }
  /** Every connection, with its registered functions: resolves to `WorkerInfo[]`. */
  | { readonly command: 'workers' }
  /** Every job the server holds: resolves to `JobInfo[]`. */
  | { readonly command: 'show jobs' }
  /** The unique id of every job: resolves to `string[]`. */
  | { readonly command: 'show unique jobs' }
  /**
   * Fails the job for its foreground waiters and marks it abandoned; a running job keeps running
   * ([protocol.md section 6.7](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#67-cancelling)).
   * Rejects with `adminCode` `UNKNOWN_JOB` for an unknown handle.
   */
  | { readonly command: 'cancel job'; readonly handle: string }
  /** Creates an empty function entry, e.g. so that `maxqueue` can apply to it. */
  | { readonly command: 'create function'; readonly functionName: string }
  /**
   * Removes a function. Rejects with `FUNCTION_HAS_WORKERS` or `FUNCTION_NOT_FOUND`. gearmand
   * 1.1.20 also drops a function with queued jobs and orphans them (section 11, item 32).
   */
  | { readonly command: 'drop function'; readonly functionName: string }
  /**
   * Sets the function's queue limits: omitted resets them to unlimited, a number applies to
   * every priority. gearmand answers `OK` and does nothing for a function it does not know yet.
   */
  | {
      readonly command: 'maxqueue';
      readonly functionName: string;
      readonly limits?: number | MaxQueueLimits;
    }
  /**
   * Stops the server, after running jobs finish when `graceful`. gearmand 1.1.20 does not know
   * the command and rejects with `UNKNOWN_COMMAND` (section 11, item 35).
   */
  | { readonly command: 'shutdown'; readonly graceful?: boolean }
  /** The server's process id: resolves to a number. */
  | { readonly command: 'getpid' }
  /** The server's version: resolves to `ServerVersion`. */
  | { readonly command: 'version' }
  /** The server's log level, e.g. `'ERROR'`: resolves to that string. */
  | { readonly command: 'verbose' };

/** The `AdminCommand` variant with the given name. */
export type AdminCommandOf<C extends AdminCommandName> = Extract<AdminCommand, { command: C }>;

/**
 * The longest admin line, `\r\n` included, that the SDK sends. gearmand 1.1.20 reads lines into
 * an 8 KiB buffer and drops the connection at 8193 bytes (measured); stay under 8 KiB.
 */
export const MAX_ADMIN_LINE_BYTES = 8191;

/** The largest `maxqueue` limit: gearmand reads it with `atoi` into an `int`. */
export const MAX_QUEUE_LIMIT = 0x7fffffff;

// gearmand splits admin lines on spaces, so a word must not contain one; CR, LF and NUL would
// end the line early.
const FORBIDDEN_IN_WORD = /[ \r\n\0]/;

/**
 * Encodes an admin command as the exact line to send, always ending in `\r\n`: gearmand 1.1.20
 * cuts the last character off a `create function` name that ends in a bare `\n` (section 11,
 * item 31).
 *
 * @example
 * socket.write(encodeAdminCommand({ command: 'cancel job', handle: 'H:host:42' }));
 * // 'cancel job H:host:42\r\n'
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) naming the field at fault: an empty name
 *   or handle, one with a space, CR, LF or NUL, a line of 8 KiB or more, a `maxqueue` limit that
 *   is not an integer from 0 to 2147483647, or an unknown `command`.
 */
export function encodeAdminCommand(command: AdminCommand): string {
  switch (command.command) {
    case 'status':
    case 'prioritystatus':
    case 'workers':
    case 'show jobs':
    case 'show unique jobs':
    case 'getpid':
    case 'version':
    case 'verbose':
      return `${command.command}\r\n`;
    case 'shutdown':
      return command.graceful === true ? 'shutdown graceful\r\n' : 'shutdown\r\n';
    case 'cancel job':
      return line(`cancel job ${word(command.handle, 'handle')}`, 'handle');
    case 'create function':
    case 'drop function':
      return line(
        `${command.command} ${word(command.functionName, 'functionName')}`,
        'functionName',
      );
    case 'maxqueue':
      return line(
        `maxqueue ${word(command.functionName, 'functionName')}${limitWords(command.limits)}`,
        'functionName',
      );
    default:
      // Unreachable for typed callers; JavaScript callers can pass anything.
      throw new InvalidArgumentError(
        'command',
        `unknown admin command ${JSON.stringify((command as { command: unknown }).command)}`,
      );
  }
}

function word(value: string, field: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(field, 'must be a non-empty string');
  }
  if (FORBIDDEN_IN_WORD.test(value)) {
    throw new InvalidArgumentError(
      field,
      'must not contain a space, CR, LF or NUL (gearmand splits admin lines on spaces)',
    );
  }
  return value;
}

function line(text: string, field: string): string {
  const result = `${text}\r\n`;
  const bytes = Buffer.byteLength(result);
  if (bytes > MAX_ADMIN_LINE_BYTES) {
    throw new InvalidArgumentError(
      field,
      `admin line of ${bytes} bytes exceeds ${MAX_ADMIN_LINE_BYTES} (gearmand reads 8 KiB)`,
    );
  }
  return result;
}

function limitWords(limits: number | MaxQueueLimits | undefined): string {
  if (limits === undefined) return '';
  if (typeof limits === 'number') return ` ${limit(limits, 'limits')}`;
  if (typeof limits !== 'object' || limits === null) {
    throw new InvalidArgumentError('limits', 'must be a number or { high, normal, low? }');
  }
  const low = limits.low === undefined ? '' : ` ${limit(limits.low, 'limits.low')}`;
  return ` ${limit(limits.high, 'limits.high')} ${limit(limits.normal, 'limits.normal')}${low}`;
}

function limit(value: number, field: string): string {
  // gearmand reads a negative or non-numeric limit as "unlimited"; refuse it rather than let
  // a typo lift a limit silently.
  if (!Number.isInteger(value) || value < 0 || value > MAX_QUEUE_LIMIT) {
    throw new InvalidArgumentError(field, `must be an integer from 0 to ${MAX_QUEUE_LIMIT}`);
  }
  return String(value);
}
