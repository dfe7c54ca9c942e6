import { Buffer } from 'node:buffer';
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { checkClientId, checkFunctionName, DEFAULT_MAX_PACKET_SIZE } from '@gearmanode/protocol';
import { createWorker, type Job, type Worker } from '@gearmanode/worker';
import { type ParsedArgs, parseDuration, parseInteger, parseSize } from '../args.js';
import { CliError, EXIT, type ExitCode, messageFor, UsageError } from '../errors.js';
import { printable } from '../format/text.js';
import type { COMMANDS } from '../help.js';
import { type CliIO, isTerminal } from '../io.js';
import { resolveServers } from '../servers.js';

type WorkArgs = ParsedArgs<(typeof COMMANDS)['work']['options']>;

/** How much of a failed command's stderr goes into its WORK_EXCEPTION, in bytes. */
const STDERR_TAIL_BYTES = 2048;
/** After SIGTERM, how long a command has before SIGKILL, in ms. */
const KILL_DELAY = 5000;
const DEFAULT_GRACE = 30_000;

/** How one run of the command ended. */
export interface CommandOutcome {
  /** The exit code, or null when a signal ended it or it never started. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Everything it wrote to stdout: the job's result when it succeeded. */
  readonly stdout: Buffer;
  /** The last `STDERR_TAIL_BYTES` of its stderr. */
  readonly stderrTail: Buffer;
  /** It ran past `--timeout` and was killed. */
  readonly timedOut: boolean;
  /** It could not be started (spawn failed). */
  readonly spawnError: Error | undefined;
}

/** Options for `runCommand`. */
export interface RunCommandOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where the command's stderr is copied to as it arrives. */
  readonly stderr?: NodeJS.WritableStream;
  /** Kill it after this many ms; 0 for never. */
  readonly timeout?: number;
  /** Kill it when this aborts. */
  readonly signal?: AbortSignal;
  /** Called with the child once it is spawned, e.g. to kill it on a second Ctrl-C. */
  readonly onSpawn?: (child: ChildProcess) => void;
}

/**
 * Runs `command` with `input` on its stdin and collects its stdout and the tail of its stderr.
 * The command gets its own process group, so that a Ctrl-C on the terminal reaches only
 * gearmanode (which drains) and a kill reaches the command's children too. Never rejects.
 */
function runCommand(
  command: readonly string[],
  input: Uint8Array,
  options: RunCommandOptions,
): Promise<CommandOutcome> {
  const [file, ...argv] = command as [string, ...string[]];
  return new Promise((resolve) => {
    const stdout: Buffer[] = [];
    let tail = Buffer.alloc(0);
    let timedOut = false;
    let spawnError: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;
    const child = spawn(file, argv, {
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const kill = (): void => {
      signalGroup(child, 'SIGTERM');
      killTimer ??= setTimeout(() => signalGroup(child, 'SIGKILL'), KILL_DELAY);
    };
    const onAbort = (): void => kill();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted === true) kill();
    if (options.timeout !== undefined && options.timeout > 0) {
      timeoutTimer = setTimeout(() => {
        timedOut = true;
        kill();
      }, options.timeout);
    }
    // A command that does not read its stdin closes the pipe early: EPIPE is expected then.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      options.stderr?.write(chunk);
      tail = Buffer.concat([tail, chunk]);
      if (tail.length > STDERR_TAIL_BYTES) tail = tail.subarray(tail.length - STDERR_TAIL_BYTES);
    });
    child.on('error', (error) => {
      spawnError ??= error;
    });
    child.on('spawn', () => options.onSpawn?.(child));
    child.on('close', (code, signal) => {
      clearTimeout(timeoutTimer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve({
        code: spawnError === undefined ? code : null,
        signal,
        stdout: Buffer.concat(stdout),
        stderrTail: Buffer.from(tail),
        timedOut,
        spawnError,
      });
    });
  });
}

