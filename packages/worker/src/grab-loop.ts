/**
 * The grab cycle of one server connection as a pure state machine
 * ([protocol.md section 5.2](https://github.com/gearmanode/gearmanode/blob/main/docs/protocol.md#52-getting-work)):
 *
 * ```
 *             connect                     demand and capacity() > 0: send GRAB
 *  offline ──────────► awake ◄──────────────────────────────────────────────┐
 *     ▲                  │ JOB_ASSIGN*: window doubles                      │
 *     │ disconnect       │ NO_JOB, no GRAB left in flight: send PRE_SLEEP   │
 *     └──── (any) ◄──    ▼                                                  │
 *                     sleeping ── NOOP, or pollInterval passed ─────────────┘
 * ```
 *
 * It does no I/O and reads no clock: the worker passes `now` in, sends the packets the methods
 * ask for, and calls `tick(now)` from its one shared timer. That keeps the hazards of gearmand
 * 1.1.20 testable without sockets:
 *
 * - A NOOP carries no job, and one may arrive at any time (one queued before a poll's GRAB,
 *   say): a NOOP while not sleeping is ignored.
 * - Epoch jobs that fall due wake no sleeping worker (section 11, item 26): a sleeping loop
 *   grabs again once `pollInterval` has passed.
 * - PRE_SLEEP is answered by NOOP at once while the server sees work, even work it will not hand
 *   out (item 26), so NOOP → GRAB → NO_JOB → PRE_SLEEP → NOOP can spin. After the second NOOP in
 *   a row that led to NO_JOB the loop defers acting on the next NOOP, doubling the delay each
 *   time up to `maxBackoff`. A job resets it.
 * - GRABs are pipelined: up to `window` may be in flight. The window starts at 1 and doubles
 *   with every job assigned (up to `maxWindow`), and drops back to 1 on NO_JOB, so a server
 *   that just woke up gets one GRAB, not a burst of GRABs that all come back NO_JOB.
 * - With `eagerPreSleep`, the GRAB that follows the first job of a wake (one job at a time: the
 *   server woke the worker for that one job) goes out with PRE_SLEEP right behind it, when it is
 *   the only GRAB in flight. The server answers the GRAB first: NO_JOB, and then takes the worker
 *   as sleeping, saving the PRE_SLEEP round trip; or a job, and then either answers NOOP at once
 *   (more work) or NOOPs later, a NOOP the awake loop ignores as stray. Any later GRAB cancels the
 *   PRE_SLEEP, for the server as for the loop. When that GRAB found the queue empty, the next
 *   wake's first job is followed by PRE_SLEEP alone (`sleepInstead()`), which spares the worker
 *   the NO_JOB; the wake after that probes with GRAB + PRE_SLEEP again, so a burst of queued
 *   work costs one extra round trip at most. Not for CAN_DO_TIMEOUT: PRE_SLEEP stops the timer
 *   of a job held (section 11, item 25).
 */
export type GrabState = 'offline' | 'awake' | 'sleeping';

/** Settings of a {@link GrabLoop}. */
export interface GrabLoopOptions {
  /** While sleeping, grab again after this many ms even without a NOOP. */
  pollInterval: number;
  /** The most GRABs in flight at once. */
  maxWindow: number;
  /** The first delay applied to a NOOP once the spin is detected, in ms. @default 10 */
  backoffBase?: number;
  /** The longest such delay, in ms. @default min(pollInterval, 1000) */
  maxBackoff?: number;
  /** Send PRE_SLEEP with the GRAB that follows a wake's first job; see the module comment. */
  eagerPreSleep?: boolean;
}

/** What the worker should send after a reply. */
export type GrabAction = 'none' | 'pre-sleep';

/** The grab cycle of one connection; see the module comment. */
export class GrabLoop {
  readonly #pollInterval: number;
  readonly #maxWindow: number;
  readonly #backoffBase: number;
  readonly #maxBackoff: number;
  readonly #eagerPreSleep: boolean;

  #state: GrabState = 'offline';
  #outstanding = 0;
  #window = 1;
  // A NO_JOB arrived since the loop last woke: send no more GRABs until it wakes again.
  #noJob = false;
  // The loop woke on a NOOP and has not had a reply since.
  #wokenByNoop = false;
  // NOOP wakes in a row that were answered by NO_JOB.
  #emptyWakes = 0;
  #sleptAt = 0;
  // While backing off, a NOOP is remembered and acted on at `#backoffUntil`.
  #backoffUntil = 0;
  #noopDeferred = false;
  // Jobs assigned since the loop last woke (or connected).
  #jobsSinceWake = 0;
  // PRE_SLEEP went out right behind the one GRAB in flight: its NO_JOB needs none.
  #preSleepSent = false;
  // The last GRAB sent with PRE_SLEEP was answered NO_JOB: the queue was empty then.
  #foundEmpty = false;

  constructor(options: GrabLoopOptions) {
    this.#pollInterval = options.pollInterval;
    this.#maxWindow = Math.max(1, options.maxWindow);
    this.#backoffBase = options.backoffBase ?? 10;
    this.#maxBackoff = options.maxBackoff ?? Math.min(options.pollInterval, 1000);
    this.#eagerPreSleep = options.eagerPreSleep === true;
  }

  get state(): GrabState {
    return this.#state;
  }

  /** GRABs sent and not yet answered. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** The most GRABs this loop lets be in flight right now. */
  get window(): number {
    return this.#window;
  }

  /** Whether a NOOP is being held back by the spin backoff. */
  get backingOff(): boolean {
    return this.#noopDeferred;
  }

