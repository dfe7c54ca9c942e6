import { describe, expect, test } from 'vitest';
import { HeldJobs } from '../src/held-jobs.js';
import { JobStore } from '../src/job-store.js';
import { type Job, NORMAL } from '../src/model.js';

function jobs(count: number): Job[] {
  const store = new JobStore('H:t');
  return Array.from({ length: count }, () => {
    const result = store.submit(
      {
        functionName: 'f',
        unique: '',
        payload: Buffer.alloc(0),
        priority: NORMAL,
        background: true,
      },
      undefined,
    );
    if (!result.ok) throw new Error('submit refused');
    return result.job;
  });
}

describe('HeldJobs', () => {
  test('keeps the order of assignment across removals anywhere in the list', () => {
    const held = new HeldJobs<Job>();
    const [a, b, c, d] = jobs(4) as [Job, Job, Job, Job];
    for (const job of [a, b, c, d]) held.add(job);
    held.delete(b);
    expect(held.newestFirst()).toEqual([d, c, a]);
    held.delete(d);
    held.delete(a);
    expect(held.newestFirst()).toEqual([c]);
    expect(held.size).toBe(1);
    held.delete(c);
    expect(held.size).toBe(0);
    expect(held.newestFirst()).toEqual([]);
    held.add(a);
    expect(held.newestFirst()).toEqual([a]);
  });

  test('find() looks at the newest 8 jobs; scannedAll says whether that was all of them', () => {
    const held = new HeldJobs<Job>();
    const all = jobs(10);
    for (const job of all.slice(0, 8)) held.add(job);
    expect(held.scannedAll).toBe(true);
    expect(held.find('H:t:1')).toBe(all[0]);
    expect(held.find('H:t:9')).toBeUndefined();
    held.add(all[8] as Job);
    expect(held.scannedAll).toBe(false);
    expect(held.find('H:t:9')).toBe(all[8]);
    expect(held.find('H:t:1')).toBeUndefined(); // further back than the scan
  });
});
