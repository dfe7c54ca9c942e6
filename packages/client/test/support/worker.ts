import { Connection, type ReplyHandler } from '@gearmanode/core';
import type { GearmanError, Packet, PacketInit } from '@gearmanode/protocol';

/**
 * A small worker on the codec and the shared Connection, for the client's integration tests
 * (the worker package is written alongside). It grabs with GRAB_JOB_UNIQ, holds up to
 * `concurrency` jobs, sleeps with PRE_SLEEP, polls for epoch jobs, and re-registers after a
 * reconnect.
 */
export interface TestJob {
  readonly handle: string;
  readonly functionName: string;
  readonly unique: string;
  readonly payload: Buffer;
  /** When the worker received it (ms since the epoch). */
  readonly receivedAt: number;
}

/** What a script can send for its job. */
export interface JobControls {
  data(payload: string | Uint8Array): void;
  warning(payload: string | Uint8Array): void;
  status(numerator: number, denominator: number): void;
  complete(payload: string | Uint8Array): void;
  fail(): void;
  exception(payload: string | Uint8Array): void;
}

/** Runs one job; must settle it through `controls`. */
export type Script = (job: TestJob, controls: JobControls) => void | Promise<void>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Ready-made scripts. */
export const scripts = {
  echo: ((job, c) => c.complete(job.payload)) as Script,
  reverse: ((job, c) => c.complete(Buffer.from(job.payload).reverse())) as Script,
  /** status 1/3, data, status 2/3, warning, status 3/3, then the payload upper-cased. */
  progress: (async (job, c) => {
    c.status(1, 3);
    c.data(`data:${job.payload.toString()}`);
    await sleep(5);
    c.status(2, 3);
    c.warning('careful');
    c.status(3, 3);
    c.complete(job.payload.toString().toUpperCase());
  }) as Script,
  fail: ((_job, c) => c.fail()) as Script,
  exception: ((_job, c) => c.exception('it broke')) as Script,
  /** Completes with the payload after `ms`. */
  sleep:
    (ms: number): Script =>
    async (job, c) => {
      await sleep(ms);
      c.complete(job.payload);
    },
} as const;

export interface TestWorkerOptions {
  host: string;
  port: number;
  functions: Record<string, Script>;
  /** Jobs held at once. @default 16 */
  concurrency?: number;
  /** Poll with GRAB while asleep, for epoch jobs (protocol.md section 6.5). @default 200 */
  pollInterval?: number;
}

export interface TestWorker {
  /** Every job received, in order. */
  readonly jobs: readonly TestJob[];
  /** Jobs received that have not been settled yet. */
  readonly running: number;
  readonly connection: Connection;
  /** Registers one more function. */
  add(name: string, script: Script): void;
  close(): Promise<void>;
}

export async function startTestWorker(options: TestWorkerOptions): Promise<TestWorker> {
  const worker = new Worker(options);
  await worker.start();
  return worker;
}

class Worker implements TestWorker, ReplyHandler {
  readonly jobs: TestJob[] = [];
  readonly connection: Connection;
  running = 0;
  readonly #functions: Map<string, Script>;
  readonly #concurrency: number;
  readonly #pollInterval: number;
  #grabbing = 0;
  #sleeping = false;
  #poll: NodeJS.Timeout | undefined;
  #closing = false;
  #lastNoop = 0;

  constructor(options: TestWorkerOptions) {
    this.#functions = new Map(Object.entries(options.functions));
    this.#concurrency = options.concurrency ?? 16;
    this.#pollInterval = options.pollInterval ?? 200;
    this.connection = new Connection({
      address: { host: options.host, port: options.port },
      exceptions: false,
      heartbeatInterval: 0,
      reconnect: { minTimeout: 20, maxTimeout: 200 },
      setup: () =>
        [...this.#functions.keys()].map((functionName) => ({ type: 'CAN_DO', functionName })),
      onPacket: (packet) => this.#onPacket(packet),
      onEvent: (event) => {
        if (event.type === 'connect') {
          this.#sleeping = false;
          this.#fill();
        }
      },
    });
  }

  async start(): Promise<void> {
    await this.connection.connect();
  }

  add(name: string, script: Script): void {
    this.#functions.set(name, script);
    this.connection.send({ type: 'CAN_DO', functionName: name });
    this.#wake();
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#poll);
    await this.connection.close();
  }

  #fill(): void {
    while (!this.#closing && this.running + this.#grabbing < this.#concurrency) {
      if (this.connection.state !== 'ready') return;
      this.#grabbing++;
      try {
        this.connection.request({ type: 'GRAB_JOB_UNIQ' }, this);
      } catch {
        this.#grabbing--;
        return; // reconnecting: the 'connect' event fills again
      }
    }
  }

  onReply(packet: Packet): void {
    this.#grabbing--;
    if (packet.type === 'JOB_ASSIGN_UNIQ') {
      this.#run(packet);
      this.#fill();
      return;
    }
    // NO_JOB: sleep once nothing else is being grabbed.
    if (this.#grabbing > 0 || this.#closing) return;
    // PROTOCOL section 11, item 26: back off when a NOOP led straight to NO_JOB.
    const spin = Date.now() - this.#lastNoop < 20;
    setTimeout(() => this.#sleep(), spin ? 50 : 0);
  }

  onError(_error: GearmanError): void {
    this.#grabbing--;
  }

  #sleep(): void {
    if (this.#closing || this.#grabbing > 0 || this.connection.state !== 'ready') return;
    this.#sleeping = true;
    this.connection.send({ type: 'PRE_SLEEP' });
    clearTimeout(this.#poll);
    this.#poll = setTimeout(() => this.#wake(), this.#pollInterval);
  }

  #wake(): void {
    clearTimeout(this.#poll);
    this.#sleeping = false;
    this.#fill();
  }

  #onPacket(packet: Packet): void {
    if (packet.type === 'NOOP') {
      this.#lastNoop = Date.now();
      if (this.#sleeping) this.#wake();
    }
  }

  #run(packet: Extract<Packet, { type: 'JOB_ASSIGN_UNIQ' }>): void {
    const job: TestJob = {
      handle: packet.handle,
      functionName: packet.functionName,
      unique: packet.unique,
      payload: Buffer.from(packet.payload),
      receivedAt: Date.now(),
    };
    this.jobs.push(job);
    this.running++;
    const generation = this.connection.generation;
    let settled = false;
    const send = (init: PacketInit, terminal: boolean) => {
      if (settled) return;
      if (terminal) settled = true;
      // A job from an earlier socket is no longer ours to answer.
      if (this.connection.generation === generation) this.connection.send(init);
    };
    const handle = job.handle;
    const controls: JobControls = {
      data: (payload) => send({ type: 'WORK_DATA', handle, payload }, false),
      warning: (payload) => send({ type: 'WORK_WARNING', handle, payload }, false),
      status: (numerator, denominator) =>
        send({ type: 'WORK_STATUS', handle, numerator, denominator }, false),
      complete: (payload) => send({ type: 'WORK_COMPLETE', handle, payload }, true),
      fail: () => send({ type: 'WORK_FAIL', handle }, true),
      exception: (payload) => send({ type: 'WORK_EXCEPTION', handle, payload }, true),
    };
    const script = this.#functions.get(job.functionName) ?? scripts.fail;
    void Promise.resolve()
      .then(() => script(job, controls))
      .catch(() => controls.fail())
      .finally(() => {
        if (!settled) controls.fail();
        this.running--;
        this.#fill();
      });
  }
}
