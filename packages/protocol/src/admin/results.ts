import { ProtocolError } from '../errors.js';

/** One `status` line: a function's jobs and workers. */
export interface FunctionStatus {
  readonly functionName: string;
  /**
   * Jobs waiting for a worker, computed as `total − running` (gearmand prints only the total),
   * and never below 0: gearmand 1.1.20 can corrupt `running` (section 11, item 25).
   */
  readonly queued: number;
  /** Jobs a worker holds right now. */
  readonly running: number;
  /**
   * gearmand's own column: queued plus running jobs, of all priorities. Cancelled and abandoned
   * jobs count until a worker's GRAB discards them (section 11, item 24).
   */
  readonly total: number;
  /** Registrations for the function: a worker that sent CAN_DO twice counts twice. */
  readonly availableWorkers: number;
}

/** One `prioritystatus` line: a function's queued (not running) jobs per priority. */
export interface FunctionPriorityStatus {
  readonly functionName: string;
  readonly high: number;
  readonly normal: number;
  readonly low: number;
  /** Registrations for the function, as in `FunctionStatus`. */
  readonly availableWorkers: number;
}

/**
 * One `workers` line. gearmand lists every connection, clients and admin connections too, the
 * latter with no functions (section 11, item 34).
 */
export interface WorkerInfo {
  /** The connection's file descriptor on gearmand; another server may number connections. */
  readonly fd: number;
  readonly ip: string;
  /** The id from SET_CLIENT_ID, or `null` while gearmand prints `-` (none set). */
  readonly clientId: string | null;
  /**
   * Registered functions, newest first as gearmand prints them, duplicates included. gearmand
   * separates them with spaces, so a name containing a space comes back split (best effort).
   */
  readonly functions: string[];
}

/** One `show jobs` line. */
export interface JobInfo {
  readonly handle: string;
  /** How many times a worker has lost the job (see `--job-retries`). */
  readonly retries: number;
  /** The job was cancelled or abandoned and waits for a worker's GRAB to discard it. */
  readonly ignored: boolean;
  /** The job was handed to the queue backend (background jobs). */
  readonly persisted: boolean;
}

/** The `version` reply. */
export interface ServerVersion {
  /** The text after `OK `, e.g. `1.1.20+ds` (a distribution suffix is common, item 36). */
  readonly raw: string;
  /** The leading dotted number of `raw`, e.g. `1.1.20`; empty when `raw` starts otherwise. */
  readonly version: string;
}

/** What each admin command resolves to; the status commands resolve to `undefined` on `OK`. */
export interface AdminResultMap {
  status: FunctionStatus[];
  prioritystatus: FunctionPriorityStatus[];
  workers: WorkerInfo[];
  'show jobs': JobInfo[];
  'show unique jobs': string[];
  'cancel job': undefined;
  'create function': undefined;
  'drop function': undefined;
  maxqueue: undefined;
  shutdown: undefined;
  getpid: number;
  version: ServerVersion;
  verbose: string;
}

/** Parses one line of a list reply into its row; throws `ProtocolError` (`BAD_RESPONSE`). */
export type RowParser<T> = (line: string) => T;

/**
 * Parses a `status` line, `function\ttotal\trunning\tworkers`. The numbers are taken from the
 * right, so a function name containing a tab survives.
 * @throws ProtocolError (`BAD_RESPONSE`) when there are fewer than four fields or a count is not
 *   a non-negative integer.
 */
export function parseStatusLine(line: string): FunctionStatus {
  const [functionName, total, running, availableWorkers] = splitRight(line, '\t', 3, 'status');
  const totalCount = count(total, line, 'status');
  const runningCount = count(running, line, 'status');
  return {
    functionName,
    queued: Math.max(0, totalCount - runningCount),
    running: runningCount,
    total: totalCount,
    availableWorkers: count(availableWorkers, line, 'status'),
  };
}

/**
 * Parses a `prioritystatus` line, `function\thigh\tnormal\tlow\tworkers`.
 * @throws ProtocolError (`BAD_RESPONSE`) as `parseStatusLine` does.
 */
export function parsePriorityStatusLine(line: string): FunctionPriorityStatus {
  const [functionName, high, normal, low, workers] = splitRight(line, '\t', 4, 'prioritystatus');
  return {
    functionName,
    high: count(high, line, 'prioritystatus'),
    normal: count(normal, line, 'prioritystatus'),
    low: count(low, line, 'prioritystatus'),
    availableWorkers: count(workers, line, 'prioritystatus'),
  };
}

/**
 * Parses a `workers` line, `fd ip id : f1 f2 …` (gearmand prints `"%d %s %s :"`, then `" %s"`
 * per function). Best effort: an id containing `" :"` or a function name containing a space
 * cannot be told apart
 * ([protocol.md section 9.2](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#92-responses),
 * notes).
 * @throws ProtocolError (`BAD_RESPONSE`) without the `fd ip id :` prefix or with a non-numeric fd.
 */
