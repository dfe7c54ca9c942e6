import { Buffer } from 'node:buffer';
import { GearmanError, InvalidArgumentError, ProtocolError } from '../errors.js';
import { ADMIN_REPLY_SHAPES, type AdminCommandName } from './commands.js';
import { isErrorLine, parseErrorLine } from './err-line.js';
import {
  type AdminResultMap,
  parseJobLine,
  parsePid,
  parsePriorityStatusLine,
  parseStatusLine,
  parseUniqueLine,
  parseVersion,
  parseWorkersLine,
  type RowParser,
} from './results.js';

/**
 * The reply to one admin command: `ok` with the command's typed `value`, or not `ok` with the
 * `error`: an `AdminError` for an `ERR …` line, otherwise what ended the parser (a
 * `ProtocolError`, or the error given to `abort()`). Not distributed over `C`, so that code
 * generic in the command can narrow on `ok` and get `AdminResultMap[C]`.
 */
export type AdminReply<C extends AdminCommandName = AdminCommandName> =
  | { readonly ok: true; readonly command: C; readonly value: AdminResultMap[C] }
  | { readonly ok: false; readonly command: C; readonly error: GearmanError };

/** Receives the reply to one admin command; it should not throw (see `push()`). */
export type AdminReplyHandler<C extends AdminCommandName = AdminCommandName> = (
  reply: AdminReply<C>,
) => void;

/** Limits for `AdminResponseParser`: what a misbehaving server can make it hold. */
export interface AdminParserOptions {
  /**
   * The longest reply line, in bytes before its `\n`. A longer line is a `ProtocolError`
   * (`LINE_TOO_LONG`) as soon as that many bytes are in, before they are buffered.
   * @default 65536
   */
  maxLineLength?: number;
  /**
   * The largest list reply (`status`, `workers`, `show jobs`, …), in bytes including line ends.
   * A larger one is a `ProtocolError` (`TOO_LARGE`) as soon as that many bytes are in.
   * @default 67108864 (64 MiB, as the binary decoder's maxPacketSize)
   */
  maxListBytes?: number;
}

/** Default `maxLineLength`. */
export const DEFAULT_MAX_ADMIN_LINE_LENGTH = 64 * 1024;
/** Default `maxListBytes`. */
export const DEFAULT_MAX_ADMIN_LIST_BYTES = 64 * 1024 * 1024;

type ListCommand = {
  [K in AdminCommandName]: (typeof ADMIN_REPLY_SHAPES)[K] extends 'list' ? K : never;
}[AdminCommandName];
type ValueCommand = {
  [K in AdminCommandName]: (typeof ADMIN_REPLY_SHAPES)[K] extends 'value' ? K : never;
}[AdminCommandName];

const ROW_PARSERS: { [K in ListCommand]: RowParser<AdminResultMap[K][number]> } = {
  status: parseStatusLine,
  prioritystatus: parsePriorityStatusLine,
  workers: parseWorkersLine,
  'show jobs': parseJobLine,
  'show unique jobs': parseUniqueLine,
};

const VALUE_PARSERS: { [K in ValueCommand]: (value: string) => AdminResultMap[K] } = {
  getpid: parsePid,
  version: parseVersion,
  verbose: (level) => level,
};

// Rows of these lists always contain a tab and gearmand's ERR lines never do (they use `+`), so
// a first row for a function named "ERR x" is not mistaken for an error.
const TAB_SEPARATED: ReadonlySet<AdminCommandName> = new Set([
  'status',
  'prioritystatus',
  'show jobs',
]);

const LF = 0x0a;

interface Pending {
  readonly command: AdminCommandName;
  readonly onReply: AdminReplyHandler;
}

interface Delivery {
  readonly onReply: AdminReplyHandler;
  readonly reply: AdminReply;
}

/**
 * An incremental parser of admin replies, for one connection. Replies come back in request
 * order
 * ([protocol.md section 9.1](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#91-requests)),
 * so the parser keeps a FIFO of the commands sent: call `expect()` for each command before writing
 * it, and `push()` every chunk the socket reads. Each reply goes to its command's handler, in
 * order; an `ERR …` reply is delivered as a value and does not disturb the replies after it.
 *
 * Memory is bounded: at most `maxLineLength` bytes of a partial line and `maxListBytes` of a
 * list are held. After a `ProtocolError` (an over-long line, a list too large, a reply that does
 * not fit its command) the stream cannot be re-synchronised: every pending handler receives the
 * error, `push()` throws it, and `expect()` and every later `push()` throw it again.
 *
 * @example
 * const parser = new AdminResponseParser();
 * socket.on('data', (chunk) => {
 *   try {
 *     parser.push(chunk);
 *   } catch (error) {
 *     socket.destroy(error as Error); // pending handlers have already received the error
 *   }
 * });
 * socket.on('close', () => parser.abort(new ConnectionError('closed', { maybeRan: true })));
 *
 * function admin<C extends AdminCommandName>(command: AdminCommandOf<C>) {
 *   const line = encodeAdminCommand(command); // throws before anything is queued
 *   return new Promise<AdminResultMap[C]>((resolve, reject) => {
 *     parser.expect(command.command as C, (reply) =>
 *       reply.ok ? resolve(reply.value) : reject(reply.error),
 *     );
 *     socket.write(line);
 *   });
 * }
 */
