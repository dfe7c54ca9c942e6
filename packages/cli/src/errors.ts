/**
 * Exit codes and the one-line error report. Every failure the CLI can name has its own exit
 * code, so that scripts can tell "the job failed" from "the server is down" without parsing
 * stderr. The table is repeated in the README; keep the two in step.
 */
export const EXIT = {
  /** The command did what it was asked. */
  OK: 0,
  /** Anything unexpected: a bug, an I/O error, a protocol violation by the server. */
  ERROR: 1,
  /** Bad command line: unknown command or option, missing or malformed argument. */
  USAGE: 2,
  /** The worker failed the job (WORK_FAIL), or it was cancelled with `cancel`. */
  JOB_FAILED: 3,
  /** The worker failed the job with an exception (WORK_EXCEPTION); its data is on stderr. */
  JOB_EXCEPTION: 4,
  /** `--timeout` passed before the job finished. The job may still run on the server. */
  TIMEOUT: 5,
  /** No server could be reached, or the connection was lost. */
  CONNECTION: 6,
  /** The server refused: an ERROR packet (queue full, …) or an `ERR` admin reply. */
  SERVER: 7,
  /** Stopped by SIGINT (Ctrl-C) before the command finished: 128 + 2, as shells report it. */
  INTERRUPTED: 130,
  /** Stopped by SIGTERM before the command finished: 128 + 15. */
  TERMINATED: 143,
} as const;

/** One of the exit codes in `EXIT`. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * An error the CLI reports as one line, `gearmanode: <message>`, and exits with `exitCode`.
 * Usage errors also point at `--help`.
 */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  readonly exitCode: ExitCode;
  /**
   * Text shown verbatim, indented, after the one-line message: a worker's exception data, which
   * may span lines (the stderr of a failed `gearmanode work` command).
   */
  readonly detail: string | undefined;

  constructor(exitCode: ExitCode, message: string, options?: ErrorOptions & { detail?: string }) {
    super(message, options);
    this.exitCode = exitCode;
    this.detail = options?.detail;
  }
}

/** A bad command line: exits with `EXIT.USAGE`. */
export class UsageError extends CliError {
  override readonly name: string = 'UsageError';
  /** The command whose `--help` to suggest, if known. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(EXIT.USAGE, message);
    this.command = command;
  }
}

// gearmanode's errors are classified by `code`, never `instanceof` (style guide, section 3):
// a second copy of @gearmanode/protocol would break instanceof.
const CODE_EXITS: Readonly<Record<string, ExitCode>> = {
  ERR_JOB_FAILED: EXIT.JOB_FAILED,
  ERR_JOB_EXCEPTION: EXIT.JOB_EXCEPTION,
  ERR_TIMEOUT: EXIT.TIMEOUT,
  ERR_CONNECTION: EXIT.CONNECTION,
  ERR_SERVER: EXIT.SERVER,
  ERR_ADMIN: EXIT.SERVER,
  ERR_INVALID_ARGUMENT: EXIT.USAGE,
  ERR_PROTOCOL: EXIT.ERROR,
  ERR_CLOSED: EXIT.ERROR,
  ERR_STORE: EXIT.ERROR,
};

// Node's socket errors when nothing listens or the host is unknown: a connection problem.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
]);

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** The exit code for an error thrown by a command: see `EXIT`. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  const code = codeOf(error);
  if (code === undefined) return EXIT.ERROR;
  const mapped = CODE_EXITS[code];
  if (mapped !== undefined) return mapped;
  if (NETWORK_CODES.has(code)) return EXIT.CONNECTION;
  // node:util parseArgs: unknown option, missing value, unexpected positional.
  if (code.startsWith('ERR_PARSE_ARGS_')) return EXIT.USAGE;
  return EXIT.ERROR;
}

/**
 * The message for an error, on one line: the error's own message, plus its cause's when that
 * adds something (a ConnectionError wrapping ECONNREFUSED says which server refused).
 */
export function messageFor(error: unknown): string {
  if (!(error instanceof Error)) return oneLine(String(error));
  // Without a cause to look at, the code is often still in the message.
  const system =
    rootSystemCode(error) ??
    /\b(E(?:CONN[A-Z]+|NOTFOUND|HOSTUNREACH|NETUNREACH|TIMEDOUT|AI_AGAIN))\b/.exec(
      error.message,
    )?.[1];
  if (codeOf(error) === 'ERR_CONNECTION' && system !== undefined) {
    // The client nests "cannot connect to any job server: cannot connect to h:p: connect
    // ECONNREFUSED h:p"; the first clause and the system code say it all.
    const first = error.message.split(': ')[0] ?? error.message;
    return oneLine(`${first} (${system})`);
  }
  let message = error.message || error.name;
  const cause = error.cause;
  // A CliError's message is complete; its cause is there for --verbose.
  if (
    !(error instanceof CliError) &&
    cause instanceof Error &&
    cause.message !== '' &&
    !message.includes(cause.message)
  ) {
    message += `: ${cause.message}`;
  }
  // AggregateError (e.g. "connect to every server failed") has its reasons in `errors`.
  if (error instanceof AggregateError && error.errors.length > 0 && error.message === '') {
    message = error.errors.map((inner) => messageFor(inner)).join('; ');
  }
  return oneLine(message);
}

/** The code of the innermost cause that is a Node system error (`ECONNREFUSED`, …), if any. */
function rootSystemCode(error: Error): string | undefined {
  let found: string | undefined;
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 10; depth++) {
    const code = codeOf(current);
    if (code !== undefined && /^E[A-Z0-9_]+$/.test(code) && 'syscall' in current) found = code;
    current = current.cause;
  }
  return found;
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/**
 * Formats an error for stderr: `gearmanode: <message>` on one line, plus a pointer to `--help`
 * for usage errors, and the stack (with causes) when `verbose`.
 */
export function formatError(error: unknown, verbose: boolean): string {
  let text = `gearmanode: ${messageFor(error)}\n`;
  if (error instanceof CliError && error.detail !== undefined && error.detail !== '') {
    text += `${error.detail.replace(/^/gm, '  ')}\n`;
  }
  if (exitCodeFor(error) === EXIT.USAGE) {
    const command = error instanceof UsageError ? error.command : undefined;
    text += `Run 'gearmanode ${command === undefined ? '' : `${command} `}--help' for usage.\n`;
  }
  if (verbose) {
    for (let current: unknown = error, depth = 0; current !== undefined && depth < 5; depth++) {
      if (current instanceof Error && current.stack !== undefined) {
        text += `${depth === 0 ? '' : 'Caused by: '}${current.stack}\n`;
        current = current.cause;
      } else {
        current = undefined;
      }
    }
  }
  return text;
}
