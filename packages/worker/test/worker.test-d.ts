import {
  createWorker,
  type Job,
  type Worker,
  type WorkerEvent,
  type WorkerState,
  type WorkerStats,
} from '@gearmanode/worker';
import { expectTypeOf, test } from 'vitest';

test('public signatures', () => {
  expectTypeOf(createWorker).returns.resolves.toEqualTypeOf<Worker>();
  const worker = {} as Worker;
  expectTypeOf(worker).toMatchTypeOf<AsyncIterable<Job>>();
  expectTypeOf(worker).toMatchTypeOf<AsyncDisposable>();
  expectTypeOf(worker.state).toEqualTypeOf<WorkerState>();
  expectTypeOf(worker.closed).resolves.toEqualTypeOf<Error | undefined>();
  expectTypeOf(worker.register).returns.toBeVoid();
  expectTypeOf(worker.process(async () => 'x')).resolves.toBeVoid();
  expectTypeOf(worker.process(async (job) => job.payload)).resolves.toBeVoid();
  expectTypeOf(worker.process(async (job) => void (await job.complete()))).resolves.toBeVoid();
  expectTypeOf(worker.close({ timeout: 1 })).resolves.toBeVoid();
  expectTypeOf(worker.status()).toEqualTypeOf<AsyncIterableIterator<WorkerEvent>>();
  expectTypeOf(worker.stats()).toEqualTypeOf<WorkerStats>();
  // @ts-expect-error a handler's result is bytes, a string or nothing
  void worker.process(async () => 42);
  expectTypeOf(worker.process()).resolves.toBeVoid();
  expectTypeOf(worker.process({ concurrency: 2 })).resolves.toBeVoid();
  worker.register('f');
  worker.register('f', { timeout: 1 });
  worker.register('f', (job) => job.payload);
  worker.register('f', { timeout: 1 }, async (job) => job.text());
  // @ts-expect-error a registered handler's result is bytes, a string or nothing too
  worker.register('f', async () => 42);

  const job = {} as Job;
  expectTypeOf(job.payload).toEqualTypeOf<Buffer>();
  expectTypeOf(job.text('latin1')).toBeString();
  expectTypeOf(job.json<{ a: number }>()).toEqualTypeOf<{ a: number }>();
  expectTypeOf(job.signal).toEqualTypeOf<AbortSignal>();
  expectTypeOf(job.complete('x')).resolves.toBeVoid();
  expectTypeOf(job.complete(new Uint8Array(1))).resolves.toBeVoid();
  expectTypeOf(job.fail()).resolves.toBeVoid();
  expectTypeOf(job.exception(new Error('x'))).resolves.toBeVoid();
  // @ts-expect-error the payload cannot be replaced
  job.payload = Buffer.alloc(0);
});
