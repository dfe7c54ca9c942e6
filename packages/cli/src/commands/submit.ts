import { Buffer } from 'node:buffer';
import { type Client, createClient, type SubmitOptions } from '@gearmanode/client';
import { checkFunctionName, checkUnique, DEFAULT_MAX_PACKET_SIZE } from '@gearmanode/protocol';
import {
  expectPositionals,
  type ParsedArgs,
  parseAt,
  parseDuration,
  parsePriority,
  parseSize,
} from '../args.js';
import { CliError, EXIT, type ExitCode, UsageError } from '../errors.js';
import { formatJson } from '../format/json.js';
import { ProgressBar } from '../format/progress.js';
import { printable } from '../format/text.js';
import type { COMMANDS } from '../help.js';
import { type CliIO, isTerminal, readAll, write } from '../io.js';
import { watchForWorkers } from '../no-worker-notice.js';
import { resolveServers } from '../servers.js';

type SubmitArgs = ParsedArgs<(typeof COMMANDS)['submit']['options']>;

/**
 * The payload: the argument as UTF-8, or stdin's bytes unchanged when the argument is missing
 * or `-`. A terminal on stdin with no argument means an empty payload rather than a prompt.
 */
async function readPayload(arg: string | undefined, io: CliIO): Promise<Buffer> {
  if (arg !== undefined && arg !== '-') return Buffer.from(arg, 'utf8');
  if (arg === undefined && io.stdin.isTTY === true) return Buffer.alloc(0);
  return readAll(io.stdin);
}

/**
 * `gearmanode submit <function> [payload]`: runs a job and writes its WORK_DATA chunks, then
 * its result, to stdout; with `--background` queues it and prints the handle.
 *
 * Resolves with the exit code; rejects with the library's errors (JobFailedError, TimeoutError,
 * …), which the caller maps to exit codes, except a job exception, reported here in full.
 */
export async function submit(args: SubmitArgs, io: CliIO): Promise<ExitCode> {
  const { values } = args;
  const [name, payloadArg] = expectPositionals(
    'submit',
    args.positionals,
    ['function'],
    ['payload'],
  ) as [string, string | undefined];
  const background = values.background === true;
  if (values.at !== undefined && !background) {
    throw new UsageError(
      '--at needs --background (scheduled jobs run in the background)',
      'submit',
    );
  }
  if (values.json === true && !background) {
    throw new UsageError('--json applies to --background only (a result is raw bytes)', 'submit');
  }
  checkArgument(() => checkFunctionName(name, '<function>'));
  const options: SubmitOptions = {};
  if (values.priority !== undefined) options.priority = parsePriority(values.priority, 'submit');
  if (values.unique !== undefined)
    options.unique = checkArgument(() => checkUnique(values.unique, '--unique'));
  if (values.timeout !== undefined) {
    options.timeout = parseDuration(values.timeout, '--timeout', 'submit');
  }
  const at = values.at === undefined ? undefined : parseAt(values.at, Date.now(), 'submit');
  const maxPacketSize =
    values['max-packet-size'] === undefined
      ? DEFAULT_MAX_PACKET_SIZE
      : parseSize(values['max-packet-size'], '--max-packet-size', 'submit');
  const servers = resolveServers(values.servers, io.env);
  const payload = await readPayload(payloadArg, io);
  // The body holds the function, the unique and the payload, with a NUL after each of the first two.
  const body =
    Buffer.byteLength(name) + Buffer.byteLength(options.unique ?? '') + 2 + payload.length;
  if (body > maxPacketSize) {
    throw new UsageError(
      `the job is ${body} bytes, more than the packet limit of ${maxPacketSize}; raise it with ` +
        '--max-packet-size (the job server and the worker must accept it too)',
      'submit',
    );
  }

  const client = await createClient({
    servers,
    reconnect: false,
    heartbeatInterval: 0,
    maxPacketSize,
  });
  try {
    if (background) {
      const handle = await client.submitBackground(name, payload, {
        ...options,
        ...(at === undefined ? {} : { at }),
      });
      await write(io.stdout, values.json === true ? formatJson({ handle }) : `${handle}\n`);
      return EXIT.OK;
    }
    return await foreground(client, servers, name, payload, options, args, io);
  } finally {
    client.destroy();
  }
}

