import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Options for {@link startGearmand}. */
export interface GearmandOptions {
  /** Extra command-line arguments, e.g. `['--job-retries', '2']`. */
  args?: readonly string[];
  /**
   * Path to the gearmand binary. @default the first C gearmand (by its `--version`) of
   * /usr/sbin, PATH, /usr/local/sbin
   */
  binary?: string;
  /** Port to listen on. @default a free port picked on 127.0.0.1 */
  port?: number;
  /** How long to wait until gearmand accepts connections. @default 10_000 */
  startTimeout?: number;
  /** How long `stop()` waits after SIGTERM before sending SIGKILL. @default 5_000 */
  stopTimeout?: number;
}

/** A gearmand child process listening on 127.0.0.1. */
export interface GearmandInstance extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** The pid of the current process; it changes on `restart()`. */
  readonly pid: number;
  /** Whether the process is running (false after `stop()`, `kill()` or a crash). */
  readonly running: boolean;
  /** The arguments gearmand was started with. */
  readonly args: readonly string[];
  /** Everything gearmand wrote to stdout and stderr (the last 64 KiB), for diagnostics. */
  output(): string;
  /** SIGTERM, then SIGKILL after `stopTimeout`; resolves once the process has exited. */
  stop(): Promise<void>;
  /** SIGKILL now; resolves once the process has exited. */
  kill(): Promise<void>;
  /** Stops the process if it is running, starts it again on the same port with the same args. */
  restart(): Promise<void>;
  /** Same as `stop()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const HOST = '127.0.0.1';
const OUTPUT_LIMIT = 64 * 1024;
const SEARCH_DIRS = ['/usr/sbin', '/usr/local/sbin'];

// Every live gearmand, with its watchdog. The 'exit' hook kills both when this process ends
// normally. The watchdog, a shell blocked reading a pipe from this process, kills gearmand when
// this process dies any other way (a signal, or SIGKILL from a test runner): the pipe closes.
const children = new Map<ChildProcess, ChildProcess>();

function killChildren(): void {
  for (const [child, watchdog] of children) {
    child.kill('SIGKILL');
    watchdog.kill('SIGKILL');
  }
  children.clear();
}

let exitHookInstalled = false;

function spawnWatchdog(pid: number): ChildProcess {
  // Deaf to Ctrl-C and friends, so that it outlives this process whatever signal ends it.
  const script = `trap '' INT TERM HUP; read _; kill -9 ${pid} 2>/dev/null`;
  const watchdog = spawn('/bin/sh', ['-c', script], { stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog.unref();
  (watchdog.stdin as Socket | null)?.unref();
  return watchdog;
}

/** What `--version` says about a program that calls itself gearmand. */
export interface GearmandVersion {
  /** The C gearmand (gearman-job-server): `gearmand 1.1.20+ds - https://…`. */
  readonly c: boolean;
  /** The first line of its `--version` output, or why there was none. */
  readonly line: string;
}

/**
 * Runs `binary --version`. The C gearmand prints `gearmand 1.1.20+ds - https://…`; the Perl
 * Gearman::Server (Debian's gearman-server, which installs /usr/bin/gearmand) prints
 * `Gearman::Server v1.130.1`.
 */
export function gearmandVersion(binary: string): GearmandVersion {
  let output: string;
  try {
    output = execFileSync(binary, ['--version'], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    return { c: false, line: `--version failed: ${(error as Error).message.split('\n')[0]}` };
  }
  const line = output.trim().split('\n')[0]?.trim() ?? '';
  return { c: /^gearmand \d+\.\d+/.test(line), line: line || '(no output)' };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const found = new Map<string, string>();

/**
 * Finds the C gearmand, or throws an error that says how to install it. Every `gearmand` found
 * is asked for its `--version`, since another server may go by that name (Debian's
 * gearman-server installs the Perl Gearman::Server as /usr/bin/gearmand, and scripts/test.sh
 * puts node's directory, often /usr/bin, first in PATH). /usr/sbin, where Debian puts the C
 * server, is tried first.
 */
export function findGearmand(binary?: string): string {
  const key = binary ?? '';
  const cached = found.get(key);
  if (cached !== undefined) return cached;
  const dirs = [SEARCH_DIRS[0] as string, ...(process.env.PATH ?? '').split(delimiter)];
  const candidates =
    binary !== undefined
      ? [binary]
      : [...new Set([...dirs, ...SEARCH_DIRS].filter(Boolean).map((dir) => join(dir, 'gearmand')))];
  const others: string[] = [];
  for (const candidate of candidates) {
    if (!isExecutable(candidate)) continue;
    const version = gearmandVersion(candidate);
    if (version.c) {
      found.set(key, candidate);
      return candidate;
    }
    others.push(`${candidate} (${version.line})`);
  }
  const install =
    'the integration tests need the C gearmand: install it with `apt-get install ' +
    'gearman-job-server` (Debian/Ubuntu), or set GEARMAN_URL=host:port to use a running server';
  if (others.length > 0) {
    throw new Error(
      `no C gearmand found; only another server goes by that name: ${others.join(', ')}; ${install}`,
    );
  }
  throw new Error(`gearmand not found (looked for ${candidates.join(', ')}); ${install}`);
}

/** Resolves with a TCP port on `host` that was free a moment ago. */
export function freePort(host = HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error(`could not read the port of ${String(address)}`));
      });
    });
  });
}

