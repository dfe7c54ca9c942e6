import type { WorkerState } from './worker-types.js';

/**
 * The worker's lifecycle: `running` until `close()` or `destroy()`, `draining` while jobs in
 * flight finish, then `closed`; with the promises that announce its start and its end.
 */
export class Lifecycle {
  state: WorkerState = 'running';
  /** Resolves once the worker is closed, with the cause. Never rejects. */
  readonly closed: Promise<Error | undefined>;
  /** Resolves once every server has connected or failed its first attempt, or on close. */
  readonly started: Promise<void>;
  /** The graceful close under way, once `close()` was called. */
  closing: Promise<void> | undefined;
  #startPending: number;
  #resolveStarted!: () => void;
  #resolveClosed!: (cause: Error | undefined) => void;
  #idle: (() => void) | undefined;

  /** `servers`: how many servers must connect or fail once before the worker has started. */
  constructor(servers: number) {
    this.#startPending = servers;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.started = new Promise((resolve) => {
      this.#resolveStarted = resolve;
    });
  }

  /** True while the worker takes new jobs. */
  get running(): boolean {
    return this.state === 'running';
  }

  /** One server connected or failed its first attempt. */
  serverStarted(): void {
    if (--this.#startPending === 0) this.#resolveStarted();
  }

  /** Resolves once `idle()` is called, or after `timeout` ms. */
  whenIdle(timeout: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeout);
      this.#idle = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      this.#idle = undefined;
    });
  }

  /** No job is in flight any more. */
  idle(): void {
    this.#idle?.();
  }

  /** The worker is closed, with `cause` (undefined after `close()`). */
  finish(cause: Error | undefined): void {
    this.state = 'closed';
    this.#idle?.();
    this.#resolveStarted();
    this.#resolveClosed(cause);
  }
}