/** Sends `signal` to the child's process group (it leads one: `detached`), or to it alone. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already (ESRCH) or cannot be signalled: try the child itself.
    child.kill(signal);
  }
}

/** Why a run failed, in words, or undefined when it succeeded. */
function failureReason(outcome: CommandOutcome, timeout: number): string | undefined {
  if (outcome.spawnError !== undefined)
    return `cannot run the command: ${outcome.spawnError.message}`;
  if (outcome.timedOut) return `command timed out after ${formatMs(timeout)}`;
  if (outcome.signal !== null) return `command killed by ${outcome.signal}`;
  if (outcome.code !== 0) return `command exited with code ${outcome.code}`;
  return undefined;
}

/**
 * The WORK_EXCEPTION data for a failed run: the reason, then the end of stderr, so that
 * `gearmanode submit` shows the client why.
 */
function exceptionData(reason: string, stderrTail: Buffer): Buffer {
  const tail = stderrTail.toString('utf8').trimEnd();
  return Buffer.from(tail === '' ? reason : `${reason}\n${tail}`, 'utf8');
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * Finds `file` the way spawn will: a path with a slash as it is, a bare name in PATH.
 * @throws CliError (`EXIT.USAGE`) when it is not there or not executable, so that a typo fails
 *   at once rather than failing every job.
 */
function checkExecutable(file: string, env: CliIO['env']): void {
  const candidates = file.includes('/')
    ? [file]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => join(dir, file));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return;
    } catch {
      // Not here (ENOENT) or not executable (EACCES): try the next directory.
    }
  }
  throw new CliError(
    EXIT.USAGE,
    file.includes('/') ? `${file} is not an executable file` : `command not found: ${file}`,
  );
}

/**
 * `gearmanode work <function> -- <command> [args...]`: a worker that runs the command once per
 * job. Resolves with `EXIT.OK` after `--max-jobs` jobs or a clean stop by SIGINT/SIGTERM,
 * `EXIT.INTERRUPTED` when a second signal cut the drain short; rejects with a ConnectionError
 * when every server gave up.
 */
// The library's argument checks, as usage errors: checked before anything connects.
function usageCheck(check: () => unknown): void {
  try {
    check();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), 'work');
  }
}

