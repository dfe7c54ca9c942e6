/** A driver child process, read as a stream of protocol messages. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type DriverMessage, parseMessage } from './driver-protocol.ts';

const STDERR_LIMIT = 4096;

type Waiter = {
  type: DriverMessage['type'];
  resolve: (message: DriverMessage) => void;
  reject: (error: Error) => void;
};

/** Spawns a driver and hands out its messages by type. */
export class DriverProcess {
  readonly #child: ChildProcess;
  readonly #label: string;
  readonly #messages: DriverMessage[] = [];
  #waiter: Waiter | undefined;
  #stderr = '';
  #exit: string | undefined;
  readonly exited: Promise<void>;

  constructor(label: string, command: readonly string[], cwd: string) {
    const [file, ...args] = command;
    this.#label = label;
    this.#child = spawn(file!, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      const message = parseMessage(line);
      if (message !== undefined) this.#deliver(message);
    });
    this.#child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-STDERR_LIMIT);
    });
    this.exited = new Promise((resolve) => {
      this.#child.once('error', (error) => {
        this.#exit = `could not start: ${error.message}`;
        this.#fail();
        resolve();
      });
      this.#child.once('exit', (code, signal) => {
        this.#exit = `exited with ${signal ?? `code ${code}`}`;
        this.#fail();
        resolve();
      });
    });
  }

  /** The pid, for /proc readings. */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /**
   * Resolves with the next message of `type`. Rejects when the driver reports an error,
   * exits first, or `timeoutMs` passes.
   */
  next<T extends DriverMessage['type']>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<DriverMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(this.#error(`no '${type}' message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = {
        type,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message as Extract<DriverMessage, { type: T }>);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#drain();
    });
  }

  /** Closes stdin (a worker's cue to exit), then kills the process if it has not exited soon. */
  async stop(graceMs = 2000): Promise<void> {
    this.#child.stdin?.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  #deliver(message: DriverMessage): void {
    this.#messages.push(message);
    this.#drain();
  }

  #drain(): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    const error = this.#messages.find((m) => m.type === 'error');
    if (error !== undefined && error.type === 'error') {
      this.#waiter = undefined;
      waiter.reject(this.#error(`reported: ${error.message}`));
      return;
    }
    const index = this.#messages.findIndex((m) => m.type === waiter.type);
    if (index >= 0) {
      this.#waiter = undefined;
      waiter.resolve(this.#messages.splice(index, 1)[0]!);
    } else if (this.#exit !== undefined) {
      this.#fail();
    }
  }

  #fail(): void {
    const waiter = this.#waiter;
    if (waiter === undefined || this.#messages.some((m) => m.type === waiter.type)) return;
    this.#waiter = undefined;
    waiter.reject(this.#error(this.#exit ?? 'exited'));
  }

  #error(what: string): Error {
    // The last lines that say something: no stack frames, no Node version banner.
    const tail = this.#stderr
      .split('\n')
      .filter(
        (line) => line.trim() !== '' && !/^\s+at /.test(line) && !line.startsWith('Node.js v'),
      )
      .slice(-3)
      .join('\n');
    return new Error(`${this.#label} ${what}${tail ? `\n${tail}` : ''}`);
  }
}
