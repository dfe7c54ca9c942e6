import { readFileSync } from 'node:fs';
import { GLOBAL_OPTIONS, type OptionSpec, type OptionSpecs } from './args.js';
import {
  DASHBOARD_OPTIONS,
  EXPORTER_OPTIONS,
  NONE,
  SERVER_OPTIONS,
  SUBMIT_OPTIONS,
  TOP_OPTIONS,
  WORK_OPTIONS,
} from './command-options.js';
import { EXIT } from './errors.js';
import { SERVERS_ENV } from './servers.js';

/** A command as `--help` describes it; its `options` are also what the parser accepts. */
export interface CommandHelp {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Usage lines after `gearmanode `, e.g. `submit [options] <function> [payload]`. */
  readonly usage: readonly string[];
  /** Paragraphs after the usage. */
  readonly description?: string;
  readonly options: OptionSpecs;
  /** Example command lines, each with a `#` comment. */
  readonly examples: readonly string[];
  /** Whether `--json` applies; the global `--json` line is left out otherwise. */
  readonly json?: boolean;
}

/** Every command, in the order `gearmanode --help` lists them. */
export const COMMANDS = {
  submit: {
    name: 'submit',
    summary: 'run a job and print its result',
    usage: ['submit [options] <function> [payload]'],
    description: `The payload is the argument, or stdin when it is left out or '-' (bytes unchanged; an
empty payload when stdin is a terminal). The result goes to stdout as it is, preceded by any
WORK_DATA chunks as they arrive; WORK_WARNING chunks go to stderr. When stderr is a terminal,
WORK_STATUS is shown as a progress bar there. A failed job, an exception or a timeout exits
non-zero with the reason on stderr. With --background the handle is printed instead.`,
    options: SUBMIT_OPTIONS,
    examples: [
      'gearmanode submit reverse hello                  # prints olleh',
      'gearmanode submit resize < in.png > out.png      # binary in, binary out',
      'gearmanode submit --timeout 10s --priority high report 2024-06',
      'gearmanode submit -b --at +5m reindex \'{"id":7}\'  # prints the job handle',
    ],
    json: true,
  },
  work: {
    name: 'work',
    summary: 'run a shell command for every job of a function',
    usage: ['work [options] <function> -- <command> [args...]'],
    description: `Registers <function> and runs <command> once per job, with the payload on its stdin.
Its stdout is the job's result; its stderr is passed through. A non-zero exit fails the job with
WORK_EXCEPTION carrying the exit status and the end of stderr (--plain-fail: WORK_FAIL). The
command sees GEARMAN_FUNCTION, GEARMAN_HANDLE and GEARMAN_UNIQUE in its environment.
SIGINT or SIGTERM stops taking jobs and lets running commands finish (up to --grace); a second
signal kills them. Exits 0 after a clean stop.`,
    options: WORK_OPTIONS,
    examples: [
      'gearmanode work reverse -- rev                    # each payload reversed',
      'gearmanode work -c 4 resize -- convert - -resize 50% -',
      "gearmanode work --timeout 60s report -- sh -c 'jq -r .month | ./report.sh'",
    ],
  },
  status: {
    name: 'status',
    summary: 'jobs and workers per function',
    usage: ['status [options]'],
    description:
      'QUEUED jobs wait for a worker, RUNNING ones are held by one, WORKERS counts registrations.',
    options: NONE,
    examples: ['gearmanode status', "gearmanode status --json | jq '.[] | select(.queued > 0)'"],
    json: true,
  },
  'priority-status': {
    name: 'priority-status',
    summary: 'queued jobs per function and priority',
    usage: ['priority-status [options]'],
    options: NONE,
    examples: ['gearmanode priority-status'],
    json: true,
  },
  workers: {
    name: 'workers',
    summary: 'connected workers and their functions',
    usage: ['workers [options]'],
    description: 'The server lists every connection; without --all only those with functions.',
    options: {
      all: { type: 'boolean', short: 'a', description: 'also list clients and admin connections' },
    },
    examples: ['gearmanode workers', 'gearmanode workers --all --json'],
    json: true,
  },
  jobs: {
    name: 'jobs',
    summary: 'every job the server holds',
    usage: ['jobs [options]'],
    description:
      'IGNORED jobs were cancelled or abandoned and wait to be discarded; PERSISTED ones are background jobs.',
    options: NONE,
    examples: ['gearmanode jobs', 'gearmanode jobs --json'],
    json: true,
  },
  'unique-jobs': {
    name: 'unique-jobs',
    summary: 'the unique key of every job',
    usage: ['unique-jobs [options]'],
    options: NONE,
    examples: ['gearmanode unique-jobs'],
    json: true,
  },
  cancel: {
    name: 'cancel',
    summary: 'fail a job for the clients waiting on it',
    usage: ['cancel [options] <handle>'],
    description: `Foreground clients get WORK_FAIL at once. A job already running keeps running: Gearman
cannot stop a worker. Exits ${EXIT.SERVER} when no server knows the handle.`,
    options: NONE,
    examples: ['gearmanode cancel H:build-host:42'],
    json: true,
  },
  maxqueue: {
    name: 'maxqueue',
    summary: "limit a function's queue",
    usage: ['maxqueue [options] <function> [n | <high> <normal> [<low>]]'],
    description: `A new job is refused (exit ${EXIT.SERVER} for 'submit') once the function holds this many jobs.
Without a limit, the function's limits are reset to unlimited; 0 also means unlimited. The
function must exist (see create-function).`,
    options: NONE,
    examples: [
      'gearmanode maxqueue resize 100          # 100 for every priority',
      'gearmanode maxqueue resize 10 100 1000  # high, normal, low',
      'gearmanode maxqueue resize              # unlimited again',
    ],
    json: true,
  },
  'create-function': {
    name: 'create-function',
    summary: 'create an empty function entry',
    usage: ['create-function [options] <function>'],
    options: NONE,
    examples: ['gearmanode create-function resize && gearmanode maxqueue resize 100'],
    json: true,
  },
  'drop-function': {
    name: 'drop-function',
    summary: 'remove a function without workers',
    usage: ['drop-function [options] <function>'],
    description: 'gearmand also drops a function that still has queued jobs, which are then lost.',
    options: NONE,
    examples: ['gearmanode drop-function old-resize'],
    json: true,
  },
  getpid: {
    name: 'getpid',
    summary: "the server's process id",
    usage: ['getpid [options]'],
    options: NONE,
    examples: ['kill -HUP "$(gearmanode getpid)"'],
    json: true,
  },
  version: {
    name: 'version',
    summary: "the server's version",
    usage: ['version [options]'],
    description: "The CLI's own version is 'gearmanode --version'.",
    options: NONE,
    examples: ['gearmanode version --servers a:4730,b:4730'],
    json: true,
  },
  verbose: {
    name: 'verbose',
    summary: "the server's log level",
    usage: ['verbose [options]'],
    options: NONE,
    examples: ['gearmanode verbose'],
    json: true,
  },
  shutdown: {
    name: 'shutdown',
    summary: 'stop the server',
    usage: ['shutdown [options]'],
    description: `gearmand 1.1.15 and later do not have this command (exit ${EXIT.SERVER}); the embedded server
('gearmanode server') does.`,
    options: {
      graceful: { type: 'boolean', description: 'let running jobs finish first' },
    },
    examples: ['gearmanode shutdown --graceful --servers 127.0.0.1:4731'],
    json: true,
  },
  top: {
    name: 'top',
    summary: 'live view of queues and workers',
    usage: ['top [options]'],
    description: `Refreshes in place: per function the QUEUED, RUNNING and WORKERS counts and their change
since the last refresh, then the workers. q or Ctrl-C quits. When stdout is not a terminal, each
refresh is printed after the last one.`,
    options: TOP_OPTIONS,
    examples: ['gearmanode top', 'gearmanode top -i 250ms --servers a:4730,b:4730'],
  },
  exporter: {
    name: 'exporter',
    summary: 'serve Prometheus metrics of queues and workers',
    usage: ['exporter [options]'],
    description: `Serves /metrics in the Prometheus text format until SIGINT or SIGTERM. Each scrape asks
every server for status, prioritystatus and workers: per function the queued jobs (also per
priority), running jobs and workers; per server gearman_up (0 when it does not answer within
--timeout) and the scrape duration. Listens on loopback unless told otherwise; only GET and
HEAD are answered.`,
    options: EXPORTER_OPTIONS,
    examples: [
      'gearmanode exporter --servers a:4730,b:4730',
      'gearmanode exporter --listen 0.0.0.0:9470   # reachable from other hosts',
      'curl -s 127.0.0.1:9470/metrics | grep gearman_up',
    ],
  },
  dashboard: {
    name: 'dashboard',
    summary: 'live web page of servers, queues and workers',
    usage: ['dashboard [options]'],
    description: `Serves a web page, updated live, with every server (a red row when it is down), every
function's queued jobs per priority with a sparkline of the queue, its running jobs and workers,
and the worker connections. Runs until SIGINT or SIGTERM; listens on loopback unless told
otherwise.`,
    options: DASHBOARD_OPTIONS,
    examples: [
      'gearmanode dashboard --servers a:4730,b:4730   # then open http://127.0.0.1:9471/',
      'gearmanode dashboard --listen 127.0.0.1:8080 --interval 2s',
    ],
  },
  server: {
    name: 'server',
    summary: 'run the embedded job server',
    usage: ['server [options]'],
    description: `A Gearman job server. Jobs live in memory (lost when it stops), unless --store keeps
background jobs in a SQLite file that gearmand -q libsqlite3 can read too. Prints the address it
listens on; SIGINT or SIGTERM lets running jobs finish, a second signal stops at once.
--metrics also serves its queues and workers as Prometheus metrics (see 'exporter').`,
    options: SERVER_OPTIONS,
    examples: [
      'gearmanode server',
      'gearmanode server --port 0 --json   # any free port',
      'gearmanode server --metrics 127.0.0.1:9470   # and Prometheus metrics',
      'gearmanode server --store sqlite:/var/lib/gearman/queue.db   # background jobs survive',
    ],
    json: true,
  },
  help: {
    name: 'help',
    summary: 'show help for a command',
    usage: ['help [command]'],
    options: NONE,
    examples: ['gearmanode help submit'],
  },
} as const satisfies Record<string, CommandHelp>;

