import { type Admin, createAdmin } from '@gearmanode/client';
import { MAX_QUEUE_LIMIT, type MaxQueueLimits } from '@gearmanode/protocol';
import { expectPositionals, type OptionSpecs, type ParsedArgs, parseInteger } from '../args.js';
import { EXIT, type ExitCode, exitCodeFor, messageFor } from '../errors.js';
import { formatJson } from '../format/json.js';
import { type Column, formatTable } from '../format/table.js';
import { printable } from '../format/text.js';
import type { COMMANDS } from '../help.js';
import { type CliIO, useColor } from '../io.js';
import { resolveServers } from '../servers.js';

/** How long to wait for a server to accept the connection, in ms. */
const ADMIN_CONNECT_TIMEOUT = 5000;
/** How long to wait for the reply to one admin command, in ms. */
const ADMIN_TIMEOUT = 10_000;

/** The outcome of one admin call on one server. */
export type ServerResult<T> =
  | { readonly server: string; readonly ok: true; readonly value: T }
  | { readonly server: string; readonly ok: false; readonly error: unknown };

/**
 * Connects to every server at once, runs `call` on each and closes the connections. Never
 * rejects: each server's failure (unreachable, `ERR` reply, timeout) is in its result.
 */
async function onEveryServer<T>(
  servers: readonly string[],
  call: (admin: Admin) => Promise<T>,
): Promise<ServerResult<T>[]> {
  return Promise.all(
    servers.map(async (server): Promise<ServerResult<T>> => {
      let admin: Admin | undefined;
      try {
        admin = await createAdmin({
          server,
          timeout: ADMIN_TIMEOUT,
          connectTimeout: ADMIN_CONNECT_TIMEOUT,
          reconnect: false,
        });
        const value = await call(admin);
        return { server, ok: true, value };
      } catch (error) {
        return { server, ok: false, error };
      } finally {
        admin?.destroy();
      }
    }),
  );
}

/** An error as `--json` shows it: the stable codes and the message. */
function errorJson(error: unknown): Record<string, string> {
  const json: Record<string, string> = { message: messageFor(error) };
  if (typeof error === 'object' && error !== null) {
    const { code, adminCode } = error as { code?: unknown; adminCode?: unknown };
    if (typeof code === 'string') json.code = code;
    if (typeof adminCode === 'string') json.adminCode = adminCode;
  }
  return json;
}

/** Writes one `gearmanode: <server>: <message>` line per failed server; returns the exit code. */
function reportFailures(
  io: CliIO,
  results: readonly ServerResult<unknown>[],
  describe: (error: unknown) => string = messageFor,
): ExitCode {
  let exit: ExitCode = EXIT.OK;
  for (const result of results) {
    if (result.ok) continue;
    const message = describe(result.error);
    const where = message.includes(result.server) ? '' : `${result.server}: `;
    io.stderr.write(`gearmanode: ${where}${message}\n`);
    if (exit === EXIT.OK) exit = exitCodeFor(result.error);
  }
  return exit;
}

interface ListSpec<T> {
  readonly columns: readonly Column[];
  row(item: T): string[];
  json(item: T): Record<string, unknown>;
  /** Sort key; rows are sorted by it, then by server. */
  key(item: T): string;
}

/** Runs a list command on every server and prints one table (or one JSON array) of all rows. */
async function listCommand<T>(
  args: ParsedArgs<OptionSpecs>,
  io: CliIO,
  call: (admin: Admin) => Promise<T[]>,
  spec: ListSpec<T>,
  keep: (item: T) => boolean = () => true,
): Promise<ExitCode> {
  const servers = resolveServers(args.values.servers, io.env);
  const results = await onEveryServer(servers, call);
  const rows: { server: string; item: T }[] = [];
  for (const result of results) {
    if (!result.ok) continue;
    for (const item of result.value) if (keep(item)) rows.push({ server: result.server, item });
  }
  rows.sort((a, b) => compare(spec.key(a.item), spec.key(b.item)) || compare(a.server, b.server));
  if (args.values.json === true) {
    io.stdout.write(formatJson(rows.map(({ server, item }) => ({ server, ...spec.json(item) }))));
  } else {
    const multi = servers.length > 1;
    const columns = multi ? [{ header: 'SERVER' }, ...spec.columns] : spec.columns;
    const cells = rows.map(({ server, item }) =>
      multi ? [server, ...spec.row(item)] : spec.row(item),
    );
    io.stdout.write(formatTable(columns, cells, tableOptions(io)));
  }
  return reportFailures(io, results);
}

