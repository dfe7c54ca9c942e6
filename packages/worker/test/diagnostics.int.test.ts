import { afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { FAILED_PHASES, recordChannel, recordTrace } from '../../../test/diagnostics.js';
import { uniqueName, waitFor } from '../../../test/helpers.js';
import {
  type ConnectMessage,
  createWorker,
  DIAGNOSTICS_CHANNELS,
  type Worker,
  type WorkerJobContext,
  type WorkerOptions,
} from '../src/index.js';
import { TestClient } from './support/client.js';

const gearman = inject('gearman');
const server = `${gearman.host}:${gearman.port}`;
const workers: Worker[] = [];
const disposables: Disposable[] = [];
let client: TestClient;

beforeAll(async () => {
  client = await TestClient.connect(gearman);
  return () => client.close();
});

afterEach(async () => {
  for (const disposable of disposables.splice(0)) disposable[Symbol.dispose]();
  for (const worker of workers.splice(0)) await worker.close({ timeout: 200 });
});

async function start(options: WorkerOptions): Promise<Worker> {
  const worker = await createWorker({ servers: [server], ...options });
  workers.push(worker);
  return worker;
}

/** Records the job trace events of function `name`. */
function record(name: string) {
  const recorder = recordTrace<WorkerJobContext>(
    DIAGNOSTICS_CHANNELS.workerJob,
    (context) => context.functionName === name,
  );
  disposables.push(recorder);
  return recorder;
}

const SUCCESS = ['start', 'end', 'asyncStart', 'asyncEnd'];
const FAILURE = FAILED_PHASES;

describe('gearmanode:worker:job against gearmand', () => {
  test('a completed job publishes start, end, asyncStart, asyncEnd with its context', async () => {
    const fn = uniqueName('upper');
    const trace = record(fn);
    const worker = await start({ functions: [fn] });
    void worker.process(async (job) => {
      await job.data('chunk');
      await job.warning('w');
      return job.text().toUpperCase();
    });
    const outcome = await client.submit(fn, 'héllo', { unique: 'u-1' });
    expect(outcome.result).toEqual({ type: 'complete', data: Buffer.from('HÉLLO') });
    await waitFor(() => trace.events.length === 4);
    const [context] = trace.contexts();
    expect(trace.phasesOf(context as WorkerJobContext)).toEqual(SUCCESS);
    expect(context).toEqual({
      functionName: fn,
      server,
      handle: outcome.handle,
      unique: 'u-1',
      requestBytes: 6,
      responseBytes: 5 + 1 + 6, // 'chunk', 'w', 'HÉLLO' in UTF-8
      outcome: 'completed',
    });
    // Filled in as the job goes: nothing sent yet at start.
    expect(trace.events[0]?.snapshot).toMatchObject({ responseBytes: 0, outcome: undefined });
  });

  test('a handler that throws publishes error with what it threw, outcome exception', async () => {
    const fn = uniqueName('throws');
    const trace = record(fn);
    const worker = await start({ functions: [fn] });
    const thrown = new Error('it broke');
    void worker.process(() => {
      throw thrown;
    });
    const outcome = await client.submit(fn, 'x');
    expect(outcome.result).toEqual({ type: 'exception', data: Buffer.from('it broke') });
    await waitFor(() => trace.events.length === 5);
    expect(trace.events.map((e) => e.phase)).toEqual(FAILURE);
    expect(trace.events[2]?.context).toMatchObject({ outcome: 'exception', error: thrown });
  });

  test('a bare fail() in a for await loop publishes error with ERR_JOB_FAILED', async () => {
    const fn = uniqueName('fails');
    const trace = record(fn);
    const worker = await start({ functions: [fn] });
    void (async () => {
      for await (const job of worker) await job.fail();
    })();
    const outcome = await client.submit(fn, 'x');
    expect(outcome.result).toEqual({ type: 'fail' });
    await waitFor(() => trace.events.length === 5);
    expect(trace.events.map((e) => e.phase)).toEqual(FAILURE);
    expect(trace.events[4]?.context).toMatchObject({
      outcome: 'failed',
      error: { code: 'ERR_JOB_FAILED' },
      responseBytes: 0,
    });
  });

  test('a job past its time limit publishes error with ERR_TIMEOUT, outcome timeout', async () => {
    const fn = uniqueName('slow');
    const trace = record(fn);
    const worker = await start({ functions: [{ name: fn, timeout: 100 }] });
    void worker.process(
      (job) =>
        new Promise<string>((resolve) =>
          job.signal.addEventListener('abort', () => resolve('late')),
        ),
    );
    const outcome = await client.submit(fn, 'x');
    expect(outcome.result.type).toBe('exception');
    await waitFor(() => trace.events.length === 5);
    expect(trace.events.map((e) => e.phase)).toEqual(FAILURE);
    expect(trace.events[2]?.context).toMatchObject({
      outcome: 'timeout',
      error: { name: 'JobTimeoutError', code: 'ERR_TIMEOUT' },
    });
  });

  test('a job running when the worker is destroyed ends as abandoned', async () => {
    const fn = uniqueName('held');
    const trace = record(fn);
    const worker = await start({ functions: [fn] });
    void worker.process(() => new Promise<string>(() => {}));
    const { handle, outcome } = await client.start(fn, 'x');
    await waitFor(() => trace.events.length === 2);
    worker.destroy();
    expect(trace.events.map((e) => e.phase)).toEqual(FAILURE);
    expect(trace.events[4]?.context).toMatchObject({
      handle,
      outcome: 'abandoned',
      error: { name: 'WorkerClosingError', code: 'ERR_CLOSED' },
    });
    // The server hands the job to the next worker.
    const next = await start({ functions: [fn] });
    void next.process(() => 'done');
    expect((await outcome).result).toEqual({ type: 'complete', data: Buffer.from('done') });
  });

  test('a worker connecting publishes connect', async () => {
    const connects = recordChannel<ConnectMessage>(DIAGNOSTICS_CHANNELS.connect);
    disposables.push(connects);
    const before = connects.messages.length;
    await start({ functions: [uniqueName('idle')] });
    expect(connects.messages.length).toBe(before + 1);
    expect(connects.messages.at(-1)).toEqual({ type: 'connect', server, generation: 1 });
  });
});
