import { type Admin, createAdmin, type FunctionStatus, type WorkerInfo } from '@gearmanode/client';
import { expectPositionals, type ParsedArgs, parseDuration, parseInteger } from '../args.js';
import { CliError, EXIT, type ExitCode, messageFor } from '../errors.js';
import { type Column, formatTable } from '../format/table.js';
import { printable, styles, truncate } from '../format/text.js';
import type { COMMANDS } from '../help.js';
import { type CliIO, isTerminal, terminalSize, useColor } from '../io.js';
import { resolveServers } from '../servers.js';

type TopArgs = ParsedArgs<(typeof COMMANDS)['top']['options']>;

/** One server's state at one refresh: its `status` and `workers`, or why they are missing. */
export interface ServerSnapshot {
  readonly server: string;
  readonly status: readonly FunctionStatus[];
  readonly workers: readonly WorkerInfo[];
  readonly error?: string;
}

/** Every server at one refresh. */
export interface TopSnapshot {
  /** When it was taken, in ms since the epoch. */
  readonly at: number;
  readonly servers: readonly ServerSnapshot[];
}

/** Options for `renderTop`. */
export interface RenderOptions {
  /** Terminal columns; lines are cut to fit. */
  readonly width: number;
  /** Terminal rows; lines past them are left out, with a note. @default unlimited */
  readonly height?: number;
  readonly color: boolean;
  /** The refresh interval, in ms, for the title line. */
  readonly interval: number;
}

const RIGHT = 'right' as const;
const DEFAULT_INTERVAL = 1000;
const MIN_INTERVAL = 100;

/**
 * Renders one `top` screen as lines (without line ends): a title, the totals, per function the
 * queued and running counts with their change since `previous`, then the workers. Pure, for
 * tests; the command writes the lines in place.
 */