  /** A new socket is ready (registrations already sent): start awake, with a window of 1. */
  connect(): void {
    this.#state = 'awake';
    this.#outstanding = 0;
    this.#window = 1;
    this.#noJob = false;
    this.#wokenByNoop = false;
    this.#emptyWakes = 0;
    this.#backoffUntil = 0;
    this.#noopDeferred = false;
    this.#jobsSinceWake = 0;
    this.#preSleepSent = false;
    this.#foundEmpty = false;
  }

  /** The socket is gone, and with it every GRAB in flight. */
  disconnect(): void {
    this.#state = 'offline';
    this.#outstanding = 0;
    this.#noopDeferred = false;
    this.#preSleepSent = false;
  }

  /** How many more GRABs may be sent now; the worker sends at most this many. */
  capacity(): number {
    if (this.#state !== 'awake' || this.#noJob) return 0;
    return this.#window > this.#outstanding ? this.#window - this.#outstanding : 0;
  }

  /** Whether `sleepInstead()` would put the loop to sleep now (asked first: it needs no clock). */
  get sleepsInstead(): boolean {
    return (
      this.#foundEmpty &&
      this.#jobsSinceWake === 1 &&
      this.#outstanding === 0 &&
      this.#state === 'awake'
    );
  }

  /**
   * Asked before a GRAB: returns true when the loop goes to sleep instead, and the worker sends
   * PRE_SLEEP and no GRAB (only with `eagerPreSleep`; see the module comment).
   */
  sleepInstead(now: number): boolean {
    if (!this.sleepsInstead) return false;
    this.#foundEmpty = false;
    this.#state = 'sleeping';
    this.#sleptAt = now;
    this.#window = 1;
    return true;
  }

  /**
   * A GRAB went out. Returns `'pre-sleep'` when PRE_SLEEP should follow it at once (only with
   * `eagerPreSleep`; see the module comment).
   */
  grabSent(): GrabAction {
    this.#outstanding++;
    this.#preSleepSent =
      this.#eagerPreSleep && this.#outstanding === 1 && this.#jobsSinceWake === 1;
    return this.#preSleepSent ? 'pre-sleep' : 'none';
  }

  /** A GRAB was answered with JOB_ASSIGN, JOB_ASSIGN_UNIQ or JOB_ASSIGN_ALL. */
  assigned(): void {
    if (this.#outstanding > 0) this.#outstanding--;
    this.#noJob = false;
    this.#wokenByNoop = false;
    this.#emptyWakes = 0;
    // The job a wake was for says nothing of the queue; a second one shows it was not empty.
    if (this.#jobsSinceWake++ > 0) this.#foundEmpty = false;
    this.#preSleepSent = false;
    if (this.#window < this.#maxWindow) this.#window = Math.min(this.#window * 2, this.#maxWindow);
  }

  /**
   * A GRAB was answered with NO_JOB (or, defensively, with an ERROR). Returns `'pre-sleep'` when
   * this was the last GRAB in flight: send PRE_SLEEP, the loop now sleeps.
   */
  noJob(now: number): GrabAction {
    if (this.#outstanding > 0) this.#outstanding--;
    this.#noJob = true;
    this.#window = 1;
    if (this.#wokenByNoop) {
      this.#wokenByNoop = false;
      this.#emptyWakes++;
      if (this.#emptyWakes >= 2) {
        const delay = this.#backoffBase * 2 ** (this.#emptyWakes - 2);
        this.#backoffUntil = now + Math.min(delay, this.#maxBackoff);
      }
    }
    if (this.#outstanding > 0 || this.#state !== 'awake') return 'none';
    this.#state = 'sleeping';
    this.#sleptAt = now;
    if (this.#preSleepSent) {
      this.#preSleepSent = false;
      this.#foundEmpty = true;
      return 'none';
    }
    return 'pre-sleep';
  }

  /**
   * A GRAB failed without a reply (its socket went away); `disconnect()` normally follows. If
   * that was the last GRAB after a NO_JOB, the loop counts as sleeping (without PRE_SLEEP, so
   * only the poll wakes it) rather than sitting awake with nothing in flight.
   */
  grabFailed(now: number): void {
    if (this.#outstanding > 0) this.#outstanding--;
    if (this.#outstanding === 0 && this.#noJob && this.#state === 'awake') {
      this.#state = 'sleeping';
      this.#sleptAt = now;
    }
  }

  /**
   * A NOOP arrived. Returns true when the loop woke up and may grab (see `capacity()`); false
   * when it was stray (the loop was not sleeping) or is deferred by the spin backoff.
   */
  noop(now: number): boolean {
    if (this.#state !== 'sleeping') return false;
    if (now < this.#backoffUntil) {
      this.#noopDeferred = true;
      return false;
    }
    this.#wake(true);
    return true;
  }

  /**
   * Called from the worker's timer. Returns true when the loop woke up: a deferred NOOP's delay
   * is over, or `pollInterval` has passed since it went to sleep.
   */
  tick(now: number): boolean {
    if (this.#state !== 'sleeping') return false;
    if (this.#noopDeferred && now >= this.#backoffUntil) {
      this.#wake(true);
      return true;
    }
    if (now - this.#sleptAt >= this.#pollInterval) {
      this.#wake(false);
      return true;
    }
    return false;
  }

  /**
   * Wakes a sleeping loop now, e.g. after a new registration: jobs already queued for a new
   * function send no NOOP. Returns true when it was sleeping.
   */
  poke(): boolean {
    if (this.#state !== 'sleeping') return false;
    this.#wake(false);
    return true;
  }

  #wake(byNoop: boolean): void {
    this.#state = 'awake';
    this.#noJob = false;
    this.#noopDeferred = false;
    this.#wokenByNoop = byNoop;
    this.#jobsSinceWake = 0;
  }
}