function tableOptions(io: CliIO): { color: boolean } {
  return { color: useColor(io.stdout, io.env) };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const RIGHT = 'right' as const;

/** `gearmanode status`: jobs and workers per function. */
export function status(args: ParsedArgs<OptionSpecs>, io: CliIO): Promise<ExitCode> {
  expectPositionals('status', args.positionals, []);
  return listCommand(args, io, (admin) => admin.status(), {
    columns: [
      { header: 'FUNCTION' },
      { header: 'QUEUED', align: RIGHT },
      { header: 'RUNNING', align: RIGHT },
      { header: 'WORKERS', align: RIGHT },
    ],
    row: (s) => [s.functionName, String(s.queued), String(s.running), String(s.availableWorkers)],
    json: (s) => ({
      functionName: s.functionName,
      queued: s.queued,
      running: s.running,
      total: s.total,
      availableWorkers: s.availableWorkers,
    }),
    key: (s) => s.functionName,
  });
}

/** `gearmanode priority-status`: queued jobs per function and priority. */
export function priorityStatus(args: ParsedArgs<OptionSpecs>, io: CliIO): Promise<ExitCode> {
  expectPositionals('priority-status', args.positionals, []);
  return listCommand(args, io, (admin) => admin.priorityStatus(), {
    columns: [
      { header: 'FUNCTION' },
      { header: 'HIGH', align: RIGHT },
      { header: 'NORMAL', align: RIGHT },
      { header: 'LOW', align: RIGHT },
      { header: 'WORKERS', align: RIGHT },
    ],
    row: (s) => [
      s.functionName,
      String(s.high),
      String(s.normal),
      String(s.low),
      String(s.availableWorkers),
    ],
    json: (s) => ({
      functionName: s.functionName,
      high: s.high,
      normal: s.normal,
      low: s.low,
      availableWorkers: s.availableWorkers,
    }),
    key: (s) => s.functionName,
  });
}

/** `gearmanode workers`: connections with their functions (all of them with `--all`). */
export function workers(
  args: ParsedArgs<(typeof COMMANDS)['workers']['options']>,
  io: CliIO,
): Promise<ExitCode> {
  expectPositionals('workers', args.positionals, []);
  const all = args.values.all === true;
  return listCommand(
    args,
    io,
    (admin) => admin.workers(),
    {
      columns: [
        { header: 'FD', align: RIGHT },
        { header: 'IP' },
        { header: 'ID' },
        { header: 'FUNCTIONS' },
      ],
      row: (w) => [String(w.fd), w.ip, w.clientId ?? '-', w.functions.map(printable).join(' ')],
      json: (w) => ({ fd: w.fd, ip: w.ip, clientId: w.clientId, functions: w.functions }),
      key: (w) => String(w.fd).padStart(10, '0'),
    },
    (w) => all || w.functions.length > 0,
  );
}

/** `gearmanode jobs`: every job the server holds. */
export function jobs(args: ParsedArgs<OptionSpecs>, io: CliIO): Promise<ExitCode> {
  expectPositionals('jobs', args.positionals, []);
  return listCommand(args, io, (admin) => admin.showJobs(), {
    columns: [
      { header: 'HANDLE' },
      { header: 'RETRIES', align: RIGHT },
      { header: 'IGNORED' },
      { header: 'PERSISTED' },
    ],
    row: (j) => [j.handle, String(j.retries), yesNo(j.ignored), yesNo(j.persisted)],
    json: (j) => ({
      handle: j.handle,
      retries: j.retries,
      ignored: j.ignored,
      persisted: j.persisted,
    }),
    key: (j) => j.handle,
  });
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

/** `gearmanode unique-jobs`: the unique key of every job. */
export function uniqueJobs(args: ParsedArgs<OptionSpecs>, io: CliIO): Promise<ExitCode> {
  expectPositionals('unique-jobs', args.positionals, []);
  return listCommand(args, io, (admin) => admin.showUniqueJobs(), {
    columns: [{ header: 'UNIQUE' }],
    row: (unique) => [unique === '' ? '-' : unique],
    json: (unique) => ({ unique }),
    key: (unique) => unique,
  });
}

type ValueName = 'getpid' | 'version' | 'verbose';

/** `gearmanode getpid|version|verbose`: one value per server. */
export async function valueCommand(
  name: ValueName,
  args: ParsedArgs<OptionSpecs>,
  io: CliIO,
): Promise<ExitCode> {
  expectPositionals(name, args.positionals, []);
  const servers = resolveServers(args.values.servers, io.env);
  const results = await onEveryServer(servers, async (admin) => {
    if (name === 'getpid') {
      const pid = await admin.getPid();
      return { text: String(pid), json: { pid } };
    }
    if (name === 'version') {
      const version = await admin.version();
      return { text: version.raw, json: { version: version.version, raw: version.raw } };
    }
    const level = await admin.verbose();
    return { text: level, json: { level } };
  });
  const ok = results.filter((result) => result.ok);
  if (args.values.json === true) {
    io.stdout.write(
      formatJson(ok.map((result) => ({ server: result.server, ...result.value.json }))),
    );
  } else if (servers.length === 1) {
    // Just the value, for `kill "$(gearmanode getpid)"`.
    for (const result of ok) io.stdout.write(`${printable(result.value.text)}\n`);
  } else {
    const header = name === 'getpid' ? 'PID' : name === 'version' ? 'VERSION' : 'LEVEL';
    io.stdout.write(
      formatTable(
        [{ header: 'SERVER' }, { header }],
        ok.map((result) => [result.server, result.value.text]),
        tableOptions(io),
      ),
    );
  }
  return reportFailures(io, results);
}

/**
 * Runs an action (cancel, maxqueue, create/drop function, shutdown) on every server and prints
 * one confirmation line per server that accepted it, or `{ server, ok, error? }` per server.
 */
async function actionCommand(
  args: ParsedArgs<OptionSpecs>,
  io: CliIO,
  call: (admin: Admin) => Promise<void>,
  done: (server: string) => string,
  options: {
    /** Succeed when at least one server accepted (a handle lives on one server only). */
    anyServer?: boolean;
    describe?: (error: unknown) => string;
  } = {},
): Promise<ExitCode> {
  const servers = resolveServers(args.values.servers, io.env);
  const results = await onEveryServer(servers, call);
  if (args.values.json === true) {
    io.stdout.write(
      formatJson(
        results.map((result) =>
          result.ok
            ? { server: result.server, ok: true }
            : { server: result.server, ok: false, error: errorJson(result.error) },
        ),
      ),
    );
  } else {
    for (const result of results) if (result.ok) io.stdout.write(`${done(result.server)}\n`);
  }
  if (options.anyServer === true && results.some((result) => result.ok)) return EXIT.OK;
  // With --json the per-server errors are in the output; stderr still gets the lines.
  return reportFailures(io, results, options.describe);
}

function adminCodeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { adminCode?: unknown }).adminCode;
  return typeof code === 'string' ? code : undefined;
}

