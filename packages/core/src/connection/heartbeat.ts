import type { Pending } from './session.js';

/** What the watchdog of one socket looks at and acts on. */
export interface WatchedLink {
  /** The oldest request awaiting its reply. */
  readonly head: Pending | undefined;
  /** When bytes last arrived (ms since the epoch). */
  readonly lastReceive: number;
  /** A reply is overdue: the reply order can no longer be trusted. */
  late(pending: Pending, heartbeat: boolean): void;
  /** Writes an ECHO_REQ now and returns its FIFO entry. */
  echo(): Pending;
}

/**
 * One timer per socket instead of one per request: it checks the oldest reply's deadline, and
 * sends an ECHO_REQ after `interval` ms of silence to find a dead link that TCP has not noticed.
 */
export class Heartbeat {
  readonly #requestTimeout: number;
  readonly #interval: number;
  #timer: NodeJS.Timeout | undefined;
  #echo: Pending | undefined;

  constructor(requestTimeout: number, interval: number) {
    this.#requestTimeout = requestTimeout;
    this.#interval = interval;
  }

  start(link: WatchedLink): void {
    this.stop();
    const watch = Math.min(this.#requestTimeout, this.#interval || Number.POSITIVE_INFINITY);
    const period = Math.max(25, Math.min(1000, Math.floor(watch / 4)));
    this.#timer = setInterval(() => this.#tick(link), period).unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#echo = undefined;
  }

  /** The echo was answered (or its socket is gone). */
  answered(pending: Pending): void {
    if (this.#echo === pending) this.#echo = undefined;
  }

  #tick(link: WatchedLink): void {
    const now = Date.now();
    const head = link.head;
    if (head?.written && head.deadline <= now) {
      link.late(head, head === this.#echo);
      return;
    }
    const echo = this.#echo;
    if (echo?.written && echo.deadline <= now) {
      link.late(echo, true);
      return;
    }
    const interval = this.#interval;
    if (interval > 0 && echo === undefined && now - link.lastReceive >= interval) {
      const pending = link.echo();
      this.#echo = pending;
      // Answered within the interval itself (at least a second, at most requestTimeout), a dead
      // link shows within twice the heartbeat; a short interval must not make a slow link "dead".
      pending.deadline = now + Math.min(this.#requestTimeout, Math.max(interval, 1000));
    }
  }
}
