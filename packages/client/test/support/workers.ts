import { setTimeout as sleep } from 'node:timers/promises';
import { createWorker, type Job, type JobHandler, type Worker } from '@gearmanode/worker';

/** What a test worker runs for one function: the worker's own handler type. */
export type Script = JobHandler;

/** Ready-made scripts. */
export const scripts = {
  echo: ((job) => job.payload) as Script,
  reverse: ((job) => Buffer.from(job.payload).reverse()) as Script,
  /** status 1/3, data, status 2/3, warning, status 3/3, then the payload upper-cased. */
  progress: async (job: Job): Promise<string> => {
    await job.status(1, 3);
    await job.data(`data:${job.text()}`);
    await sleep(5);
    await job.status(2, 3);
    await job.warning('careful');
    await job.status(3, 3);
    return job.text().toUpperCase();
  },
  fail: (async (job) => {
    await job.fail();
  }) as Script,
  exception: (() => {
    throw new Error('it broke');
  }) as Script,
  /** Completes with the payload after `ms`. */
  sleep:
    (ms: number): Script =>
    async (job) => {
      await sleep(ms);
      return job.payload;
    },
} as const;

/** A job a test worker received. */
export interface ReceivedJob {
  readonly handle: string;
  readonly name: string;
  readonly unique: string;
  /** When the handler started (ms since the epoch). */
  readonly receivedAt: number;
}

/** A real worker (`@gearmanode/worker`) running `scripts`, recording every job it gets. */
export interface TestWorker {
  /** Every job received, in order. */
  readonly jobs: readonly ReceivedJob[];
  readonly worker: Worker;
  /** Registers one more function. */
  add(name: string, script: Script): void;
  close(): Promise<void>;
}

/**
 * Starts a worker on one server with `functions`. Its sleeping connection polls every 200 ms,
 * for epoch jobs (protocol.md section 6.5), and reconnects quickly.
 */
export async function startTestWorker(options: {
  host: string;
  port: number;
  functions: Record<string, Script>;
  /** @default 16 */
  concurrency?: number;
}): Promise<TestWorker> {
  const worker = await createWorker({
    servers: [`${options.host}:${options.port}`],
    concurrency: options.concurrency ?? 16,
    pollInterval: 200,
    heartbeatInterval: 0,
    reconnect: { minTimeout: 20, maxTimeout: 200 },
  });
  const scriptsByName = new Map(Object.entries(options.functions));
  const jobs: ReceivedJob[] = [];
  const run = (job: Job) => {
    const { handle, name, unique } = job;
    jobs.push({ handle, name, unique, receivedAt: Date.now() });
    return (scriptsByName.get(name) ?? scripts.fail)(job);
  };
  const add = (name: string, script: Script): void => {
    scriptsByName.set(name, script);
    worker.register(name);
  };
  for (const name of scriptsByName.keys()) worker.register(name);
  const processing = worker.process(run);
  return {
    jobs,
    worker,
    add,
    async close() {
      await worker.close({ timeout: 1000 });
      await processing;
    },
  };
}
