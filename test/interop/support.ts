/**
 * Runs the other languages' Gearman programs for the interop tests: the PHP and Perl scripts in
 * this directory and the C library's `gearman` command-line tool.
 *
 * Every program runs under `timeout(1)`, which puts it in a process group of its own and bounds
 * its lifetime even if this process is SIGKILLed. `cleanup()` (call it in `afterEach`) and an
 * 'exit' hook kill whatever group is still alive, so no test leaves a process behind.
 *
 * The scripts print one JSON object per line; `ForeignProcess.events` collects them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Client, createClient } from '@gearmanode/client';
import { createWorker, type JobHandler, type Worker } from '@gearmanode/worker';
import { type RawConnection, rawConnect, waitFor, withTimeout } from '../helpers.js';

/** The job server under test, as `inject('gearman')` provides it. */
export interface Server {
  host: string;
  port: number;
}

/** One line of JSON a script printed; binary fields are base64 (decode with {@link bytes}). */
export interface ScriptEvent {
  event: string;
  [field: string]: unknown;
}

/** How a process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A program of another language, running. */
export interface ForeignProcess {
  /** The command line, for messages. */
  readonly command: string;
  readonly pid: number;
  /** The JSON lines printed so far, in order (lines that are not JSON are left out). */
  readonly events: readonly ScriptEvent[];
  /** Resolves once the process has exited. */
  readonly exited: Promise<Exit>;
  /** Everything written to stdout so far. */
  stdout(): Buffer;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the first event matching `what` (an event name or a predicate). */
  waitForEvent(
    what: string | ((event: ScriptEvent) => boolean),
    timeout?: number,
  ): Promise<ScriptEvent>;
  /** Stops the program and everything it started; resolves once it has exited. */
  kill(): Promise<Exit>;
  /** The command, exit status and output, to make a failed assertion readable. */
  describe(): string;
}

/** A finished run of a program: its exit status and output. */
export interface ForeignResult extends Exit {
  readonly command: string;
  readonly events: readonly ScriptEvent[];
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Options of {@link spawnForeign}. */
export interface SpawnOptions {
  /** Bytes for stdin; stdin is closed after them (or at once without). */
  stdin?: Uint8Array | string;
  /** Hard limit on the process's life in ms, enforced by timeout(1). @default 120_000 */
  lifetime?: number;
}

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

/** The scripts this directory holds. */
const SCRIPTS = {
  phpClient: here('./php/client.php'),
  phpWorker: here('./php/worker.php'),
  perlClient: here('./perl/client.pl'),
  perlWorker: here('./perl/worker.pl'),
} as const;

const live = new Set<ForeignProcess>();
const tempDirs: string[] = [];

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is gone already.
  }
}

process.once('exit', () => {
  for (const child of live) killGroup(child.pid);
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

const deferred: (() => Promise<unknown>)[] = [];

/** Runs `step` in the next {@link cleanup}, before the programs are killed. */
export function defer(step: () => Promise<unknown>): void {
  deferred.push(step);
}

/**
 * Closes our clients and workers (in reverse order), kills every program still running and
 * removes the payload files. Use in `afterEach`.
 */
export async function cleanup(): Promise<void> {
  for (const step of deferred.splice(0).reverse()) await step();
  await Promise.all([...live].map((child) => child.kill()));
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Parses the complete lines of `text` that are JSON objects with an `event` field. */
function parseEvents(text: string): ScriptEvent[] {
  const events: ScriptEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value === 'object' && value !== null && 'event' in value) {
        events.push(value as ScriptEvent);
      }
    } catch {
      // Not JSON after all (a library's own output): not an event.
    }
  }
  return events;
}

