import fc from 'fast-check';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { EpochScheduler } from '../src/epoch.js';
import { JobStore } from '../src/job-store.js';
import { type Job, NORMAL } from '../src/model.js';

function jobAt(store: JobStore, runAt: number): Job {
  const result = store.submit(
    {
      functionName: 'f',
      unique: '',
      payload: Buffer.from('x'),
      priority: NORMAL,
      background: true,
      runAt,
    },
    undefined,
  );
  if (!result.ok) throw new Error('refused');
  return result.job;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('EpochScheduler', () => {
  test('hands jobs out in time order, ties in submission order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { maxLength: 50 }), (times) => {
        let now = 0;
        const due: Job[] = [];
        const scheduler = new EpochScheduler(
          (job) => due.push(job),
          () => now,
        );
        const store = new JobStore('H:t');
        const jobs = times.map((t) => jobAt(store, t));
        for (const job of jobs) scheduler.add(job);
        now = 100;
        scheduler.runDue();
        scheduler.stop();
        expect(due).toEqual([...jobs].sort((a, b) => a.runAt - b.runAt || a.seq - b.seq));
      }),
    );
  });

  test('remove() takes a job out and keeps the rest in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 40 }),
        fc.nat(),
        (times, pick) => {
          let now = 0;
          const due: Job[] = [];
          const scheduler = new EpochScheduler(
            (job) => due.push(job),
            () => now,
          );
          const store = new JobStore('H:t');
          const jobs = times.map((t) => jobAt(store, t));
          for (const job of jobs) scheduler.add(job);
          const removed = jobs[pick % jobs.length] as Job;
          scheduler.remove(removed);
          now = 10_000;
          scheduler.runDue();
          scheduler.stop();
          expect(due).toEqual(
            jobs
              .filter((job) => job !== removed)
              .sort((a, b) => a.runAt - b.runAt || a.seq - b.seq),
          );
        },
      ),
    );
  });

  test('one timer, for the earliest job, re-armed as jobs come and go', () => {
    vi.useFakeTimers({ now: 0 });
    const due: string[] = [];
    const scheduler = new EpochScheduler((job) => due.push(job.payload.toString()));
    const store = new JobStore('H:t');
    const late = jobAt(store, 5000);
    scheduler.add(late);
    scheduler.add(jobAt(store, 1000));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(due).toHaveLength(1);
    scheduler.remove(late);
    expect(vi.getTimerCount()).toBe(0);
    expect(scheduler.size).toBe(0);
  });

  test('waits in steps for times beyond what setTimeout can take', () => {
    vi.useFakeTimers({ now: 0 });
    const due: Job[] = [];
    const scheduler = new EpochScheduler((job) => due.push(job));
    scheduler.add(jobAt(new JobStore('H:t'), 2 ** 31 + 10));
    vi.advanceTimersByTime(2 ** 31 - 1);
    expect(due).toHaveLength(0);
    vi.advanceTimersByTime(11);
    expect(due).toHaveLength(1);
  });
});
