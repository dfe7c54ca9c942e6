import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { dedupeKey, type JobEnd, JobStore, type SubmitRequest } from '../src/job-store.js';
import { HIGH, type Job, JobQueue, LOW, NORMAL, type Priority } from '../src/model.js';
import { TestPeer } from './test-peer.js';

function request(overrides: Partial<SubmitRequest> = {}): SubmitRequest {
  return {
    functionName: 'f',
    unique: '',
    payload: Buffer.from('payload'),
    priority: NORMAL,
    background: false,
    ...overrides,
  };
}

function submit(store: JobStore, overrides: Partial<SubmitRequest> = {}, peer = new TestPeer()) {
  const result = store.submit(request(overrides), overrides.background ? undefined : peer);
  if (!result.ok) throw new Error(`submit refused: ${result.code}`);
  if (result.created) store.enqueue(result.job);
  return result;
}

describe('JobQueue', () => {
  test('hands jobs out first in, first out, across compactions', () => {
    const store = new JobStore('H:t');
    const queue = new JobQueue();
    const jobs: Job[] = [];
    for (let i = 0; i < 5000; i++) {
      const result = store.submit(request(), new TestPeer());
      if (result.ok) jobs.push(result.job);
    }
    for (const job of jobs.slice(0, 3000)) queue.push(job);
    const out: Job[] = [];
    for (let i = 0; i < 2500; i++) out.push(queue.shift() as Job);
    for (const job of jobs.slice(3000)) queue.push(job);
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) out.push(job);
    expect(out).toEqual(jobs);
    expect(queue.length).toBe(0);
  });

  test('removeWhere keeps the order of the rest', () => {
    const store = new JobStore('H:t');
    const queue = new JobQueue();
    for (let i = 0; i < 6; i++) {
      const result = store.submit(request({ payload: Buffer.from(String(i)) }), new TestPeer());
      if (result.ok) queue.push(result.job);
    }
    queue.shift();
    queue.removeWhere((job) => Number(job.payload.toString()) % 2 === 0);
    expect([...queue].map((job) => job.payload.toString())).toEqual(['1', '3', '5']);
  });
});

describe('priorities', () => {
  test('take() returns the oldest job of the highest non-empty priority (protocol.md 6.3)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<Priority>(HIGH, NORMAL, LOW), { maxLength: 60 }),
        (priorities) => {
          const store = new JobStore('H:t');
          const submitted = priorities.map((priority) => submit(store, { priority }).job);
          const fn = store.function('f');
          const taken: Job[] = [];
          for (let job = store.take(fn); job !== undefined; job = store.take(fn)) taken.push(job);
          const expected = [...submitted].sort((a, b) => a.priority - b.priority || a.seq - b.seq);
          expect(taken).toEqual(expected);
        },
      ),
    );
  });

  test('priority is per function: each function has its own queues', () => {
    const store = new JobStore('H:t');
    submit(store, { functionName: 'a', priority: LOW });
    submit(store, { functionName: 'b', priority: HIGH });
    expect(store.take(store.function('a'))?.priority).toBe(LOW);
    expect(store.take(store.function('a'))).toBeUndefined();
  });
});

describe('dedupeKey (protocol.md 4.3)', () => {
  test('an empty unique never de-duplicates', () => {
    expect(dedupeKey('', Buffer.from('x'))).toBeUndefined();
  });

  test('a unique is its own key', () => {
    expect(dedupeKey('order-7', Buffer.from('x'))).toBe('order-7');
  });

  test('`-` with a payload keys on the payload bytes', () => {
    expect(dedupeKey('-', Buffer.from('abc'))).toBe(dedupeKey('-', Buffer.from('abc')));
    expect(dedupeKey('-', Buffer.from('abc'))).not.toBe(dedupeKey('-', Buffer.from('abd')));
    const big = Buffer.alloc(100_000, 1);
    const other = Buffer.from(big);
    other[99_999] = 2;
    expect(dedupeKey('-', big)).toBe(dedupeKey('-', Buffer.from(big)));
    expect(dedupeKey('-', big)).not.toBe(dedupeKey('-', other));
  });

  test('`-` with an empty payload behaves like an empty unique', () => {
    expect(dedupeKey('-', Buffer.alloc(0))).toBeUndefined();
  });

  test('payload keys cannot collide with uniques, which contain no NUL', () => {
    expect(dedupeKey('-', Buffer.from('abc'))?.startsWith('\0')).toBe(true);
  });
});

