import type { Pending } from './session.js';

/** What the watchdog of one socket looks at and acts on. */
export interface WatchedLink {
  /** The oldest request awaiting its reply. */
  readonly head: Pending | undefined;
  /** Whether bytes arrived since the previous call. */
  received(): boolean;
  /** Whether the link has been found suspect since bytes last arrived. */
  readonly suspect: boolean;
  /** The link owes replies and has been silent for `silentFor` ms (at least `suspectAfter`). */
  suspected(silentFor: number): void;
  /** A reply is overdue: the reply order can no longer be trusted. */
  late(pending: Pending, heartbeat: boolean): void;
  /** Writes an ECHO_REQ now and returns its FIFO entry. */
  echo(): Pending;
}

/**
 * One timer per socket instead of one per request: it checks the oldest reply's deadline, finds
 * a server that owes replies and has been silent for `suspectAfter` ms (suspect, long before its
 * deadline), and sends an ECHO_REQ after `interval` ms of silence to find a dead link that TCP
 * has not noticed.
 *
 * Silence is measured in ticks: the link only notes that bytes arrived, and the tick that sees
 * it takes its own time as the last receive. That reads the clock once per tick instead of once
 * per read, and errs towards a shorter silence: a link is found silent at most one tick later.
 */
export class Heartbeat {
  readonly #requestTimeout: number;
  readonly #interval: number;
  readonly #suspectAfter: number;
  #timer: NodeJS.Timeout | undefined;
  #echo: Pending | undefined;
  /** When bytes last arrived (ms since the epoch), to the tick. */
  #lastReceive = 0;

  constructor(requestTimeout: number, interval: number, suspectAfter = 0) {
    this.#requestTimeout = requestTimeout;
    this.#interval = interval;
    this.#suspectAfter = suspectAfter;
  }

  start(link: WatchedLink): void {
    this.stop();
    const off = Number.POSITIVE_INFINITY;
    const watch = Math.min(this.#requestTimeout, this.#interval || off, this.#suspectAfter || off);
    const period = Math.max(25, Math.min(1000, Math.floor(watch / 4)));
    this.#lastReceive = Date.now();
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
    if (link.received()) this.#lastReceive = now;
    const lastReceive = this.#lastReceive;
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
    const suspectAfter = this.#suspectAfter;
    if (suspectAfter > 0 && head?.written && !link.suspect) {
      // Silent since the later of the last bytes and the oldest request's write: a server
      // that was merely not asked anything is not suspect.
      const silentFor = now - Math.max(lastReceive, head.sent);
      if (silentFor >= suspectAfter) link.suspected(silentFor);
    }
    const interval = this.#interval;
    if (interval > 0 && echo === undefined && now - lastReceive >= interval) {
      const pending = link.echo();
      this.#echo = pending;
      // Answered within the interval itself (at least a second, at most requestTimeout), a dead
      // link shows within twice the heartbeat; a short interval must not make a slow link "dead".
      pending.deadline = now + Math.min(this.#requestTimeout, Math.max(interval, 1000));
    }
  }
}