/** Starts `command args...` in its own process group and returns at once. */
function spawnForeign(
  command: string,
  args: readonly string[],
  { stdin, lifetime = 120_000 }: SpawnOptions = {},
): ForeignProcess {
  const seconds = String(Math.ceil(lifetime / 1000));
  // timeout(1) makes itself the leader of a new process group: killing -pid reaches the
  // program and anything it started (the gearman CLI runs a command per job).
  const child: ChildProcess = spawn('timeout', ['-s', 'KILL', seconds, command, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const pid = child.pid ?? -1;
  const chunks: Buffer[] = [];
  let stderr = '';
  let pending = ''; // stdout text after the last newline
  const events: ScriptEvent[] = [];
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const waiter of waiters) waiter();
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    pending += chunk.toString('latin1');
    const newline = pending.lastIndexOf('\n');
    if (newline !== -1) {
      events.push(...parseEvents(pending.slice(0, newline)));
      pending = pending.slice(newline + 1);
      wake();
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  // EPIPE when the program exits without reading all of stdin: its exit says what happened.
  child.stdin?.on('error', () => {});
  child.stdin?.end(stdin === undefined ? undefined : Buffer.from(stdin));

  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    const done = (result: Exit): void => {
      exit = result;
      live.delete(foreign);
      wake();
      resolve(result);
    };
    child.once('error', (error) => {
      stderr += `\nspawn failed: ${error.message}`;
      done({ code: null, signal: null });
    });
    // 'close', not 'exit': by then stdout has been read to the end.
    child.once('close', (code, signal) => done({ code, signal }));
  });

  const commandLine = [command, ...args].join(' ');
  const describe = (): string => {
    const status =
      exit === undefined ? 'running' : `exited with code ${exit.code}, signal ${exit.signal}`;
    const out = Buffer.concat(chunks).toString('utf8');
    const cut = (text: string): string => (text.length > 4000 ? `…${text.slice(-4000)}` : text);
    return `${commandLine}\n(${status})\n--- stdout\n${cut(out)}\n--- stderr\n${cut(stderr)}`;
  };

  const foreign: ForeignProcess = {
    command: commandLine,
    pid,
    events,
    exited,
    stdout: () => Buffer.concat(chunks),
    stderr: () => stderr,
    async waitForEvent(what, timeout = 15_000) {
      const match = typeof what === 'string' ? (e: ScriptEvent) => e.event === what : what;
      const deadline = Date.now() + timeout;
      for (;;) {
        const found = events.find(match);
        if (found !== undefined) return found;
        if (exit !== undefined || Date.now() >= deadline) {
          const why = exit !== undefined ? 'the process exited' : `${timeout} ms passed`;
          throw new Error(
            `no ${String(typeof what === 'string' ? what : 'matching')} event (${why}): ${describe()}`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(finish, deadline - Date.now());
          function finish(): void {
            clearTimeout(timer);
            waiters.delete(finish);
            resolve();
          }
          waiters.add(finish);
        });
      }
    },
    async kill() {
      if (exit === undefined) {
        // timeout(1) passes SIGTERM on to its process group and reaps the program, so nothing
        // is left as a zombie; SIGKILL the group if that does not end it.
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // Exited meanwhile.
        }
        const timer = setTimeout(() => killGroup(pid), 2_000);
        await exited;
        clearTimeout(timer);
      }
      return exited;
    },
    describe,
  };
  if (pid !== -1) live.add(foreign);
  return foreign;
}

/**
 * Runs `command args...` to completion and resolves with its exit status and output. When it
 * has not exited after `timeout` ms it is killed and the promise rejects with its output.
 */
async function runForeign(
  command: string,
  args: readonly string[],
  { timeout = 20_000, stdin }: { timeout?: number; stdin?: Uint8Array | string } = {},
): Promise<ForeignResult> {
  const child = spawnForeign(command, args, { stdin, lifetime: timeout + 5_000 });
  let exit: Exit;
  try {
    exit = await withTimeout(child.exited, timeout, child.command);
  } catch (error) {
    await child.kill();
    throw new Error(`${(error as Error).message}\n${child.describe()}`);
  }
  return {
    ...exit,
    command: child.command,
    events: child.events,
    stdout: child.stdout(),
    stderr: child.stderr(),
  };
}

/** Decodes a base64 field of a script event. */
export function bytes(event: ScriptEvent | undefined, field = 'data'): Buffer {
  const value = event?.[field];
  if (typeof value !== 'string') {
    throw new Error(`event has no string field ${field}: ${JSON.stringify(event)}`);
  }
  return Buffer.from(value, 'base64');
}

/** The events of a run without the bookkeeping ones, for `toEqual` on the whole sequence. */
export function jobEvents(events: readonly ScriptEvent[]): ScriptEvent[] {
  const bookkeeping = new Set(['exit', 'finished', 'ready']);
  return events.filter((event) => !bookkeeping.has(event.event));
}

/** Writes `payload` to a temporary file (removed by `cleanup()`) and returns its path. */
export function payloadFile(payload: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), 'gearman-interop-'));
  tempDirs.push(dir);
  const path = join(dir, 'payload.bin');
  writeFileSync(path, payload);
  return path;
}

/** Every byte value 0…255 twice, with zero bytes leading, inside and trailing. */
export function allByteValues(): Buffer {
  const ascending = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  return Buffer.concat([ascending, Buffer.from(ascending).reverse()]);
}

type Flags = Record<string, string | number | boolean | undefined>;

/** `{ function: 'f', exceptions: true }` → `['--function=f', '--exceptions']`. */
function toFlags(server: Server, flags: Flags): string[] {
  const all: Flags = { host: server.host, port: server.port, ...flags };
  return Object.entries(all).flatMap(([name, value]) => {
    if (value === undefined || value === false) return [];
    return value === true ? [`--${name}`] : [`--${name}=${value}`];
  });
}