export function parseWorkersLine(line: string): WorkerInfo {
  const afterFd = line.indexOf(' ');
  const afterIp = afterFd === -1 ? -1 : line.indexOf(' ', afterFd + 1);
  const colon = afterIp === -1 ? -1 : findIdSeparator(line, afterIp);
  const fd = line.slice(0, Math.max(afterFd, 0));
  if (colon === -1 || !/^-?\d+$/.test(fd)) throw badLine('workers', line);
  const clientId = line.slice(afterIp + 1, colon);
  const rest = line.slice(colon + 2);
  return {
    fd: Number(fd),
    ip: line.slice(afterFd + 1, afterIp),
    clientId: clientId === '-' ? null : clientId,
    // Each name is printed as " name", so an empty name (legal, item 30) leaves a trailing space.
    functions: rest === '' ? [] : rest.slice(1).split(' '),
  };
}

/** The position of the `" :"` that ends the id: followed by the end of the line or a space. */
function findIdSeparator(line: string, from: number): number {
  for (let at = line.indexOf(' :', from); at !== -1; at = line.indexOf(' :', at + 1)) {
    const next = line[at + 2];
    if (next === undefined || next === ' ') return at;
  }
  return -1;
}

/**
 * Parses a `show jobs` line, `handle\tretries\tignored\tpersisted`.
 * @throws ProtocolError (`BAD_RESPONSE`) as `parseStatusLine` does.
 */
export function parseJobLine(line: string): JobInfo {
  const [handle, retries, ignored, persisted] = splitRight(line, '\t', 3, 'show jobs');
  return {
    handle,
    retries: count(retries, line, 'show jobs'),
    ignored: count(ignored, line, 'show jobs') !== 0,
    persisted: count(persisted, line, 'show jobs') !== 0,
  };
}

/**
 * A `show unique jobs` line is the raw unique, an empty line for an empty unique. A unique that
 * is `.` or holds a newline breaks the list; nothing can detect that (section 9.2, notes).
 */
export function parseUniqueLine(line: string): string {
  return line;
}

/**
 * Parses a `getpid` value.
 * @throws ProtocolError (`BAD_RESPONSE`) unless it is a decimal integer.
 */
export function parsePid(value: string): number {
  const pid = /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isNaN(pid)) throw badLine('getpid', value);
  return pid;
}

/** Parses a `version` value, keeping the text and extracting its leading dotted number. */
export function parseVersion(value: string): ServerVersion {
  return { raw: value, version: /^\d+(?:\.\d+)*/.exec(value)?.[0] ?? '' };
}

/** Formats a `status` line from `functionName`, `total`, `running` and `availableWorkers`. */
export function formatStatusLine(row: FunctionStatus): string {
  return `${row.functionName}\t${row.total}\t${row.running}\t${row.availableWorkers}`;
}

/** Formats a `prioritystatus` line. */
export function formatPriorityStatusLine(row: FunctionPriorityStatus): string {
  return `${row.functionName}\t${row.high}\t${row.normal}\t${row.low}\t${row.availableWorkers}`;
}

/** Formats a `workers` line as gearmand does, `-` standing for a `null` client id. */
export function formatWorkersLine(row: WorkerInfo): string {
  const functions = row.functions.map((name) => ` ${name}`).join('');
  return `${row.fd} ${row.ip} ${row.clientId ?? '-'} :${functions}`;
}

/** Formats a `show jobs` line, booleans as `1` and `0`. */
export function formatJobLine(row: JobInfo): string {
  return `${row.handle}\t${row.retries}\t${row.ignored ? 1 : 0}\t${row.persisted ? 1 : 0}`;
}

/**
 * Splits off the last `count` fields at `separator`, so that the first field keeps any
 * separators of its own. Returns `count + 1` strings.
 */
function splitRight(
  line: string,
  separator: string,
  count: 3,
  command: string,
): [string, string, string, string];
function splitRight(
  line: string,
  separator: string,
  count: 4,
  command: string,
): [string, string, string, string, string];
function splitRight(line: string, separator: string, count: number, command: string): string[] {
  const fields: string[] = [];
  let end = line.length;
  for (let i = 0; i < count; i++) {
    const at = line.lastIndexOf(separator, end - 1);
    if (at === -1 || end === 0) throw badLine(command, line);
    fields.unshift(line.slice(at + 1, end));
    end = at;
  }
  fields.unshift(line.slice(0, end));
  return fields;
}

// gearmand prints these counters with %u, so they are uint32; allow any safe integer for other
// servers.
function count(text: string, line: string, command: string): number {
  if (!/^\d{1,15}$/.test(text)) throw badLine(command, line);
  return Number(text);
}

function badLine(command: string, line: string): ProtocolError {
  const preview = line.length > 80 ? `${line.slice(0, 80)}…` : line;
  return new ProtocolError('BAD_RESPONSE', `bad ${command} line ${JSON.stringify(preview)}`);
}