/** `gearmanode cancel <handle>`: fails the job for its foreground waiters. */
export function cancel(args: ParsedArgs<OptionSpecs>, io: CliIO): Promise<ExitCode> {
  const [handle] = expectPositionals('cancel', args.positionals, ['handle']) as [string];
  return actionCommand(
    args,
    io,
    (admin) => admin.cancelJob(handle),
    (server) => `cancelled ${printable(handle)} on ${server}`,
    {
      anyServer: true,
      describe: (error) =>
        adminCodeOf(error) === 'UNKNOWN_JOB'
          ? `no job ${printable(handle)} (UNKNOWN_JOB)`
          : messageFor(error),
    },
  );
}

/** Parses `maxqueue`'s limits: none, one for every priority, or high normal [low]. */
function parseMaxQueueLimits(words: readonly string[]): number | MaxQueueLimits | undefined {
  const numbers = words.map((word) =>
    parseInteger(word, 'the limit', { max: MAX_QUEUE_LIMIT, command: 'maxqueue' }),
  );
  const [high, normal, low] = numbers;
  if (high === undefined) return undefined;
  if (normal === undefined) return high;
  return low === undefined ? { high, normal } : { high, normal, low };
}

function describeLimits(limits: number | MaxQueueLimits | undefined): string {
  if (limits === undefined || limits === 0) return 'unlimited';
  if (typeof limits === 'number') return String(limits);
  const show = (n: number | undefined): string =>
    n === undefined || n === 0 ? 'unlimited' : String(n);
  return `high ${show(limits.high)}, normal ${show(limits.normal)}, low ${show(limits.low)}`;
}

/** `gearmanode maxqueue <function> [n | high normal [low]]`. */
export function maxqueue(args: ParsedArgs<OptionSpecs>, io: CliIO): Promise<ExitCode> {
  const [name, ...words] = expectPositionals(
    'maxqueue',
    args.positionals,
    ['function'],
    ['high', 'normal', 'low'],
  ) as [string, ...string[]];
  const limits = parseMaxQueueLimits(words);
  return actionCommand(
    args,
    io,
    (admin) => admin.maxQueue(name, limits),
    (server) => `maxqueue ${printable(name)}: ${describeLimits(limits)} on ${server}`,
  );
}

/** `gearmanode create-function <function>`. */
export function createFunction(args: ParsedArgs<OptionSpecs>, io: CliIO): Promise<ExitCode> {
  const [name] = expectPositionals('create-function', args.positionals, ['function']) as [string];
  return actionCommand(
    args,
    io,
    (admin) => admin.createFunction(name),
    (server) => `created function ${printable(name)} on ${server}`,
  );
}

/** `gearmanode drop-function <function>`. */
export function dropFunction(args: ParsedArgs<OptionSpecs>, io: CliIO): Promise<ExitCode> {
  const [name] = expectPositionals('drop-function', args.positionals, ['function']) as [string];
  return actionCommand(
    args,
    io,
    (admin) => admin.dropFunction(name),
    (server) => `dropped function ${printable(name)} on ${server}`,
  );
}

/** `gearmanode shutdown [--graceful]`. */
export function shutdown(
  args: ParsedArgs<(typeof COMMANDS)['shutdown']['options']>,
  io: CliIO,
): Promise<ExitCode> {
  expectPositionals('shutdown', args.positionals, []);
  const graceful = args.values.graceful === true;
  return actionCommand(
    args,
    io,
    (admin) => admin.shutdown({ graceful }),
    (server) => `${server} is shutting down${graceful ? ' after its running jobs' : ''}`,
    {
      describe: (error) =>
        adminCodeOf(error) === 'UNKNOWN_COMMAND'
          ? "the server has no 'shutdown' command (gearmand removed it in 1.1.15); stop its process instead"
          : messageFor(error),
    },
  );
}