/** A command name. */
export type CommandName = keyof typeof COMMANDS;

/** Whether `name` is a command. */
export function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}

/** The CLI's version, from its package.json (`src/` and `dist/` both sit next to it). */
export function cliVersion(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

function optionLines(options: OptionSpecs): string[] {
  const rows = Object.entries(options).map(([name, spec]: [string, OptionSpec]) => {
    const short = spec.short === undefined ? '    ' : `-${spec.short}, `;
    const value = spec.value === undefined ? '' : ` <${spec.value}>`;
    return [`${short}--${name}${value}`, spec.description] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`);
}

/** The `--help` text of one command. */
export function formatCommandHelp(name: CommandName): string {
  const command: CommandHelp = COMMANDS[name];
  const globals: OptionSpecs =
    command.json === true
      ? GLOBAL_OPTIONS
      : Object.fromEntries(Object.entries(GLOBAL_OPTIONS).filter(([key]) => key !== 'json'));
  const lines = [
    ...command.usage.map((usage, i) => `${i === 0 ? 'Usage:' : '      '} gearmanode ${usage}`),
    '',
    `${command.summary[0]?.toUpperCase()}${command.summary.slice(1)}.`,
  ];
  if (command.description !== undefined) lines.push('', command.description);
  if (Object.keys(command.options).length > 0) {
    lines.push('', 'Options:', ...optionLines(command.options));
  }
  lines.push('', 'Global options:', ...optionLines(globals));
  lines.push('', 'Examples:', ...command.examples.map((example) => `  ${example}`));
  return `${lines.join('\n')}\n`;
}

/** The `gearmanode --help` text: every command, the global options, the environment. */
export function formatOverview(): string {
  const names = Object.keys(COMMANDS) as CommandName[];
  const width = Math.max(...names.map((name) => name.length));
  const lines = [
    'Usage: gearmanode <command> [options]',
    '',
    'Submit jobs, run shell commands as workers, and inspect Gearman job servers.',
    '',
    'Commands:',
    ...names.map((name) => `  ${name.padEnd(width)}  ${COMMANDS[name].summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    `  -V, --version${' '.repeat(Math.max(0, optionWidth() - 13))}  print the version of gearmanode`,
    '',
    'Environment:',
    `  ${SERVERS_ENV}  default for --servers, e.g. 10.0.0.1:4730,10.0.0.2:4730`,
    '  NO_COLOR         no colours in tables',
    '',
    'Exit codes:',
    ...Object.entries(EXIT_DESCRIPTIONS).map(([code, text]) => `  ${code.padStart(3)}  ${text}`),
    '',
    "Run 'gearmanode <command> --help' for a command's options and examples.",
  ];
  return `${lines.join('\n')}\n`;
}

function optionWidth(): number {
  return Math.max(
    ...Object.entries(GLOBAL_OPTIONS).map(
      ([name, spec]: [string, OptionSpec]) =>
        4 + 2 + name.length + (spec.value === undefined ? 0 : spec.value.length + 3),
    ),
  );
}

/** What each exit code means, for `--help` and the README. */
export const EXIT_DESCRIPTIONS: Readonly<Record<number, string>> = {
  [EXIT.OK]: 'success',
  [EXIT.ERROR]: 'unexpected error',
  [EXIT.USAGE]: 'bad command line',
  [EXIT.JOB_FAILED]: 'the job failed (WORK_FAIL, or cancelled)',
  [EXIT.JOB_EXCEPTION]: 'the job failed with an exception (WORK_EXCEPTION)',
  [EXIT.TIMEOUT]: 'timed out; the job may still run',
  [EXIT.CONNECTION]: 'no server reachable, or the connection was lost',
  [EXIT.SERVER]: 'the server refused (queue full, unknown job, ERR reply)',
  [EXIT.INTERRUPTED]: 'interrupted by Ctrl-C (SIGINT)',
  [EXIT.TERMINATED]: 'stopped by SIGTERM',
};
