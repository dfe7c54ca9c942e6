import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Admin, type Client, createAdmin, isGearmanError } from '@gearmanode/client';
import type { Job, Worker } from '@gearmanode/worker';
import { waitFor } from '../helpers.js';

/**
 * Shared pieces of the chaos suite: the ledger that accounts for every foreground job, the
 * worker handler that reports executions to it, and the figures each test prints.
 */

/**
 * Resolves with true once `promise` settles, or with false after `ms`, leaving no timer behind.
 * Never rejects.
 */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Prints one JSON line with a test's figures, for the lead to quote: `{"chaos":"…",…}`. */
export function report(name: string, figures: Record<string, unknown>): void {
  console.log(JSON.stringify({ chaos: name, ...figures }));
}

// Job payloads are `<run>:<id>`, where `<run>` names the ledger; a worker answers
// `done:<run>:<id>`, so every result names the job it belongs to and a result handed to the
// wrong caller is seen.
const RUN = randomBytes(3).toString('hex');
const ledgers = new Map<string, Ledger>();

/** What became of one ledger's jobs. */
export interface LedgerFigures {
  submitted: number;
  resolved: number;
  /** Rejections with a GearmanError, by `code`. */
  rejected: Record<string, number>;
  /** Rejections with anything that is not a GearmanError (must stay 0). */
  untyped: number;
  /** Results that were not this job's (must stay 0). */
  wrongResults: number;
  /** Promises neither resolved nor rejected (must be 0 after the deadline). */
  pending: number;
  /** Handler runs in total, and runs beyond the first of the same job. */
  executions: number;
  duplicateExecutions: number;
}

/**
 * Accounts for every foreground job of a test: each submit is tracked from the call to its
 * settlement, each handler run is counted against its job id. Bounded memory: a job's entry
 * leaves once it has settled, so the soak can run for hours.
 */
export class Ledger {
  submitted = 0;
  resolved = 0;
  untyped = 0;
  wrongResults = 0;
  executions = 0;
  duplicateExecutions = 0;
  readonly rejected = new Map<string, number>();
  /** Unsettled jobs by id, with how often a handler has run each so far. */
  readonly #open = new Map<number, number>();
  #nextId = 0;
  #settledWaiters: (() => void)[] = [];
  /** Examples of untyped rejections and wrong results, for the failure message. */
  readonly samples: string[] = [];

  /** Bytes appended to each payload (`<run>:<id>:<padding>`). */
  readonly padding: number;
  readonly run: string;

  constructor(padding = 0) {
    this.padding = padding;
    this.run = `${RUN}${ledgers.size}`;
    ledgers.set(this.run, this);
  }

  /** The ledger whose job carries `payload`, if any. */
  static of(payload: Buffer): Ledger | undefined {
    return ledgers.get(payload.toString('latin1', 0, payload.indexOf(0x3a)));
  }

  /** A new job id and its payload. */
  next(): { id: number; payload: string; unique: string } {
    const id = this.#nextId++;
    const head = `${this.run}:${id}`;
    const payload = this.padding > 0 ? `${head}:${'x'.repeat(this.padding)}` : head;
    return { id, payload, unique: `${this.run}-${id}` };
  }

  /** Follows one submit to its end. Never rejects. */
  track(id: number, result: Promise<Buffer | string>): Promise<void> {
    this.submitted++;
    this.#open.set(id, 0);
    return result.then(
      (value) => {
        this.resolved++;
        if (String(value) !== `done:${this.run}:${id}`) {
          this.wrongResults++;
          if (this.samples.length < 5) this.samples.push(`job ${id} got ${String(value)}`);
        }
        this.#settle(id);
      },
      (error: unknown) => {
        if (isGearmanError(error)) {
          this.rejected.set(error.code, (this.rejected.get(error.code) ?? 0) + 1);
        } else {
          this.untyped++;
          if (this.samples.length < 5) this.samples.push(`job ${id} rejected with ${error}`);
        }
        this.#settle(id);
      },
    );
  }

  /** Counts a handler run of the job whose payload is `payload`; returns the result to send. */
  executed(payload: Buffer): string {
    // `<run>:<id>` or `<run>:<id>:<padding>`; the answer names the run and the id only.
    const end = payload.indexOf(0x3a, payload.indexOf(0x3a) + 1); // ':' after the id
    const text = payload.toString('latin1', 0, end === -1 ? payload.length : end);
    const id = Number(text.slice(text.indexOf(':') + 1));
    this.executions++;
    const runs = this.#open.get(id);
    // A run of a job that has settled already is a duplicate too (its result goes nowhere).
    if (runs === undefined || runs > 0) this.duplicateExecutions++;
    if (runs !== undefined) this.#open.set(id, runs + 1);
    return `done:${text}`;
  }

  get pending(): number {
    return this.#open.size;
  }