/** Options of the PHP and Perl client scripts; see the top of each script. */
export interface ClientScriptOptions extends Flags {
  function?: string;
  mode?: 'task' | 'do' | 'background' | 'status';
  priority?: 'high' | 'normal' | 'low';
  unique?: string;
  payload?: string;
  'payload-file'?: string;
  /** Perl only: ask for WORK_EXCEPTION (libgearman, under PHP, always does). */
  exceptions?: boolean;
  handle?: string;
  timeout?: number;
}

/** Options of the PHP and Perl worker scripts; see the top of each script. */
export interface WorkerScriptOptions extends Flags {
  function: string;
  mode?: string;
  count?: number;
  delay?: number;
  tag?: string;
}

/** Runs the PHP client script (GearmanClient) to completion. */
export function phpClient(
  server: Server,
  options: ClientScriptOptions,
  timeout = 20_000,
): Promise<ForeignResult> {
  return runForeign('php', [SCRIPTS.phpClient, ...toFlags(server, options)], { timeout });
}

/** Starts the PHP worker script (GearmanWorker). */
export function phpWorker(server: Server, options: WorkerScriptOptions): ForeignProcess {
  return spawnForeign('php', [SCRIPTS.phpWorker, ...toFlags(server, options)]);
}

/** Runs the Perl client script (Gearman::Client) to completion. */
export function perlClient(
  server: Server,
  options: ClientScriptOptions,
  timeout = 20_000,
): Promise<ForeignResult> {
  return runForeign('perl', [SCRIPTS.perlClient, ...toFlags(server, options)], { timeout });
}

/** Starts the Perl worker script (Gearman::Worker). */
export function perlWorker(server: Server, options: WorkerScriptOptions): ForeignProcess {
  return spawnForeign('perl', [SCRIPTS.perlWorker, ...toFlags(server, options)]);
}

/** Arguments that point the `gearman` tool at `server`. */
function gearmanArgs(server: Server): string[] {
  return ['-h', server.host, '-p', String(server.port)];
}

/**
 * Runs the `gearman` tool as a client: `gearman -h H -p P <args>`. Payloads go in as arguments
 * after `--`, or on stdin (binary-safe).
 */
export function gearmanClient(
  server: Server,
  args: readonly string[],
  { stdin, timeout = 20_000 }: { stdin?: Uint8Array; timeout?: number } = {},
): Promise<ForeignResult> {
  return runForeign('gearman', [...gearmanArgs(server), ...args], { stdin, timeout });
}

/**
 * Starts the `gearman` tool as a worker: `gearman -w -h H -p P -f <fn> <args>`, which runs the
 * command after `--` per job with the payload on stdin and sends its stdout back.
 */
export function gearmanWorker(
  server: Server,
  fn: string,
  args: readonly string[] = [],
): ForeignProcess {
  return spawnForeign('gearman', ['-w', ...gearmanArgs(server), '-f', fn, ...args]);
}

async function adminCommand(server: Server, command: string): Promise<string[]> {
  const connection: RawConnection = await rawConnect(server.host, server.port);
  try {
    await connection.write(`${command}\r\n`);
    const lines: string[] = [];
    for (;;) {
      const line = await connection.readLine(5_000);
      if (line === '.') return lines;
      lines.push(line);
    }
  } finally {
    await connection.close();
  }
}

/** The admin `status` row of `fn`: jobs queued (total), running, and workers registered. */
export async function functionStatus(
  server: Server,
  fn: string,
): Promise<{ total: number; running: number; workers: number }> {
  for (const line of await adminCommand(server, 'status')) {
    const [name, total, running, workers] = line.split('\t');
    if (name === fn)
      return { total: Number(total), running: Number(running), workers: Number(workers) };
  }
  return { total: 0, running: 0, workers: 0 };
}

/** Resolves once at least `count` workers have registered `fn` with the server. */
export async function waitForWorkers(server: Server, fn: string, count = 1): Promise<void> {
  await waitFor(async () => (await functionStatus(server, fn)).workers >= count, {
    timeout: 15_000,
    interval: 25,
    what: `${count} worker(s) registered for ${fn}`,
  });
}

/** `host:port` of the server, as our packages take it. */
export function address(server: Server): string {
  return `${server.host}:${server.port}`;
}

/** Our client, closed by {@link cleanup}. */
export async function ourClient(server: Server): Promise<Client> {
  const client = await createClient({ servers: [address(server)] });
  defer(() => client.close({ timeout: 1_000 }));
  return client;
}

/**
 * Our worker running `handler` for `fn` (up to `concurrency` jobs at once), registered with the
 * server by the time this resolves; closed by {@link cleanup}.
 */
export async function ourWorker(
  server: Server,
  fn: string,
  handler: JobHandler,
  { concurrency = 1 }: { concurrency?: number } = {},
): Promise<Worker> {
  const worker = await createWorker({ servers: [address(server)], functions: [fn], concurrency });
  defer(() => worker.close({ timeout: 1_000 }));
  void worker.process(handler);
  await waitForWorkers(server, fn);
  return worker;
}