describe('JobStore.submit', () => {
  test('coalesces on (function, unique) and returns the existing handle', () => {
    const store = new JobStore('H:t');
    const first = submit(store, { unique: 'u' });
    const second = submit(store, { unique: 'u', payload: Buffer.from('other'), priority: HIGH });
    expect(second.created).toBe(false);
    expect(second.job).toBe(first.job);
    expect(second.job.payload.toString()).toBe('payload');
    expect(second.job.priority).toBe(NORMAL);
  });

  test('does not coalesce the same unique in different functions', () => {
    const store = new JobStore('H:t');
    expect(submit(store, { functionName: 'a', unique: 'u' }).job).not.toBe(
      submit(store, { functionName: 'b', unique: 'u' }).job,
    );
  });

  test('coalesces `-` submissions with identical payloads only', () => {
    const store = new JobStore('H:t');
    const a = submit(store, { unique: '-', payload: Buffer.from('same') });
    const b = submit(store, { unique: '-', payload: Buffer.from('same') });
    const c = submit(store, { unique: '-', payload: Buffer.from('different') });
    const d = submit(store, { unique: '-', payload: Buffer.alloc(0) });
    const e = submit(store, { unique: '-', payload: Buffer.alloc(0) });
    expect(b.job).toBe(a.job);
    expect(c.job).not.toBe(a.job);
    expect(e.job).not.toBe(d.job);
    expect(a.job.unique).toBe('-');
  });

  test('a `-` job and a job whose unique equals its payload stay apart', () => {
    const store = new JobStore('H:t');
    const dash = submit(store, { unique: '-', payload: Buffer.from('same') });
    const named = submit(store, { unique: 'same', payload: Buffer.from('x') });
    expect(named.job).not.toBe(dash.job);
    expect(store.findUnique('same')).toBe(named.job);
    expect(store.findUnique('-')).toBeUndefined();
  });

  test('registers a peer once per foreground submission, none for background', () => {
    const store = new JobStore('H:t');
    const peer = new TestPeer();
    const { job } = submit(store, { unique: 'u' }, peer);
    submit(store, { unique: 'u' }, peer);
    submit(store, { unique: 'u', background: true }, peer);
    expect(job.waiters).toEqual([peer, peer]);
    expect(peer.waitedJobs()).toEqual([job]);
    expect(job.background).toBe(true);
  });

  test('keeps each peer’s waits until it leaves or the job ends, whoever waited first', () => {
    const store = new JobStore('H:t');
    const [first, second] = [new TestPeer(), new TestPeer()];
    const { job } = submit(store, { unique: 'u' }, first);
    const other = submit(store, { unique: 'v' }, first).job;
    submit(store, { unique: 'u' }, second);
    expect(first.waitedJobs()).toEqual([other, job]);
    expect(second.waitedJobs()).toEqual([job]);
    store.removeWaiter(job, first);
    expect(first.waitedJobs()).toEqual([other]);
    expect(job.waiters).toEqual([second]);
    // A later submission waits on the job again; the job's end forgets every wait.
    submit(store, { unique: 'u' }, first);
    expect(first.waitedJobs()).toEqual([job, other]);
    store.clearWaiters(job);
    expect(first.waitedJobs()).toEqual([other]);
    expect(second.waitedJobs()).toEqual([]);
  });

  test('frees the unique when the job is disposed', () => {
    const store = new JobStore('H:t');
    const first = submit(store, { unique: 'u' });
    store.take(store.function('f'));
    store.dispose(first.job, 'completed');
    expect(submit(store, { unique: 'u' }).job).not.toBe(first.job);
  });

  test('refuses uniques over 63 bytes with ARGUMENT_TOO_LARGE', () => {
    const store = new JobStore('H:t');
    expect(store.submit(request({ unique: 'u'.repeat(63) }), undefined).ok).toBe(true);
    expect(store.submit(request({ unique: 'u'.repeat(64) }), undefined)).toEqual({
      ok: false,
      code: 'ARGUMENT_TOO_LARGE',
      message: 'Unique value too large',
    });
    // Bytes, not characters: 32 two-byte characters are 64 bytes.
    expect(store.submit(request({ unique: 'é'.repeat(32) }), undefined).ok).toBe(false);
    expect(store.submit(request({ unique: `${'é'.repeat(31)}a` }), undefined).ok).toBe(true);
  });

  test('refuses reducers over 63 bytes', () => {
    const store = new JobStore('H:t');
    expect(store.submit(request({ reducer: 'r'.repeat(64) }), undefined).ok).toBe(false);
    expect(store.submit(request({ reducer: 'r'.repeat(63) }), undefined).ok).toBe(true);
  });

  test('copies a payload that is a small view of a larger buffer', () => {
    const store = new JobStore('H:t');
    const chunk = Buffer.alloc(65536, 7);
    const { job } = submit(store, { payload: chunk.subarray(10, 20) });
    expect(job.payload.buffer).not.toBe(chunk.buffer);
    const whole = Buffer.alloc(65536, 7);
    expect(submit(store, { payload: whole }).job.payload.buffer).toBe(whole.buffer);
  });

  test('numbers handles <prefix>:<n> from 1', () => {
    const store = new JobStore('H:box');
    expect(submit(store).job.handle).toBe('H:box:1');
    expect(submit(store).job.handle).toBe('H:box:2');
  });

  test('find() knows a job by its exact handle until the job is gone', () => {
    const store = new JobStore('H:box');
    const jobs = Array.from({ length: 12 }, () => submit(store).job);
    const twelfth = jobs[11] as Job;
    expect(store.find('H:box:12')).toBe(twelfth);
    expect(store.find('H:box:1')).toBe(jobs[0]);
    // Other spellings of the number, other prefixes, and numbers no job has find nothing.
    for (const handle of ['H:box:012', 'H:box:+12', 'H:box:1e1', 'H:box:', 'H:bo:12', 'H:box:13']) {
      expect(store.find(handle)).toBeUndefined();
    }
    expect(store.find(`H:box:${'9'.repeat(40)}`)).toBeUndefined();
    store.dispose(twelfth, 'completed');
    expect(store.find('H:box:12')).toBeUndefined();
  });
});