type Probe = { kind: 'ours' } | { kind: 'refused' } | { kind: 'other'; detail: string };

/**
 * How to run one kind of job server: the command, and the admin text command whose first
 * answer line tells our process apart from another one on the port.
 */
export interface ServerLaunch {
  /** For messages: `gearmand`, `Gearman::Server`. */
  readonly name: string;
  readonly command: string;
  /** The arguments for `port`; `dir` is a private temporary directory (pid files, logs). */
  args(port: number, dir: string): string[];
  readonly env?: NodeJS.ProcessEnv;
  /** The admin command sent to the port, with its line ending. */
  readonly probe: string;
  /** Whether the probe's first answer line comes from the process with this pid. */
  isOurs(line: string, pid: number): boolean;
}

/**
 * Asks whatever listens on host:port the launch's probe (gearmand: `getpid`), so that a port
 * taken by another process between freePort() and spawn is told apart from our server being
 * ready.
 */
function probe(host: string, port: number, pid: number, launch: ServerLaunch): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let received = '';
    const done = (result: Probe): void => {
      socket.destroy();
      resolve(result);
    };
    const command = launch.probe.trim();
    socket.setTimeout(1000, () => done({ kind: 'other', detail: `no answer to ${command}` }));
    socket.on('connect', () => socket.write(launch.probe));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const newline = received.indexOf('\n');
      if (newline === -1) return;
      const line = received.slice(0, newline).trim();
      done(launch.isOurs(line, pid) ? { kind: 'ours' } : { kind: 'other', detail: line });
    });
    socket.on('error', (error: NodeJS.ErrnoException) =>
      done(
        error.code === 'ECONNREFUSED'
          ? { kind: 'refused' }
          : { kind: 'other', detail: error.message },
      ),
    );
    socket.on('end', () => done({ kind: 'other', detail: 'connection closed' }));
  });
}

class PortTakenError extends Error {
  override readonly name = 'PortTakenError';
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The C gearmand's launch: one thread, errors only, on 127.0.0.1. */
function gearmandLaunch(binary: string, extra: readonly string[]): ServerLaunch {
  return {
    name: 'gearmand',
    command: binary,
    args: (port, dir) => [
      '--listen',
      HOST,
      '--port',
      String(port),
      '--log-file',
      'stderr',
      '--pid-file',
      join(dir, 'gearmand.pid'),
      '--threads',
      '1',
      '--verbose',
      'ERROR',
      ...extra,
    ],
    probe: 'getpid\r\n',
    isOurs: (line, pid) => line === `OK ${pid}`,
  };
}

class ServerProcess implements GearmandInstance {
  readonly host = HOST;
  readonly port: number;
  readonly args: readonly string[];
  readonly #launch: ServerLaunch;
  readonly #dir: string;
  readonly #options: Required<Pick<GearmandOptions, 'startTimeout' | 'stopTimeout'>>;
  #child: ChildProcess | undefined;
  #exited: Promise<Exit> = Promise.resolve({ code: null, signal: null });
  #output = '';

  constructor(launch: ServerLaunch, port: number, options: GearmandOptions) {
    this.#launch = launch;
    this.port = port;
    this.#dir = mkdtempSync(join(tmpdir(), 'gearmand-'));
    this.#options = {
      startTimeout: options.startTimeout ?? 10_000,
      stopTimeout: options.stopTimeout ?? 5_000,
    };
    this.args = launch.args(port, this.#dir);
  }

