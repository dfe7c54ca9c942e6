import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Options for {@link startGearmand}. */
export interface GearmandOptions {
  /** Extra command-line arguments, e.g. `['--job-retries', '2']`. */
  args?: readonly string[];
  /** Path to the gearmand binary. @default found in PATH, then /usr/sbin, /usr/local/sbin */
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

/** Finds the gearmand binary, or throws an error that says how to install it. */
function findGearmand(binary?: string): string {
  const candidates =
    binary !== undefined
      ? [binary]
      : [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SEARCH_DIRS].map((dir) =>
          join(dir, 'gearmand'),
        );
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not there or not executable: try the next candidate.
    }
  }
  throw new Error(
    `gearmand not found (looked for ${candidates.join(', ')}); the integration tests need a real ` +
      'gearmand: install it with `apt-get install gearman-job-server` (Debian/Ubuntu), ' +
      'or set GEARMAN_URL=host:port to use a running server',
  );
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
 * Asks whatever listens on host:port for its pid (admin command `getpid`), so that a port taken
 * by another process between freePort() and spawn is told apart from our gearmand being ready.
 */
function probe(host: string, port: number, pid: number): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let received = '';
    const done = (result: Probe): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1000, () => done({ kind: 'other', detail: 'no answer to getpid' }));
    socket.on('connect', () => socket.write('getpid\r\n'));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const newline = received.indexOf('\n');
      if (newline === -1) return;
      const line = received.slice(0, newline).trim();
      done(line === `OK ${pid}` ? { kind: 'ours' } : { kind: 'other', detail: line });
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

class Gearmand implements GearmandInstance {
  readonly host = HOST;
  readonly port: number;
  readonly args: readonly string[];
  readonly #binary: string;
  readonly #dir: string;
  readonly #options: Required<Pick<GearmandOptions, 'startTimeout' | 'stopTimeout'>>;
  #child: ChildProcess | undefined;
  #exited: Promise<Exit> = Promise.resolve({ code: null, signal: null });
  #output = '';

  constructor(binary: string, port: number, options: GearmandOptions) {
    this.#binary = binary;
    this.port = port;
    this.#dir = mkdtempSync(join(tmpdir(), 'gearmand-'));
    this.#options = {
      startTimeout: options.startTimeout ?? 10_000,
      stopTimeout: options.stopTimeout ?? 5_000,
    };
    this.args = [
      '--listen',
      HOST,
      '--port',
      String(port),
      '--log-file',
      'stderr',
      '--pid-file',
      join(this.#dir, 'gearmand.pid'),
      '--threads',
      '1',
      '--verbose',
      'ERROR',
      ...(options.args ?? []),
    ];
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
    const child = spawn(this.#binary, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
          `gearmand exited during startup (code ${exit.code}, signal ${exit.signal}) on ` +
            `${this.host}:${this.port}:\n${this.#output.trim() || '(no output)'}`,
        );
      }
      const result = await probe(this.host, this.port, child.pid ?? -1);
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
      `gearmand did not accept connections on ${this.host}:${this.port} within ` +
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
  const binary = findGearmand(options.binary);
  const attempts = options.port === undefined ? 5 : 1;
  for (let attempt = 1; ; attempt++) {
    const server = new Gearmand(binary, options.port ?? (await freePort()), options);
    try {
      await server.start();
      return server;
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= attempts) throw error;
    }
  }
}
