import { AdminError } from '../errors.js';
import {
  type AdminCommand,
  type AdminCommandName,
  MAX_QUEUE_LIMIT,
  type MaxQueueLimits,
} from './commands.js';
import { formatErrorLine } from './err-line.js';
import {
  type AdminResultMap,
  formatJobLine,
  formatPriorityStatusLine,
  formatStatusLine,
  formatWorkersLine,
} from './results.js';

/**
 * A parsed admin request line: the command, or the `ERR` reply gearmand would give. When
 * `close` is true gearmand gives no reply at all and drops the connection (a line of more than
 * `MAX_ADMIN_WORDS` words); `error` then says why, for a log.
 */
export type AdminRequest =
  | { readonly ok: true; readonly command: AdminCommand }
  | { readonly ok: false; readonly error: AdminError; readonly close: boolean };

/**
 * The most words gearmand 1.1.20 accepts on an admin line; it drops the connection on a longer
 * one
 * ([protocol.md section 9.1](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#91-requests)).
 */
export const MAX_ADMIN_WORDS = 5;

/**
 * Parses an admin request line the way gearmand 1.1.20 does, for a job server: command words
 * are case-insensitive, runs of spaces separate words, a leading space makes an empty command
 * word, and extra words after `status`, `workers`, `getpid`, `version` and `verbose` are ignored.
 * The errors are gearmand's
 * ([protocol.md section 9.2](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#92-responses),
 * "Errors for malformed commands"); send them with `encodeAdminError`. Where gearmand drops the
 * connection (more than five words) the result has `close: true` and an `INVALID_ARGUMENTS` error:
 * close the connection without a reply to behave like gearmand. `shutdown` and `shutdown graceful`
 * parse, and other arguments to `shutdown` are `INVALID_ARGUMENTS`, as in gearmand before 1.1.15.
 *
 * @example
 * const request = parseAdminRequest(line);
 * if (!request.ok && request.close) socket.end();
 * else socket.write(request.ok ? run(request.command) : encodeAdminError(request.error));
 */
export function parseAdminRequest(line: string): AdminRequest {
  const words = (line.endsWith('\r') ? line.slice(0, -1) : line).split(/ +/);
  if (words.length > 1 && words.at(-1) === '') words.pop(); // trailing spaces
  const first = words[0] as string; // split() returns at least one string
  if (words.length > MAX_ADMIN_WORDS) {
    return fail('INVALID_ARGUMENTS', `more than ${MAX_ADMIN_WORDS} words`, true);
  }
  const [, second = '', third = ''] = words;
  const argc = words.length;
  const name = first.toLowerCase();
  switch (name) {
    case 'workers':
    case 'status':
    case 'prioritystatus':
    case 'getpid':
    case 'version':
    case 'verbose':
      return ok({ command: name });
    case 'cancel':
      if (argc < 3) break; // gearmand falls through to "unknown command"
      if (argc === 3 && second.toLowerCase() === 'job') {
        return ok({ command: 'cancel job', handle: third });
      }
      return fail('UNKNOWN_ERROR');
    case 'show':
      if (argc < 2) break;
      if (argc === 2 && second.toLowerCase() === 'jobs') return ok({ command: 'show jobs' });
      if (argc === 3 && second.toLowerCase() === 'unique' && third.toLowerCase() === 'jobs') {
        return ok({ command: 'show unique jobs' });
      }
      return fail('UNKNOWN_SHOW_ARGUMENTS');
    case 'create':
    case 'drop':
      if (argc === 3 && second.toLowerCase() === 'function') {
        const command = name === 'create' ? 'create function' : 'drop function';
        return ok({ command, functionName: third });
      }
      return incomplete(first);
    case 'maxqueue':
      if (argc === 1) return incomplete(first);
      return ok({ command: 'maxqueue', functionName: second, ...maxQueueLimits(words) });
    case 'shutdown':
      if (argc === 1) return ok({ command: 'shutdown' });
      if (argc === 2 && second.toLowerCase() === 'graceful') {
        return ok({ command: 'shutdown', graceful: true });
      }
      return incomplete(first);
  }
  // gearmand appends the word without a separator: "Unknown+server+commandbogus".
  return fail('UNKNOWN_COMMAND', `Unknown server command${first}`);
}