export function renderTop(
  current: TopSnapshot,
  previous: TopSnapshot | undefined,
  options: RenderOptions,
): string[] {
  const style = styles(options.color);
  const multi = current.servers.length > 1;
  const before = new Map<string, FunctionStatus>();
  for (const snapshot of previous?.servers ?? []) {
    for (const row of snapshot.status) before.set(key(snapshot.server, row.functionName), row);
  }
  const delta = (now: number, then: number | undefined): string => {
    if (then === undefined || now === then) return '';
    return now > then ? style.green(`+${now - then}`) : style.red(`-${then - now}`);
  };

  const functions: { server: string; row: FunctionStatus }[] = [];
  const workers: { server: string; worker: WorkerInfo }[] = [];
  for (const snapshot of current.servers) {
    for (const row of snapshot.status) functions.push({ server: snapshot.server, row });
    for (const worker of snapshot.workers) {
      if (worker.functions.length > 0) workers.push({ server: snapshot.server, worker });
    }
  }
  functions.sort(
    (a, b) =>
      b.row.queued + b.row.running - (a.row.queued + a.row.running) ||
      compare(a.row.functionName, b.row.functionName) ||
      compare(a.server, b.server),
  );
  workers.sort((a, b) => compare(a.server, b.server) || a.worker.fd - b.worker.fd);

  const sum = (pick: (row: FunctionStatus) => number, rows: Iterable<FunctionStatus>): number => {
    let total = 0;
    for (const row of rows) total += pick(row);
    return total;
  };
  const queued = sum(
    (row) => row.queued,
    functions.map(({ row }) => row),
  );
  const running = sum(
    (row) => row.running,
    functions.map(({ row }) => row),
  );
  const totalDelta = (pick: (row: FunctionStatus) => number, now: number): string => {
    if (previous === undefined) return '';
    const change = delta(now, sum(pick, before.values()));
    return change === '' ? '' : ` (${change})`;
  };

  const time = new Date(current.at).toTimeString().slice(0, 8);
  const title = `gearmanode top  ${current.servers.map((s) => s.server).join(',')}  every ${formatInterval(options.interval)}  ${time}  q: quit`;
  // The title is a full-width inverse bar on a colour terminal.
  const lines: string[] = [options.color ? style.inverse(padTo(title, options.width)) : title];
  lines.push(
    `${functions.length} function${functions.length === 1 ? '' : 's'}  ` +
      `${queued} queued${totalDelta((row) => row.queued, queued)}  ` +
      `${running} running${totalDelta((row) => row.running, running)}  ` +
      `${workers.length} worker${workers.length === 1 ? '' : 's'}`,
  );
  for (const snapshot of current.servers) {
    if (snapshot.error !== undefined) {
      lines.push(style.red(`${snapshot.server}: ${printable(snapshot.error)}`));
    }
  }
  lines.push('');

  const functionColumns: Column[] = [
    ...(multi ? [{ header: 'SERVER' }] : []),
    { header: 'FUNCTION' },
    { header: 'QUEUED', align: RIGHT },
    { header: '±', align: RIGHT },
    { header: 'RUNNING', align: RIGHT },
    { header: '±', align: RIGHT },
    { header: 'WORKERS', align: RIGHT },
  ];
  const functionRows = functions.map(({ server, row }) => {
    const then = previous === undefined ? undefined : before.get(key(server, row.functionName));
    // A function new since the last refresh changed from nothing.
    const old = previous === undefined ? undefined : (then ?? { queued: 0, running: 0 });
    return [
      ...(multi ? [server] : []),
      printable(row.functionName),
      String(row.queued),
      delta(row.queued, old?.queued),
      String(row.running),
      delta(row.running, old?.running),
      String(row.availableWorkers),
    ];
  });
  const table = (columns: Column[], rows: string[][]): string[] =>
    formatTable(columns, rows, { color: options.color, width: options.width, styled: true })
      .slice(0, -1)
      .split('\n');
  lines.push(...table(functionColumns, functionRows));
  lines.push('');
  const workerColumns: Column[] = [
    ...(multi ? [{ header: 'SERVER' }] : []),
    { header: 'FD', align: RIGHT },
    { header: 'IP' },
    { header: 'ID' },
    { header: 'FUNCTIONS' },
  ];
  const workerRows = workers.map(({ server, worker }) => [
    ...(multi ? [server] : []),
    String(worker.fd),
    printable(worker.ip),
    printable(worker.clientId ?? '-'),
    worker.functions.map(printable).join(' '),
  ]);
  lines.push(...table(workerColumns, workerRows));

  const fitted = lines.map((line) => truncate(line, options.width));
  const height = options.height;
  if (height !== undefined && fitted.length > height && height > 1) {
    const hidden = fitted.length - (height - 1);
    return [...fitted.slice(0, height - 1), style.dim(`… ${hidden} more lines`)];
  }
  return fitted;
}

