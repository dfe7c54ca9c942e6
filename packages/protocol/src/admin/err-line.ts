import { AdminError } from '../errors.js';

/**
 * Stable codes for the two `drop function` failures, which gearmand 1.1.20 words as sentences
 * instead of `ERR <CODE>`
 * ([protocol.md section 9.2](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#92-responses)).
 * The AdminError keeps the sentence as its message.
 */
export const ADMIN_SENTENCE_CODES = {
  'there are still connected workers or executing clients': 'FUNCTION_HAS_WORKERS',
  'function not found': 'FUNCTION_NOT_FOUND',
} as const;

// Maps, not object lookups: a reply reading `ERR constructor` must not find Object's methods.
const CODES: ReadonlyMap<string, string> = new Map(Object.entries(ADMIN_SENTENCE_CODES));
const SENTENCES: ReadonlyMap<string, string> = new Map(
  Object.entries(ADMIN_SENTENCE_CODES).map(([sentence, code]) => [code, sentence]),
);

// gearmand's codes are upper-case identifiers (UNKNOWN_JOB, INVALID_ARGUMENTS, …).
const CODE = /^[A-Z][A-Z0-9_]*$/;

/** Whether a reply line (without its line end) is an `ERR …` line. */
export function isErrorLine(line: string): boolean {
  return line.length > 4 && line.startsWith('ERR ');
}

/**
 * Turns an `ERR …` line (without its line end) into an AdminError. `ERR CODE detail` gives
 * `adminCode` CODE and the message `CODE: detail`, with gearmand's `+` turned back into spaces
 * (a `+` that was really a `+` is lost with it); `ERR CODE` alone gives the message `CODE`. A known
 * sentence gets its code from `ADMIN_SENTENCE_CODES`; an unknown one is its own code.
 */
export function parseErrorLine(line: string): AdminError {
  const text = line.slice(4);
  const known = CODES.get(text);
  if (known !== undefined) return new AdminError(known, text);
  const space = text.indexOf(' ');
  const code = space === -1 ? text : text.slice(0, space);
  if (!CODE.test(code)) return new AdminError(text, text);
  if (space === -1) return new AdminError(code, code);
  return new AdminError(code, `${code}: ${text.slice(space + 1).replaceAll('+', ' ')}`);
}

/**
 * Formats the `ERR …\r\n` line for an AdminError, the inverse of `parseErrorLine`: the message's
 * `CODE: ` prefix is dropped and its spaces become `+`, and the sentence codes get their
 * sentences back. CR and LF in the message become `+` too, so the line stays one line.
 */
export function formatErrorLine(error: AdminError): string {
  const sentence = SENTENCES.get(error.adminCode);
  if (sentence !== undefined) return `ERR ${sentence}\r\n`;
  const code = error.adminCode.replace(/[\r\n]/g, ' ');
  if (!CODE.test(code)) return `ERR ${code}\r\n`;
  const message = error.message;
  const detail = message.startsWith(`${code}: `)
    ? message.slice(code.length + 2)
    : message === code
      ? ''
      : message;
  return detail === '' ? `ERR ${code}\r\n` : `ERR ${code} ${detail.replace(/[ \r\n]/g, '+')}\r\n`;
}