export class AdminResponseParser {
  readonly #maxLineLength: number;
  readonly #maxListBytes: number;
  readonly #pending: Pending[] = [];
  // A line that spans chunks, copied: the caller may reuse its buffer, and a short tail should
  // not keep a large chunk alive.
  #parts: Buffer[] = [];
  #partsLength = 0;
  // The list being read: its rows so far, and its bytes so far including line ends.
  #rows: unknown[] | undefined;
  #listBytes = 0;
  #failure: GearmanError | undefined;

  /**
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) when a limit is not a positive
   *   integer.
   */
  constructor(options: AdminParserOptions = {}) {
    const {
      maxLineLength = DEFAULT_MAX_ADMIN_LINE_LENGTH,
      maxListBytes = DEFAULT_MAX_ADMIN_LIST_BYTES,
    } = options;
    for (const [field, value] of [
      ['maxLineLength', maxLineLength],
      ['maxListBytes', maxListBytes],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new InvalidArgumentError(field, 'must be a positive integer');
      }
    }
    this.#maxLineLength = maxLineLength;
    this.#maxListBytes = maxListBytes;
  }

  /** Commands expected and not yet answered. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Bytes held for a reply that has not fully arrived: a partial line plus a partial list. */
  get bufferedBytes(): number {
    return this.#partsLength + this.#listBytes;
  }