function key(server: string, functionName: string): string {
  return `${server}\0${functionName}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function padTo(text: string, width: number): string {
  return !Number.isFinite(width) || text.length >= width
    ? text
    : text + ' '.repeat(width - text.length);
}

function formatInterval(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

// Terminal control: the alternate screen keeps the user's scrollback intact.
const ENTER = '\x1b[?1049h\x1b[?25l'; // alternate screen, hide cursor
const LEAVE = '\x1b[?25h\x1b[?1049l'; // show cursor, main screen
const HOME = '\x1b[H';
const CLEAR_LINE = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';

/** Keys that quit: q, Q, Ctrl-C (raw mode turns it into a byte instead of SIGINT). */
const QUIT_KEYS = new Set(['q', 'Q', '\x03']);

/**
 * `gearmanode top`: refreshes queue and worker counts every `--interval` until q, Ctrl-C,
 * SIGINT/SIGTERM or `--iterations`. On a terminal it draws in place on the alternate screen,
 * with stdin in raw mode for the keys, and restores both on the way out, also after an error.
 * Otherwise it prints one plain frame per refresh.
 */
export async function top(args: TopArgs, io: CliIO): Promise<ExitCode> {
  const { values } = args;
  expectPositionals('top', args.positionals, []);
  const interval =
    values.interval === undefined
      ? DEFAULT_INTERVAL
      : Math.max(MIN_INTERVAL, parseDuration(values.interval, '--interval', 'top'));
  const iterations =
    values.iterations === undefined
      ? Number.POSITIVE_INFINITY
      : parseInteger(values.iterations, '--iterations', { min: 1, command: 'top' });
  const servers = resolveServers(values.servers, io.env);
  const screen = isTerminal(io.stdout, io.env);
  const color = useColor(io.stdout, io.env);

  const quit = new AbortController();
  const stop = (): void => quit.abort();
  const quitted = new Promise<void>((resolve) =>
    quit.signal.addEventListener('abort', () => resolve(), { once: true }),
  );
  const onKey = (data: Buffer | string): void => {
    for (const char of data.toString()) if (QUIT_KEYS.has(char)) stop();
  };
  const keys = screen && io.stdin.isTTY === true && typeof io.stdin.setRawMode === 'function';
  const admins = new Map<string, Admin>();
  let last: { current: TopSnapshot; previous: TopSnapshot | undefined } | undefined;
  // Whether any server ever answered: a top that only ever showed errors did not work.
  let reached = false;
  const draw = (): void => {
    if (last === undefined) return;
    const size = terminalSize(io.stdout, io.env);
    const lines = renderTop(last.current, last.previous, {
      // A terminal cuts lines at its width; a file or pipe gets them whole.
      width: screen ? Math.max(20, size.columns) : Number.POSITIVE_INFINITY,
      ...(screen ? { height: size.rows } : {}),
      color,
      interval,
    });
    io.stdout.write(
      screen
        ? `${HOME}${lines.join(`${CLEAR_LINE}\n`)}${CLEAR_LINE}${CLEAR_BELOW}`
        : `${lines.join('\n')}\n\n`,
    );
  };

  io.signals.on('SIGINT', stop);
  io.signals.on('SIGTERM', stop);
  if (screen) {
    io.stdout.write(ENTER);
    io.stdout.on('resize', draw);
  }
  if (keys) {
    io.stdin.setRawMode?.(true);
    io.stdin.on('data', onKey);
    io.stdin.resume();
  }
  try {
    let previous: TopSnapshot | undefined;
    for (let count = 0; count < iterations && !quit.signal.aborted; count++) {
      if (count > 0) await sleep(interval, quitted);
      if (quit.signal.aborted) break;
      const current = await Promise.race([takeSnapshot(servers, admins, quit.signal), quitted]);
      if (current === undefined || quit.signal.aborted) break;
      last = { current, previous };
      if (current.servers.some((server) => server.error === undefined)) reached = true;
      draw();
      previous = current;
    }
  } finally {
    io.signals.off('SIGINT', stop);
    io.signals.off('SIGTERM', stop);
    if (keys) {
      io.stdin.off('data', onKey);
      io.stdin.setRawMode?.(false);
      io.stdin.pause();
    }
    if (screen) {
      io.stdout.off('resize', draw);
      io.stdout.write(LEAVE);
    }
    for (const admin of admins.values()) admin.destroy();
  }
  if (!reached && last !== undefined) {
    const errors = last.current.servers.map((server) => `${server.server}: ${server.error}`);
    throw new CliError(EXIT.CONNECTION, `no job server was reached (${errors.join('; ')})`);
  }
  return EXIT.OK;
}

function sleep(ms: number, interrupt: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
    interrupt,
  ]).finally(() => clearTimeout(timer));
}

/**
 * Asks every server for `status` and `workers` over a connection kept between refreshes; a
 * server that fails gets its error in the snapshot and a new connection next time.
 */
async function takeSnapshot(
  servers: readonly string[],
  admins: Map<string, Admin>,
  quit: AbortSignal,
): Promise<TopSnapshot> {
  const snapshots = await Promise.all(
    servers.map(async (server): Promise<ServerSnapshot> => {
      try {
        let admin = admins.get(server);
        if (admin === undefined) {
          admin = await createAdmin({
            server,
            reconnect: false,
            connectTimeout: 2000,
            timeout: 5000,
          });
          // Quit while connecting: the cleanup has run already, so close this one here.
          if (quit.aborted) {
            admin.destroy();
            throw quit.reason;
          }
          admins.set(server, admin);
        }
        const [status, workers] = await Promise.all([admin.status(), admin.workers()]);
        return { server, status, workers };
      } catch (error) {
        admins.get(server)?.destroy();
        admins.delete(server);
        return { server, status: [], workers: [], error: messageFor(error) };
      }
    }),
  );
  return { at: Date.now(), servers: snapshots };
}
