import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { FAILED_PHASES, recordChannel, recordTrace } from '../../../test/diagnostics.js';
import { type FakeServer, startFakeServer } from '../../../test/fake-server.js';
import {
  createWorker,
  DIAGNOSTICS_CHANNELS,
  type DisconnectMessage,
  type Job,
  type Worker,
  type WorkerJobContext,
} from '../src/index.js';

let fake: FakeServer;
let worker: Worker | undefined;
const disposables: Disposable[] = [];

beforeEach(async () => {
  fake = await startFakeServer();
});

afterEach(async () => {
  for (const disposable of disposables.splice(0)) disposable[Symbol.dispose]();
  worker?.destroy();
  await fake.close();
});

describe('gearmanode:worker:job (fake server)', () => {
  test('a job whose connection is lost ends as lost, with JobLostError; disconnect is published', async () => {
    const trace = recordTrace<WorkerJobContext>(DIAGNOSTICS_CHANNELS.workerJob);
    const disconnects = recordChannel<DisconnectMessage>(
      DIAGNOSTICS_CHANNELS.disconnect,
      (message) => message.server === fake.address,
    );
    disposables.push(trace, disconnects);
    worker = await createWorker({
      servers: [fake.address],
      functions: ['a'],
      reconnect: { minTimeout: 10, maxTimeout: 50 },
    });
    fake.addJob('a', 'first');
    const iterator = worker[Symbol.asyncIterator]();
    const job = (await iterator.next()).value as Job;
    expect(trace.events.map((e) => e.phase)).toEqual(['start', 'end']);
    fake.dropAll();
    await fake.until(() => job.signal.aborted);
    expect(trace.events.map((e) => e.phase)).toEqual(FAILED_PHASES);
    expect(trace.events[2]?.context).toMatchObject({
      functionName: 'a',
      server: fake.address,
      handle: job.handle,
      requestBytes: 5,
      outcome: 'lost',
      error: { name: 'JobLostError', code: 'ERR_CONNECTION' },
    });
    // A late result publishes nothing more.
    await job.complete('late');
    expect(trace.events).toHaveLength(5);
    expect(disconnects.messages).toHaveLength(1);
    expect(disconnects.messages[0]).toMatchObject({ type: 'disconnect', server: fake.address });
    await iterator.return?.();
  });
});