export async function work(args: WorkArgs, io: CliIO): Promise<ExitCode> {
  const { values } = args;
  const [name, ...extra] = args.positionals;
  if (name === undefined) throw new UsageError('missing <function>', 'work');
  if (args.rest !== null && extra.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])} before --`, 'work');
  }
  const command = args.rest ?? extra;
  if (command.length === 0) throw new UsageError('missing <command> after --', 'work');
  const concurrency = parseInteger(values.concurrency ?? '1', '--concurrency', {
    min: 1,
    max: 10_000,
    command: 'work',
  });
  const timeout =
    values.timeout === undefined ? 0 : parseDuration(values.timeout, '--timeout', 'work');
  const maxJobs =
    values['max-jobs'] === undefined
      ? Number.POSITIVE_INFINITY
      : parseInteger(values['max-jobs'], '--max-jobs', { min: 1, command: 'work' });
  const grace =
    values.grace === undefined ? DEFAULT_GRACE : parseDuration(values.grace, '--grace', 'work');
  const plainFail = values['plain-fail'] === true;
  const verbose = values.verbose === true;
  const maxPacketSize =
    values['max-packet-size'] === undefined
      ? DEFAULT_MAX_PACKET_SIZE
      : parseSize(values['max-packet-size'], '--max-packet-size', 'work');
  usageCheck(() => checkFunctionName(name, '<function>'));
  if (values.id !== undefined) usageCheck(() => checkClientId(values.id, '--id'));
  const servers = resolveServers(values.servers, io.env);
  checkExecutable(command[0] as string, io.env);

  const worker = await createWorker({
    servers,
    concurrency,
    functions: [name],
    maxPacketSize,
    ...(values.id === undefined ? {} : { clientId: values.id }),
  });
  const log = (line: string): void => {
    io.stderr.write(`gearmanode: ${line}\n`);
  };
  // Only reporting: an error in it must not take the worker down.
  watchConnections(worker, log, verbose).catch(() => {});
  for (const server of worker.stats().servers) {
    if (server.connection !== 'ready') log(`${server.server}: not connected yet; retrying`);
  }
  if (verbose || isTerminal(io.stderr, io.env)) {
    log(
      `working on ${printable(name)} at ${servers.join(',')}, up to ${concurrency} ` +
        `command${concurrency === 1 ? '' : 's'} at once; Ctrl-C to stop`,
    );
  }

  const children = new Set<ChildProcess>();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      log(
        `${signal}: stopping; waiting up to ${formatMs(grace)} for ${children.size} running ` +
          `command${children.size === 1 ? '' : 's'} (${signal} again kills them)`,
      );
      void worker.close({ timeout: grace });
      return;
    }
    log(`${signal} again: killing ${children.size} running command(s)`);
    for (const child of children) signalGroup(child, 'SIGKILL');
    worker.destroy();
  };
  io.signals.on('SIGINT', onSignal);
  io.signals.on('SIGTERM', onSignal);

  const runJob = async (job: Job): Promise<void> => {
    const started = Date.now();
    const outcome = await runCommand(command, job.payload, {
      env: {
        ...io.env,
        GEARMAN_FUNCTION: job.name,
        GEARMAN_HANDLE: job.handle,
        GEARMAN_UNIQUE: job.unique,
        GEARMAN_SERVER: job.server,
      },
      stderr: io.stderr,
      timeout,
      signal: job.signal,
      onSpawn: (child) => {
        children.add(child);
        child.once('close', () => children.delete(child));
      },
    });
    // The worker released the job (lost connection, or the drain ran out of time): the server
    // hands it to another worker, so there is nothing to report.
    if (job.settled) return;
    const reason = failureReason(outcome, timeout);
    try {
      if (reason === undefined) {
        await job.complete(outcome.stdout);
        if (verbose) log(`job ${job.handle} done in ${Date.now() - started} ms`);
        return;
      }
      log(`job ${job.handle} failed: ${reason}`);
      if (plainFail) await job.fail();
      else await job.exception(exceptionData(reason, outcome.stderrTail));
    } catch (error) {
      // The result could not be sent (connection gone, result over maxPacketSize): say so and
      // keep working; the server re-queues a job whose connection was lost.
      log(`job ${job.handle}: ${messageFor(error)}`);
      if (!job.settled) await job.exception(messageFor(error)).catch(() => {});
    }
  };

  const running = new Set<Promise<void>>();
  let received = 0;
  try {
    for await (const job of worker) {
      received++;
      const run: Promise<void> = runJob(job).finally(() => running.delete(run));
      running.add(run);
      if (received >= maxJobs) break; // stops grabbing; the jobs held still finish
    }
    await Promise.all(running);
    await worker.close({ timeout: grace });
  } finally {
    io.signals.off('SIGINT', onSignal);
    io.signals.off('SIGTERM', onSignal);
  }
  const cause = await worker.closed;
  if (signals > 1) return EXIT.INTERRUPTED;
  if (signals === 0 && received < maxJobs && cause !== undefined) {
    throw new CliError(EXIT.CONNECTION, `worker stopped: ${messageFor(cause)}`, { cause });
  }
  return EXIT.OK;
}

/** Reports connection trouble on stderr until the worker closes. */
async function watchConnections(
  worker: Worker,
  log: (line: string) => void,
  verbose: boolean,
): Promise<void> {
  let trouble = false;
  for await (const event of worker.status()) {
    switch (event.type) {
      case 'connect':
        if (trouble || verbose) log(`${event.server}: connected`);
        trouble = false;
        break;
      case 'disconnect':
        trouble = true;
        log(
          `${event.server}: connection lost${event.error === undefined ? '' : ` (${messageFor(event.error)})`}; reconnecting`,
        );
        break;
      case 'reconnecting':
        if (event.attempt === 1 || verbose) {
          log(`${event.server}: cannot connect (${messageFor(event.error)}); retrying`);
        }
        trouble = true;
        break;
      case 'give-up':
        log(`${event.server}: giving up (${messageFor(event.error)})`);
        break;
      case 'grab-refused':
        log(
          `${event.server}: refused ${event.packet}${event.fallback === undefined ? '' : `; using ${event.fallback}`}`,
        );
        break;
      case 'suspect':
        log(`${event.server}: no reply for ${event.silentFor} ms; grabbing from other servers`);
        break;
      case 'responsive':
        log(`${event.server}: answering again`);
        break;
      case 'report-refused':
        if (verbose) log(`${event.server}: refused a report (${event.code}: ${event.message})`);
        break;
    }
  }
}