  /** Resolves once no job is pending, or after `timeout` ms (then `pending` says how many). */
  async settled(timeout: number): Promise<void> {
    if (this.#open.size === 0) return;
    await within(new Promise<void>((resolve) => this.#settledWaiters.push(resolve)), timeout);
  }

  figures(): LedgerFigures {
    return {
      submitted: this.submitted,
      resolved: this.resolved,
      rejected: Object.fromEntries(this.rejected),
      untyped: this.untyped,
      wrongResults: this.wrongResults,
      pending: this.pending,
      executions: this.executions,
      duplicateExecutions: this.duplicateExecutions,
    };
  }

  /** Rejections over all codes. */
  get rejectedTotal(): number {
    let total = 0;
    for (const count of this.rejected.values()) total += count;
    return total;
  }

  #settle(id: number): void {
    this.#open.delete(id);
    if (this.#open.size === 0) for (const wake of this.#settledWaiters.splice(0)) wake();
  }
}

/**
 * A worker handler for ledger jobs: counts the run in the job's ledger, waits a random 0 to
 * `maxDelayMs` ms (or one turn of the event loop), and answers.
 */
export function ledgerHandler(maxDelayMs = 0) {
  return async (job: Job): Promise<string> => {
    const ledger = Ledger.of(job.payload);
    if (ledger === undefined) throw new Error(`not a ledger job: ${job.payload.toString()}`);
    const result = ledger.executed(job.payload);
    if (maxDelayMs > 0) await sleep(Math.random() * maxDelayMs);
    else await new Promise((resolve) => setImmediate(resolve));
    return result;
  };
}

/** Options of {@link runLoad}. */
export interface LoadOptions {
  ledger: Ledger;
  client: Client;
  functionName: string;
  /** Jobs this client keeps on the way at once. */
  concurrency: number;
  /** Stop after this many jobs, or when `stop()` says so. */
  jobs?: number;
  stop?: () => boolean;
  /** Send each job's id as its `unique` (with the client's `retry`, makes it retriable). */
  unique?: boolean;
  /** Shared count of jobs started, to spread `jobs` over several clients. */
  counter?: { started: number };
  /** Jobs per second for this client at most. */
  rate?: number;
}

/**
 * Keeps `concurrency` foreground jobs on the way from one client until `jobs` have been
 * started or `stop()` is true, and resolves once all of them have settled. A rejected job is
 * followed by a 5 ms pause, as a real caller would back off, so that a client whose every
 * server is down does not spin.
 */
export async function runLoad(options: LoadOptions): Promise<void> {
  const { ledger, client, functionName, concurrency, jobs = Number.POSITIVE_INFINITY } = options;
  const counter = options.counter ?? { started: 0 };
  const started = Date.now();
  let mine = 0;
  const lane = async (): Promise<void> => {
    for (;;) {
      if (counter.started >= jobs || options.stop?.() === true) return;
      counter.started++;
      mine++;
      if (options.rate !== undefined) {
        const due = started + (mine / options.rate) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
      }
      const { id, payload, unique } = ledger.next();
      const before = ledger.rejectedTotal + ledger.untyped;
      await ledger.track(
        id,
        client.submit(functionName, payload, options.unique ? { unique } : undefined),
      );
      if (ledger.rejectedTotal + ledger.untyped > before) await sleep(5);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}

/** An admin connection to gearmand, closed by `close()`. */
export function adminFor(server: { host: string; port: number }): Promise<Admin> {
  return createAdmin({ server: `${server.host}:${server.port}`, timeout: 5_000 });
}

/** The `workers` rows of gearmand with this client id and function. */
export async function registrations(
  admin: Admin,
  clientId: string,
  functionName: string,
): Promise<number> {
  const rows = await admin.workers();
  return rows.filter((row) => row.clientId === clientId && row.functions.includes(functionName))
    .length;
}

/** Waits until every one of `clientIds` is registered for `functionName` exactly once. */
export async function waitRegistered(
  admin: Admin,
  clientIds: readonly string[],
  functionName: string,
  timeout = 10_000,
): Promise<void> {
  await waitFor(
    async () => {
      const rows = await admin.workers();
      return clientIds.every(
        (id) =>
          rows.filter((row) => row.clientId === id && row.functions.includes(functionName))
            .length === 1,
      );
    },
    { timeout, interval: 5, what: `${clientIds.join(', ')} registered for ${functionName}` },
  );
}

/** `code` of an error and of each of its causes, outermost first. */
export function codes(error: unknown): string[] {
  const found: string[] = [];
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    const reason = (e as { reason?: unknown }).reason;
    found.push(typeof reason === 'string' ? `${String(code)}:${reason}` : String(code));
  }
  return found;
}

/** What a worker still holds: all 0 once it is idle (it has no debugState of its own). */
export function workerHeld(worker: Worker): { inFlight: number; buffered: number; jobs: number } {
  const stats = worker.stats();
  return {
    inFlight: stats.inFlight,
    buffered: stats.buffered,
    jobs: stats.servers.reduce((sum, server) => sum + server.jobs, 0),
  };
}