function ok(command: AdminCommand): AdminRequest {
  return { ok: true, command };
}

function fail(code: string, detail?: string, close = false): AdminRequest {
  return {
    ok: false,
    error: new AdminError(code, detail === undefined ? code : `${code}: ${detail}`),
    close,
  };
}

function incomplete(word: string): AdminRequest {
  return fail(
    'INVALID_ARGUMENTS',
    `An incomplete set of arguments was sent to this command ${word}`,
  );
}

/** gearmand's `maxqueue`: one number applies to all priorities; a missing low means 0. */
function maxQueueLimits(words: readonly string[]): { limits?: number | MaxQueueLimits } {
  const numbers = words.slice(2).map(atoi);
  const [high, normal, low] = numbers;
  if (high === undefined) return {};
  if (normal === undefined) return { limits: high };
  return { limits: low === undefined ? { high, normal } : { high, normal, low } };
}

/**
 * C's `atoi` as gearmand uses it: leading whitespace skipped (`isspace`; a word has no spaces but
 * may start with a tab), then leading digits, 0 for none; negative means unlimited (0).
 */
function atoi(word: string): number {
  const match = /^[\t\n\v\f\r]*([+-]?\d+)/.exec(word);
  const value = match?.[1] === undefined ? 0 : Number(match[1]);
  return value < 0 ? 0 : Math.min(value, MAX_QUEUE_LIMIT);
}

/**
 * Encodes a successful reply exactly as gearmand 1.1.20 does: list rows end in `\n` and the list
 * in `.\n`; values are `OK <value>\n`; the status commands are `OK\r\n`. `status` rows are printed
 * from `total`, not `queued`. Names are printed as they are: one containing a newline breaks the
 * list, as in gearmand.
 *
 * @example
 * encodeAdminReply('getpid', process.pid); // 'OK 4242\n'
 */
export function encodeAdminReply<C extends AdminCommandName>(
  command: C,
  value: AdminResultMap[C],
): string {
  const reply = { command, value } as ReplyValue;
  switch (reply.command) {
    case 'status':
      return list(reply.value.map(formatStatusLine));
    case 'prioritystatus':
      return list(reply.value.map(formatPriorityStatusLine));
    case 'workers':
      return list(reply.value.map(formatWorkersLine));
    case 'show jobs':
      return list(reply.value.map(formatJobLine));
    case 'show unique jobs':
      return list(reply.value);
    case 'getpid':
      return `OK ${reply.value}\n`;
    case 'version':
      return `OK ${reply.value.raw}\n`;
    case 'verbose':
      return `OK ${reply.value}\n`;
    default:
      return 'OK\r\n';
  }
}

type ReplyValue = {
  [K in AdminCommandName]: { command: K; value: AdminResultMap[K] };
}[AdminCommandName];

function list(lines: readonly string[]): string {
  let text = '';
  for (const line of lines) text += `${line}\n`;
  return `${text}.\n`;
}

/**
 * Encodes an `ERR …\r\n` reply: from an AdminError (e.g. one from `parseAdminRequest`), or from
 * a code and an optional detail. Spaces in the detail become `+`, as gearmand writes them;
 * `FUNCTION_HAS_WORKERS` and `FUNCTION_NOT_FOUND` become gearmand's sentences.
 *
 * @example
 * encodeAdminError('UNKNOWN_JOB'); // 'ERR UNKNOWN_JOB\r\n'
 */
export function encodeAdminError(error: AdminError): string;
export function encodeAdminError(code: string, detail?: string): string;
export function encodeAdminError(error: AdminError | string, detail?: string): string {
  if (typeof error !== 'string') return formatErrorLine(error);
  return formatErrorLine(
    new AdminError(error, detail === undefined ? error : `${error}: ${detail}`),
  );
}