  /**
   * Queues `command` as the next one awaiting a reply; `onReply` receives that reply from a later
   * `push()` (never synchronously from `expect()`), or the error that ends the parser.
   * @throws the parser's earlier failure, if it has failed or been aborted; InvalidArgumentError
   *   (`ERR_INVALID_ARGUMENT`) for an unknown command name.
   */
  expect<C extends AdminCommandName>(command: C, onReply: AdminReplyHandler<C>): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (!Object.hasOwn(ADMIN_REPLY_SHAPES, command)) {
      throw new InvalidArgumentError('command', `unknown admin command ${JSON.stringify(command)}`);
    }
    this.#pending.push({ command, onReply: onReply as AdminReplyHandler });
  }

  /**
   * Parses what `chunk` completes, delivers every completed reply to its handler in order, and
   * keeps the rest. The chunk is parsed before any handler runs; if a handler throws, the others
   * still receive their replies and the first throw is rethrown afterwards.
   * @throws ProtocolError (`ERR_PROTOCOL`, reason `LINE_TOO_LONG`, `TOO_LARGE` or
   *   `BAD_RESPONSE`) after delivering the replies completed before the fault and the error to
   *   every pending handler; then on every later call.
   */
  push(chunk: Buffer): void {
    if (this.#failure !== undefined) throw this.#failure;
    const deliveries: Delivery[] = [];
    let failure: GearmanError | undefined;
    try {
      this.#consume(chunk, deliveries);
    } catch (error) {
      failure =
        error instanceof GearmanError
          ? error
          : new ProtocolError('BAD_RESPONSE', 'admin reply could not be parsed', { cause: error });
    }
    if (failure !== undefined) this.#fail(failure, deliveries);
    const thrown = deliverAll(deliveries);
    // The parser's own failure outranks a handler's throw: the connection has to close.
    if (failure !== undefined) throw failure;
    if (thrown !== undefined) throw thrown.error;
  }

  /**
   * Ends the parser, e.g. when the socket closes: every pending handler receives `error` in
   * order, buffered bytes are dropped, and `push()` and `expect()` throw `error` from now on.
   * Does nothing if the parser has failed already.
   */
  abort(error: GearmanError): void {
    if (this.#failure !== undefined) return;
    const deliveries: Delivery[] = [];
    this.#fail(error, deliveries);
    const thrown = deliverAll(deliveries);
    if (thrown !== undefined) throw thrown.error;
  }

  #fail(error: GearmanError, deliveries: Delivery[]): void {
    this.#failure = error;
    this.#parts = [];
    this.#partsLength = 0;
    this.#rows = undefined;
    this.#listBytes = 0;
    for (const { command, onReply } of this.#pending.splice(0)) {
      deliveries.push({ onReply, reply: { ok: false, command, error } as AdminReply });
    }
  }

  #consume(chunk: Buffer, deliveries: Delivery[]): void {
    const end = chunk.length;
    let start = 0;
    while (start < end) {
      if (this.#pending.length === 0) {
        // PROTOCOL 9.1: the server only ever answers; bytes nobody asked for mean the FIFO is
        // out of step (or this is not an admin connection).
        throw new ProtocolError(
          'BAD_RESPONSE',
          `${end - start} bytes of admin reply arrived with no command pending`,
        );
      }
      const newline = chunk.indexOf(LF, start);
      if (newline === -1) {
        this.#keep(chunk, start);
        return;
      }
      const length = this.#partsLength + newline - start;
      this.#checkLine(length);
      let text: string;
      if (this.#partsLength === 0) {
        text = chunk.toString('utf8', start, newline);
      } else {
        this.#parts.push(chunk.subarray(start, newline));
        text = Buffer.concat(this.#parts, length).toString('utf8');
        this.#parts = [];
        this.#partsLength = 0;
      }
      start = newline + 1;
      // PROTOCOL 9.2: lines end in \n; status lines add \r.
      this.#line(text.endsWith('\r') ? text.slice(0, -1) : text, length + 1, deliveries);
    }
  }

  /** Keeps the tail of `chunk` from `start`, which holds no line end, after checking limits. */
  #keep(chunk: Buffer, start: number): void {
    const length = this.#partsLength + chunk.length - start;
    this.#checkLine(length);
    if (this.#rows !== undefined) this.#checkList(this.#listBytes + length);
    this.#parts.push(Buffer.from(chunk.subarray(start)));
    this.#partsLength = length;
  }

  #checkLine(length: number): void {
    if (length > this.#maxLineLength) {
      throw new ProtocolError(
        'LINE_TOO_LONG',
        `admin reply line of ${length} bytes or more exceeds maxLineLength ${this.#maxLineLength}`,
      );
    }
  }

  #checkList(bytes: number): void {
    if (bytes > this.#maxListBytes) {
      throw new ProtocolError(
        'TOO_LARGE',
        `admin list reply of ${bytes} bytes or more exceeds maxListBytes ${this.#maxListBytes}`,
      );
    }
  }

  /** Handles one complete line (without its line end) of `bytes` bytes on the wire. */
  #line(line: string, bytes: number, deliveries: Delivery[]): void {
    const head = this.#pending[0] as Pending; // #consume checked that one is pending
    const { command } = head;
    const shape = ADMIN_REPLY_SHAPES[command];
    if (shape === 'list') {
      let rows = this.#rows;
      if (rows === undefined) {
        // PROTOCOL 9.2: a list command may answer with a single ERR line instead of a list.
        if (isErrorLine(line) && !(TAB_SEPARATED.has(command) && line.includes('\t'))) {
          this.#settle({ ok: false, command, error: parseErrorLine(line) }, deliveries);
          return;
        }
        rows = [];
        this.#rows = rows;
        this.#listBytes = 0;
      }
      this.#listBytes += bytes;
      this.#checkList(this.#listBytes);
      if (line === '.') {
        this.#rows = undefined;
        this.#listBytes = 0;
        this.#settle({ ok: true, command, value: rows } as AdminReply, deliveries);
      } else {
        rows.push(ROW_PARSERS[command as ListCommand](line));
      }
      return;
    }
    if (isErrorLine(line)) {
      this.#settle({ ok: false, command, error: parseErrorLine(line) }, deliveries);
    } else if (shape === 'status' && line === 'OK') {
      this.#settle({ ok: true, command, value: undefined } as AdminReply, deliveries);
    } else if (shape === 'value' && line.length > 3 && line.startsWith('OK ')) {
      const value = VALUE_PARSERS[command as ValueCommand](line.slice(3));
      this.#settle({ ok: true, command, value } as AdminReply, deliveries);
    } else {
      const expected = shape === 'status' ? '"OK"' : '"OK <value>"';
      const preview = line.length > 80 ? `${line.slice(0, 80)}…` : line;
      throw new ProtocolError(
        'BAD_RESPONSE',
        `expected ${expected} or "ERR …" for ${command}, got ${JSON.stringify(preview)}`,
      );
    }
  }

  #settle(reply: AdminReply, deliveries: Delivery[]): void {
    const head = this.#pending.shift() as Pending;
    deliveries.push({ onReply: head.onReply, reply });
  }
}

/** Calls every handler, even after one throws (the replies belong to different callers). */
function deliverAll(deliveries: readonly Delivery[]): { error: unknown } | undefined {
  let thrown: { error: unknown } | undefined;
  for (const { onReply, reply } of deliveries) {
    try {
      onReply(reply);
    } catch (error) {
      thrown ??= { error }; // the first throw is rethrown by the caller; later ones are lost
    }
  }
  return thrown;
}
