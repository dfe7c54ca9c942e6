import type { Packet } from '@gearmanode/protocol';
import { describe, expect, test } from 'vitest';
import { type JobPacket, JobTable } from '../src/job-table.js';
import { DONE, Submission, type SubmissionOwner } from '../src/submission.js';

const owner: SubmissionOwner = { jobCreated() {}, requestFailed() {}, aborted() {} };

function submission(): Submission {
  const packet = { type: 'SUBMIT_JOB', functionName: 'f', unique: '', payload: '' } as const;
  return new Submission(owner, packet, false, '', false, undefined, undefined);
}

const complete = (handle: string): JobPacket =>
  ({ type: 'WORK_COMPLETE', handle, payload: Buffer.alloc(0) }) as Packet as JobPacket;
const data = (handle: string): JobPacket =>
  ({ type: 'WORK_DATA', handle, payload: Buffer.alloc(0) }) as Packet as JobPacket;

describe('JobTable', () => {
  test('routes the packets of one job, and forgets it after the terminal one', () => {
    const table = new JobTable();
    const job = submission();
    table.add('H:1', job);
    expect(table.size).toBe(1);
    expect(table.route(complete('H:2'))).toBeUndefined();
    expect(table.route(data('H:1'))).toBe(job);
    expect(table.route(complete('H:1'))).toBe(job);
    expect(table.size).toBe(0);
    expect(table.route(complete('H:1'))).toBeUndefined();
  });

  test('keeps every job when a second handle joins the first, and each one after the table empties', () => {
    const table = new JobTable();
    const [a, b, c, d] = [submission(), submission(), submission(), submission()];
    table.add('H:a', a);
    table.add('H:b', b);
    table.add('H:c', c);
    expect(table.size).toBe(3);
    expect(table.route(complete('H:b'))).toBe(b);
    expect(table.route(complete('H:a'))).toBe(a);
    expect(table.route(complete('H:c'))).toBe(c);
    expect(table.size).toBe(0);
    table.add('H:d', d);
    expect(table.route(data('H:a'))).toBeUndefined();
    expect(table.route(complete('H:d'))).toBe(d);
  });

  test('copies of one packet go to the waiters of a shared handle in turn', () => {
    const table = new JobTable();
    const [a, b] = [submission(), submission()];
    table.add('H:1', a);
    table.add('H:1', b);
    expect(table.size).toBe(1);
    expect([table.route(data('H:1')), table.route(data('H:1'))]).toEqual([a, b]);
    expect(table.route(complete('H:1'))).toBe(a);
    expect(table.route(complete('H:1'))).toBe(b);
    expect(table.size).toBe(0);
  });

  test('takeAll returns the jobs in the order they were created, ghosts included', () => {
    const table = new JobTable();
    const [a, b, c] = [submission(), submission(), submission()];
    table.add('H:a', a);
    table.add('H:a', b);
    table.add('H:c', c);
    b.state = DONE;
    expect(table.ghosts()).toBe(1);
    expect(table.takeAll()).toEqual([a, b, c]);
    expect(table.size).toBe(0);
    expect(table.ghosts()).toBe(0);

    const alone = submission();
    table.add('H:x', alone);
    expect(table.takeAll()).toEqual([alone]);
    expect(table.size).toBe(0);
  });
});