describe('maxqueue (protocol.md section 7)', () => {
  test('refuses a job when the function total is at or above its priority limit', () => {
    const store = new JobStore('H:t');
    const fn = store.function('f');
    fn.limits = [3, 2, 1];
    submit(store, { priority: LOW });
    expect(store.submit(request({ priority: LOW }), undefined)).toMatchObject({
      ok: false,
      code: 'QUEUE_ERROR',
      message: 'Job queue is full',
    });
    submit(store, { priority: NORMAL });
    expect(store.submit(request({ priority: NORMAL }), undefined).ok).toBe(false);
    submit(store, { priority: HIGH });
    expect(store.submit(request({ priority: HIGH }), undefined).ok).toBe(false);
  });

  test('counts running jobs too', () => {
    const store = new JobStore('H:t');
    store.function('f').limits = [1, 1, 1];
    submit(store);
    store.take(store.function('f'));
    expect(store.submit(request(), undefined).ok).toBe(false);
  });

  test('0 is unlimited', () => {
    const store = new JobStore('H:t');
    for (let i = 0; i < 100; i++) submit(store);
    expect(store.function('f').total).toBe(100);
  });

  test('never refuses a submission that coalesces', () => {
    const store = new JobStore('H:t');
    store.function('f').limits = [1, 1, 1];
    const first = submit(store, { unique: 'u' });
    expect(submit(store, { unique: 'u' }).job).toBe(first.job);
  });

  test('applies the default limits to new functions', () => {
    const store = new JobStore('H:t', [1, 1, 1]);
    submit(store, { functionName: 'x' });
    expect(store.submit(request({ functionName: 'x' }), undefined).ok).toBe(false);
  });
});

describe('abandoned jobs (protocol.md 6.4)', () => {
  test('a queued job is abandoned when its last waiter leaves and thrown away by take()', () => {
    const store = new JobStore('H:t');
    const peer = new TestPeer();
    const { job } = submit(store, { unique: 'u' }, peer);
    const kept = submit(store, {}, new TestPeer()).job;
    store.removeWaiter(job, peer);
    expect(job.abandoned).toBe(true);
    expect(store.function('f').total).toBe(2); // still counted, as gearmand does
    expect(store.take(store.function('f'))).toBe(kept);
    expect(store.find(job.handle)).toBeUndefined();
    expect(store.function('f').total).toBe(1);
  });

  test('hasWork() throws abandoned heads away too', () => {
    const store = new JobStore('H:t');
    const peer = new TestPeer();
    const { job } = submit(store, {}, peer);
    store.removeWaiter(job, peer);
    expect(store.hasWork(store.function('f'))).toBe(false);
    expect(store.function('f').total).toBe(0);
  });

  test('a background request keeps a coalesced foreground job alive', () => {
    const store = new JobStore('H:t');
    const peer = new TestPeer();
    const { job } = submit(store, { unique: 'u' }, peer);
    submit(store, { unique: 'u', background: true });
    store.removeWaiter(job, peer);
    expect(job.abandoned).toBe(false);
    expect(store.take(store.function('f'))).toBe(job);
  });

  test('one peer leaving does not abandon a job another peer waits on', () => {
    const store = new JobStore('H:t');
    const a = new TestPeer();
    const b = new TestPeer();
    const { job } = submit(store, { unique: 'u' }, a);
    submit(store, { unique: 'u' }, a);
    submit(store, { unique: 'u' }, b);
    store.removeWaiter(job, a);
    expect(job.waiters).toEqual([b]);
    expect(job.abandoned).toBe(false);
  });

  test('a new submission with the unique revives an abandoned job', () => {
    const store = new JobStore('H:t');
    const a = new TestPeer();
    const { job } = submit(store, { unique: 'u' }, a);
    store.removeWaiter(job, a);
    const b = new TestPeer();
    expect(submit(store, { unique: 'u' }, b).job).toBe(job);
    expect(job.abandoned).toBe(false);
    expect(store.take(store.function('f'))).toBe(job);
  });

  test('compacts a queue that is mostly abandoned jobs', () => {
    const store = new JobStore('H:t');
    const peer = new TestPeer();
    const jobs = Array.from({ length: 2000 }, () => submit(store, {}, peer).job);
    for (const job of jobs.slice(0, 1500)) store.removeWaiter(job, peer);
    const fn = store.function('f');
    expect(fn.queued).toBeLessThan(2000);
    expect(fn.total).toBe(fn.queued);
    expect(store.take(fn)).toBe(jobs[1500]);
  });
});

