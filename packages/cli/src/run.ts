import { type OptionSpecs, type ParsedArgs, parseCommandArgs, splitCommand } from './args.js';
import * as admin from './commands/admin.js';
import { dashboard } from './commands/dashboard.js';
import { exporter } from './commands/exporter.js';
import { server } from './commands/server.js';
import { submit } from './commands/submit.js';
import { top } from './commands/top.js';
import { work } from './commands/work.js';
import { EXIT, type ExitCode, exitCodeFor, formatError, UsageError } from './errors.js';
import {
  COMMANDS,
  type CommandName,
  cliVersion,
  formatCommandHelp,
  formatOverview,
  isCommand,
} from './help.js';
import type { CliIO } from './io.js';

type Handler<N extends CommandName> = (
  args: ParsedArgs<(typeof COMMANDS)[N]['options']>,
  io: CliIO,
) => Promise<ExitCode>;

const HANDLERS: { [N in Exclude<CommandName, 'help'>]: Handler<N> } = {
  submit,
  work,
  status: admin.status,
  'priority-status': admin.priorityStatus,
  workers: admin.workers,
  jobs: admin.jobs,
  'unique-jobs': admin.uniqueJobs,
  cancel: admin.cancel,
  maxqueue: admin.maxqueue,
  'create-function': admin.createFunction,
  'drop-function': admin.dropFunction,
  getpid: (args, io) => admin.valueCommand('getpid', args, io),
  version: (args, io) => admin.valueCommand('version', args, io),
  verbose: (args, io) => admin.valueCommand('verbose', args, io),
  shutdown: admin.shutdown,
  top,
  exporter,
  dashboard,
  server,
};

/**
 * Runs the CLI on `argv` (without `node` and the script) against `io`, and resolves with the
 * exit code. Never rejects: every error becomes one line on stderr (`gearmanode: <message>`)
 * and its exit code, with the stack only under `--verbose`.
 *
 * @example
 * const code = await run(['status', '--json'], { stdin, stdout, stderr, env, signals });
 */
export async function run(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  // Known before parsing, so that a parse error gets its stack too; not from after `--`, which
  // belongs to the command `work` runs.
  const dashdash = argv.indexOf('--');
  const verbose = (dashdash === -1 ? argv : argv.slice(0, dashdash)).includes('--verbose');
  try {
    const { command, args } = splitCommand(argv);
    if (command === undefined) return await noCommand(args, io);
    if (!isCommand(command)) {
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
    if (command === 'help') return await help(args, io);
    let parsed = parseCommandArgs(command, COMMANDS[command].options as OptionSpecs, args);
    // Only `work` gives `--` a meaning of its own; elsewhere it just ends the options, so that
    // `gearmanode submit f -- -payload-with-a-dash` works.
    if (command !== 'work' && parsed.rest !== null) {
      parsed = { ...parsed, positionals: [...parsed.positionals, ...parsed.rest], rest: null };
    }
    if (parsed.values.help === true) {
      io.stdout.write(formatCommandHelp(command));
      return EXIT.OK;
    }
    if (parsed.values.json === true && !('json' in COMMANDS[command])) {
      throw new UsageError(`${command} has no --json output`, command);
    }
    const handler = HANDLERS[command] as Handler<typeof command>;
    return await handler(parsed as ParsedArgs<(typeof COMMANDS)[typeof command]['options']>, io);
  } catch (error) {
    io.stderr.write(formatError(error, verbose));
    return exitCodeFor(error);
  }
}

async function noCommand(args: readonly string[], io: CliIO): Promise<ExitCode> {
  if (args.includes('--version') || args.includes('-V')) {
    io.stdout.write(`${cliVersion()}\n`);
    return EXIT.OK;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(formatOverview());
    return EXIT.OK;
  }
  // Without a command, show what there is, on stderr: the invocation was still wrong.
  io.stderr.write(formatOverview());
  return EXIT.USAGE;
}

async function help(args: readonly string[], io: CliIO): Promise<ExitCode> {
  const topic = args.find((arg) => !arg.startsWith('-'));
  if (topic === undefined && (args.includes('--help') || args.includes('-h'))) {
    io.stdout.write(formatCommandHelp('help'));
    return EXIT.OK;
  }
  if (topic === undefined) {
    io.stdout.write(formatOverview());
    return EXIT.OK;
  }
  if (!isCommand(topic)) throw new UsageError(`unknown command ${JSON.stringify(topic)}`);
  io.stdout.write(formatCommandHelp(topic));
  return EXIT.OK;
}
