import { setImmediate as nextCheck } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { waitFor } from '../../../test/helpers.js';
import type { Dispatcher } from '../src/dispatcher.js';
import { GroupCommit, type QueueChange } from '../src/group-commit.js';
import { from, testDispatcher } from './test-peer.js';

/** A dispatcher with a durable store whose writes are recorded, one array per transaction. */
function setup() {
  const batches: string[][] = [];
  let fail = false;
  const errors: unknown[] = [];
  let dispatcher: Dispatcher | undefined;
  const durable = new GroupCommit({
    writer: {
      write(changes: readonly QueueChange[]) {
        if (fail) throw new Error('disk full');
        batches.push(
          changes.map(
            ({ job, insert }) =>
              `${insert ? '+' : '-'}${job.fn.name}/${job.storeKey}:${job.priority}`,
          ),
        );
      },
    },
    restoredCommit: 1,
    onLost: (job) => dispatcher?.cancelJob(job.handle),
    onError: (error) => errors.push(error),
  });
  const made = testDispatcher({ durable });
  dispatcher = made.dispatcher;
  const peer = made.peer;
  return {
    dispatcher,
    durable,
    peer,
    batches,
    errors,
    failNext: () => {
      fail = true;
    },
  };
}

const bg = (unique: string, payload = 'x') =>
  ({ type: 'SUBMIT_JOB_BG', functionName: 'f', unique, payload }) as const;

describe('group commit', () => {
  test('the background submits of one turn share one transaction; JOB_CREATED waits for it', async () => {
    const { dispatcher, peer, batches } = setup();
    const client = peer();
    from(dispatcher, client, bg('a'), bg('b'), { ...bg('c'), type: 'SUBMIT_JOB_HIGH_BG' });
    expect(client.take()).toEqual([]);
    await nextCheck();
    expect(batches).toEqual([['+f/a:1', '+f/b:1', '+f/c:0']]);
    expect(client.take().map((p) => p.type)).toEqual(['JOB_CREATED', 'JOB_CREATED', 'JOB_CREATED']);
    from(dispatcher, client, bg('d'));
    await nextCheck();
    expect(batches).toHaveLength(2);
  });

  test('replies after a held JOB_CREATED keep their order; other peers are not held', async () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const other = peer();
    from(dispatcher, client, bg('a'), { type: 'ECHO_REQ', payload: 'after' });
    from(dispatcher, other, { type: 'ECHO_REQ', payload: 'free' });
    expect(client.take()).toEqual([]);
    expect(other.take()).toEqual([{ type: 'ECHO_RES', payload: Buffer.from('free') }]);
    await nextCheck();
    expect(client.take().map((p) => p.type)).toEqual(['JOB_CREATED', 'ECHO_RES']);
  });

  test('foreground jobs are not written and not held', () => {
    const { dispatcher, peer, durable } = setup();
    const client = peer();
    from(dispatcher, client, { type: 'SUBMIT_JOB', functionName: 'f', unique: 'a', payload: 'x' });
    expect(client.take().map((p) => p.type)).toEqual(['JOB_CREATED']);
    const [job] = dispatcher.store.jobs.values();
    expect(job && durable.isStored(job)).toBe(false);
  });

  test('jobs without a unique get a generated key; a job that ends in its batch writes nothing', async () => {
    const { dispatcher, peer, batches } = setup();
    const client = peer();
    from(dispatcher, client, bg(''), bg(''), bg('-', 'p'));
    const [first, second, third] = dispatcher.store.jobs.values();
    expect(new Set([first?.storeKey, second?.storeKey, third?.storeKey]).size).toBe(3);
    expect(first?.storeKey).toMatch(/^[0-9a-f-]{36}$/);
    dispatcher.cancelJob(first?.handle ?? '');
    await nextCheck();
    expect(batches).toEqual([[`+f/${second?.storeKey}:1`, `+f/${third?.storeKey}:1`]]);
    expect(client.take()).toHaveLength(3);
  });

  test('a job that ends deletes its row in a later transaction', async () => {
    const { dispatcher, peer, durable, batches } = setup();
    const client = peer();
    from(dispatcher, client, bg('a'));
    await nextCheck();
    const [job] = dispatcher.store.jobs.values();
    expect(job && durable.isStored(job)).toBe(true);
    const worker = peer();
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' }, { type: 'GRAB_JOB' });
    from(dispatcher, worker, { type: 'WORK_COMPLETE', handle: job?.handle ?? '', payload: '' });
    // Nobody waits for a delete: it waits for company (or the window, or a close).
    await nextCheck();
    expect(batches).toEqual([['+f/a:1']]);
    from(dispatcher, client, bg('b'));
    await nextCheck();
    expect(batches).toEqual([['+f/a:1'], ['-f/a:1', '+f/b:1']]);
  });

  test('a background submission joining a foreground job stores it and waits', async () => {
    const { dispatcher, peer, batches } = setup();
    const client = peer();
    from(dispatcher, client, { type: 'SUBMIT_JOB', functionName: 'f', unique: 'a', payload: 'x' });
    client.take();
    from(dispatcher, client, bg('a'));
    expect(client.take()).toEqual([]);
    await nextCheck();
    expect(batches).toEqual([['+f/a:1']]);
    expect(client.take().map((p) => p.type)).toEqual(['JOB_CREATED']);
  });

  test('a failed commit answers ERROR instead of JOB_CREATED and drops the jobs', async () => {
    const { dispatcher, peer, failNext, errors } = setup();
    const client = peer();
    failNext();
    from(dispatcher, client, bg('a'), { type: 'ECHO_REQ', payload: 'after' });
    await nextCheck();
    expect(client.take()).toEqual([
      { type: 'ERROR', code: 'QUEUE_ERROR', message: 'Job could not be stored' },
      { type: 'ECHO_RES', payload: Buffer.from('after') },
    ]);
    expect(errors).toHaveLength(1);
    // The job is cancelled: a worker gets nothing.
    const worker = peer();
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' }, { type: 'GRAB_JOB' });
    expect(worker.take().map((p) => p.type)).toEqual(['NO_JOB']);
  });

  test('deletes alone are written within their window', async () => {
    const { dispatcher, peer, batches } = setup();
    const client = peer();
    from(dispatcher, client, bg('a'));
    await nextCheck();
    const [job] = dispatcher.store.jobs.values();
    dispatcher.cancelJob(job?.handle ?? '');
    await waitFor(() => batches.length === 2, { what: 'the delete' });
    expect(batches[1]).toEqual(['-f/a:1']);
  });

  test('flush writes at once (the server is closing)', () => {
    const { dispatcher, peer, durable, batches } = setup();
    const client = peer();
    from(dispatcher, client, bg('a'));
    durable.flush();
    expect(batches).toEqual([['+f/a:1']]);
    expect(client.take().map((p) => p.type)).toEqual(['JOB_CREATED']);
  });
});