  get pid(): number {
    return this.#child?.pid ?? -1;
  }

  get running(): boolean {
    return this.#child !== undefined && children.has(this.#child);
  }

  output(): string {
    return this.#output;
  }

  async start(): Promise<void> {
    mkdirSync(this.#dir, { recursive: true });
    const child = spawn(this.#launch.command, this.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: this.#launch.env ?? process.env,
    });
    this.#child = child;
    if (child.pid !== undefined) {
      if (!exitHookInstalled) process.on('exit', killChildren);
      exitHookInstalled = true;
      children.set(child, spawnWatchdog(child.pid));
    }
    // Unreferenced so that a test which forgets stop() cannot hang the test process; the
    // 'exit' hook above kills the server when that process ends.
    child.unref();
    for (const stream of [child.stdout, child.stderr] as (Socket | null)[]) {
      stream?.on('data', (chunk: Buffer) => {
        this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
      });
      stream?.unref();
    }
    this.#exited = new Promise<Exit>((resolve) => {
      child.once('error', (error) => {
        this.#output += `\nspawn failed: ${error.message}`;
        children.delete(child);
        resolve({ code: null, signal: null });
      });
      child.once('exit', (code, signal) => {
        children.get(child)?.kill('SIGKILL');
        children.delete(child);
        resolve({ code, signal });
      });
    });
    await this.#waitUntilReady(child);
  }

  async #waitUntilReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + this.#options.startTimeout;
    let exit: Exit | undefined;
    void this.#exited.then((result) => {
      exit = result;
    });
    while (Date.now() < deadline) {
      if (exit !== undefined) {
        throw new Error(
          `${this.#launch.name} exited during startup (code ${exit.code}, signal ${exit.signal}) on ` +
            `${this.host}:${this.port}:\n${this.#output.trim() || '(no output)'}`,
        );
      }
      const result = await probe(this.host, this.port, child.pid ?? -1, this.#launch);
      if (result.kind === 'ours') return;
      if (result.kind === 'other') {
        // Give a crashing gearmand the chance to report its own error instead.
        await sleep(50);
        if (exit === undefined) {
          await this.kill();
          throw new PortTakenError(
            `port ${this.port} is in use by another process (${result.detail})`,
          );
        }
        continue;
      }
      await sleep(25);
    }
    await this.kill();
    throw new Error(
      `${this.#launch.name} did not accept connections on ${this.host}:${this.port} within ` +
        `${this.#options.startTimeout} ms:\n${this.#output.trim() || '(no output)'}`,
    );
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !children.has(child)) return this.#cleanup();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), this.#options.stopTimeout);
    await this.#exited;
    clearTimeout(timer);
    this.#cleanup();
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (child !== undefined && children.has(child)) child.kill('SIGKILL');
    // A referenced timer keeps the event loop alive until the unreferenced child has exited.
    const keepAlive = setInterval(() => {}, 1000);
    await this.#exited;
    clearInterval(keepAlive);
    this.#cleanup();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  #cleanup(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/**
 * Starts gearmand on 127.0.0.1 and resolves once it answers on its port.
 *
 * Without `options.port` a free port is picked; gearmand cannot listen on port 0 and report
 * the port back, so a port that gets taken before gearmand binds it is retried with a new one.
 * Rejects when gearmand is not installed, exits during startup (the message includes its
 * output), or does not answer within `startTimeout`.
 *
 * @example
 * await using server = await startGearmand({ args: ['--job-retries', '2'] });
 * await server.kill();
 * await server.restart();
 */
export async function startGearmand(options: GearmandOptions = {}): Promise<GearmandInstance> {
  return await startServer(
    gearmandLaunch(findGearmand(options.binary), options.args ?? []),
    options,
  );
}

/**
 * Starts the server `launch` describes on 127.0.0.1 and resolves once it answers its probe;
 * `options.args` and `options.binary` are the launch's business, the rest applies as for
 * {@link startGearmand}.
 */
export async function startServer(
  launch: ServerLaunch,
  options: GearmandOptions = {},
): Promise<GearmandInstance> {
  const attempts = options.port === undefined ? 5 : 1;
  for (let attempt = 1; ; attempt++) {
    const server = new ServerProcess(launch, options.port ?? (await freePort()), options);
    try {
      await server.start();
      return server;
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= attempts) throw error;
    }
  }
}