describe('cancel (protocol.md 6.7)', () => {
  test('a queued job is abandoned and its unique freed at once', () => {
    const store = new JobStore('H:t');
    const peer = new TestPeer();
    const { job } = submit(store, { unique: 'u' }, peer);
    store.cancel(job);
    expect(job.abandoned).toBe(true);
    expect(job.waiters).toEqual([]);
    expect(peer.waitedJobs()).toEqual([]);
    expect(submit(store, { unique: 'u' }).job).not.toBe(job);
    expect(store.take(store.function('f'))).not.toBe(job);
  });

  test('a delayed job goes at once', () => {
    const store = new JobStore('H:t');
    const result = store.submit(
      request({ background: true, runAt: Date.now() + 60_000 }),
      undefined,
    );
    if (!result.ok) throw new Error('refused');
    store.delay(result.job);
    expect(store.function('f').delayed).toBe(1);
    store.cancel(result.job);
    expect(result.job.state).toBe('gone');
    expect(store.function('f')).toMatchObject({ delayed: 0, total: 0 });
  });
});

describe('functions', () => {
  test('dropFunction drops only an unused function', () => {
    const store = new JobStore('H:t');
    expect(store.dropFunction('f')).toBe('missing');
    submit(store);
    expect(store.dropFunction('f')).toBe('busy');
    store.function('g');
    expect(store.dropFunction('g')).toBe('dropped');
    expect(store.functions.has('g')).toBe(false);
  });

  test('setLimits changes existing functions only', () => {
    const store = new JobStore('H:t');
    store.function('f');
    store.setLimits('f', [1, 2, 3]);
    store.setLimits('g', [1, 2, 3]);
    expect(store.function('f').limits).toEqual([1, 2, 3]);
    expect(store.functions.has('g')).toBe(false);
  });
});

describe('hooks', () => {
  function recorded() {
    const events: string[] = [];
    const store = new JobStore('H:t', [0, 0, 0], {
      accepted: (job) => void events.push(`accepted ${job.handle}`),
      ended: (job, end: JobEnd) => void events.push(`${end} ${job.handle}`),
    });
    return { store, events };
  }

  test('accepted is called once per job that becomes a background job', () => {
    const { store, events } = recorded();
    submit(store, { unique: 'a', background: true });
    submit(store, { unique: 'a', background: true });
    submit(store, { unique: 'b' });
    expect(events).toEqual(['accepted H:t:1']);
    // A background submission joining a foreground job makes it one: it must be kept too.
    submit(store, { unique: 'b', background: true });
    submit(store, { unique: 'b', background: true });
    expect(events).toEqual(['accepted H:t:1', 'accepted H:t:2']);
  });

  test('restored jobs call no hook, ignore queue limits and keep their row', () => {
    const { store, events } = recorded();
    store.setLimits('f', [1, 1, 1]);
    store.function('f').limits = [1, 1, 1];
    const request = {
      functionName: 'f',
      payload: Buffer.from('x'),
      priority: NORMAL,
      background: true,
    };
    const first = store.restore({ ...request, unique: 'k1' }, 'k1', 1);
    const second = store.restore({ ...request, unique: 'k2' }, 'k2', 1);
    expect(second).toMatchObject({ ok: true, created: true });
    expect(first.ok && [first.job.storeKey, first.job.commit, first.job.background]).toEqual([
      'k1',
      1,
      true,
    ]);
    expect(events).toEqual([]);
  });

  test('ended is called once per job, with how it ended', () => {
    const { store, events } = recorded();
    const done = submit(store, { background: true }).job;
    const cancelled = submit(store, { background: true }).job;
    store.dispose(store.take(store.function('f')) as Job, 'completed');
    store.cancel(cancelled);
    expect(store.take(store.function('f'))).toBeUndefined(); // discards the cancelled job
    expect(events).toEqual([
      `accepted ${done.handle}`,
      `accepted ${cancelled.handle}`,
      `completed ${done.handle}`,
      `cancelled ${cancelled.handle}`,
    ]);
  });
});