// The library's argument checks, as usage errors: checked before anything connects.
function checkArgument<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), 'submit');
  }
}

async function foreground(
  client: Client,
  servers: readonly string[],
  name: string,
  payload: Buffer,
  options: SubmitOptions,
  args: SubmitArgs,
  io: CliIO,
): Promise<ExitCode> {
  const showProgress = isTerminal(io.stderr, io.env) && args.values.quiet !== true;
  const progress = showProgress ? new ProgressBar(io.stderr, { label: name }) : undefined;
  // With both streams on one terminal, output must not be written over the progress line.
  const sharedTerminal = progress !== undefined && isTerminal(io.stdout, io.env);
  const aborter = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => aborter.abort(signal);
  io.signals.on('SIGINT', onSignal);
  io.signals.on('SIGTERM', onSignal);
  let handle: string | undefined;
  const stopWatching = watchForWorkers(servers, name, (message) => {
    progress?.clear();
    io.stderr.write(`gearmanode: ${message}\n`);
    progress?.redraw();
  });
  try {
    const run = client.start(name, payload, { ...options, signal: aborter.signal });
    for await (const event of run) {
      switch (event.type) {
        case 'created':
          handle = event.handle;
          if (args.values.verbose === true) io.stderr.write(`gearmanode: job ${handle} queued\n`);
          break;
        case 'status':
          progress?.update(event.numerator, event.denominator);
          break;
        case 'data':
          if (sharedTerminal) progress?.clear();
          await write(io.stdout, event.data);
          if (sharedTerminal) progress?.redraw();
          break;
        case 'warning':
          progress?.clear();
          await write(io.stderr, event.data);
          progress?.redraw();
          break;
      }
    }
    const result = await run.result();
    progress?.clear();
    await write(io.stdout, result);
    return EXIT.OK;
  } catch (error) {
    progress?.clear();
    if (aborter.signal.aborted) {
      throw new CliError(
        aborter.signal.reason === 'SIGTERM' ? EXIT.TERMINATED : EXIT.INTERRUPTED,
        `interrupted by ${String(aborter.signal.reason)}${handle === undefined ? '' : `; job ${handle} may still run`}`,
      );
    }
    throw describeJobError(error, handle, options.timeout);
  } finally {
    stopWatching();
    io.signals.off('SIGINT', onSignal);
    io.signals.off('SIGTERM', onSignal);
  }
}

/**
 * Rewords the library's job errors for the terminal. A WORK_EXCEPTION's data is the worker's
 * reason (`gearmanode work` puts the command's exit status and stderr there), so all of it is
 * shown, not a preview.
 */
function describeJobError(error: unknown, handle: string | undefined, timeout?: number): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const code = (error as { code?: unknown }).code;
  const job = handle === undefined ? 'the job' : `job ${handle}`;
  if (code === 'ERR_JOB_EXCEPTION') {
    const data = (error as { data?: unknown }).data;
    const text = Buffer.isBuffer(data) ? data.toString('utf8').trimEnd() : '';
    const lines = text.split('\n').map(printable);
    // One line stays on the first line; a longer reason follows it, indented.
    const oneLine = lines.length === 1 && text.length <= 200;
    return new CliError(
      EXIT.JOB_EXCEPTION,
      `${job} failed with an exception${text === '' ? '' : oneLine ? `: ${lines[0]}` : ':'}`,
      { cause: error, ...(oneLine ? {} : { detail: lines.join('\n') }) },
    );
  }
  if (code === 'ERR_JOB_FAILED') {
    return new CliError(EXIT.JOB_FAILED, `${job} failed`, { cause: error });
  }
  if (code === 'ERR_TIMEOUT') {
    const after = timeout === undefined ? '' : ` after ${timeout} ms`;
    return new CliError(EXIT.TIMEOUT, `timed out${after}; ${job} may still run on the server`, {
      cause: error,
    });
  }
  return error;
}
