import { encodePacket, ownPayload, type PacketInit } from '@gearmanode/protocol';
import { describe, expect, test } from 'vitest';
import type { RawAssignment } from '../src/assignment.js';
import { exceptionData, type JobHost, JobImpl, type JobOutcome } from '../src/job.js';

class RecordingHost implements JobHost {
  readonly sent: PacketInit[] = [];
  readonly outcomes: JobOutcome[] = [];
  droppedCount = 0;
  send(_job: JobImpl, packet: PacketInit): Promise<void> {
    encodePacket(packet); // throws for what cannot be encoded, as the connection does
    this.sent.push(packet);
    return Promise.resolve();
  }
  sendComplete(_job: JobImpl, raw: RawAssignment, result: Uint8Array): Promise<void> {
    this.sent.push({ type: 'WORK_COMPLETE', handle: raw.handle, payload: result });
    this.rawCompletes++;
    return Promise.resolve();
  }
  rawCompletes = 0;
  settled(_job: JobImpl, outcome: JobOutcome): void {
    this.outcomes.push(outcome);
  }
  dropped(): void {
    this.droppedCount++;
  }
}

function newJob(payload: Buffer = Buffer.from('hello')): { job: JobImpl; host: RecordingHost } {
  const host = new RecordingHost();
  const job = new JobImpl(host, undefined, '127.0.0.1:4730', 1, 0, 'fn', 'H:x:1', 'u', '', payload);
  return { job, host };
}

describe('Job', () => {
  test('complete() sends WORK_COMPLETE once; a second settle throws ERR_JOB_SETTLED', async () => {
    const { job, host } = newJob();
    await job.complete('done');
    expect(host.sent).toEqual([{ type: 'WORK_COMPLETE', handle: 'H:x:1', payload: 'done' }]);
    expect(host.outcomes).toEqual(['completed']);
    expect(job.settled).toBe(true);
    for (const settle of [
      () => job.complete('again'),
      () => job.fail(),
      () => job.exception(new Error('x')),
    ]) {
      expect(settle).toThrow(expect.objectContaining({ code: 'ERR_JOB_SETTLED', handle: 'H:x:1' }));
    }
    expect(host.sent).toHaveLength(1);
  });

  test('nothing is sent for a handle after its final packet', () => {
    const { job, host } = newJob();
    void job.fail();
    expect(() => job.status(1, 2)).toThrow(expect.objectContaining({ code: 'ERR_JOB_SETTLED' }));
    expect(() => job.data('x')).toThrow(expect.objectContaining({ code: 'ERR_JOB_SETTLED' }));
    expect(() => job.warning('x')).toThrow(expect.objectContaining({ code: 'ERR_JOB_SETTLED' }));
    expect(host.sent).toEqual([{ type: 'WORK_FAIL', handle: 'H:x:1' }]);
  });

  test('status, data and warning go out in call order before the result', async () => {
    const { job, host } = newJob();
    await job.status(1, 3);
    await job.data(Buffer.from([0, 1, 2]));
    await job.warning('careful');
    await job.complete();
    expect(host.sent.map((p) => p.type)).toEqual([
      'WORK_STATUS',
      'WORK_DATA',
      'WORK_WARNING',
      'WORK_COMPLETE',
    ]);
    expect(host.sent[0]).toMatchObject({ numerator: 1, denominator: 3 });
    expect(host.sent[3]).toMatchObject({ payload: Buffer.alloc(0) });
  });

  test('fail() without a reason sends WORK_FAIL; with one, WORK_EXCEPTION', () => {
    const a = newJob();
    void a.job.fail();
    expect(a.host.sent).toEqual([{ type: 'WORK_FAIL', handle: 'H:x:1' }]);
    expect(a.host.outcomes).toEqual(['failed']);
    const b = newJob();
    void b.job.fail(new Error('disk full'));
    expect(b.host.sent).toEqual([
      { type: 'WORK_EXCEPTION', handle: 'H:x:1', payload: 'disk full' },
    ]);
    expect(b.host.outcomes).toEqual(['exception']);
  });

  test('exception() sends an Error message, a string, or bytes as given', () => {
    expect(exceptionData(new TypeError('bad input'))).toBe('bad input');
    expect(exceptionData(new Error(''))).toBe('Error');
    expect(exceptionData('plain')).toBe('plain');
    const bytes = Buffer.from([0, 255, 0]);
    expect(exceptionData(bytes)).toBe(bytes);
    expect(exceptionData(42)).toBe('42');
    expect(exceptionData({ toString: () => 'custom' })).toBe('custom');
  });

  test('a report that cannot be encoded throws and leaves the job unsettled', () => {
    const { job, host } = newJob();
    expect(() => job.status(-1, 2)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => job.status(1, 2 ** 32)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => job.complete({} as unknown as string)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(job.settled).toBe(false);
    expect(host.outcomes).toEqual([]);
    void job.complete('ok');
    expect(host.outcomes).toEqual(['completed']);
  });

  test('after the worker releases a job, reports resolve without sending or throwing', async () => {
    const { job, host } = newJob();
    expect(job.release()).toBe(true);
    job.abort(new Error('gone'));
    await job.status(1, 2);
    await job.complete('late');
    await job.fail(new Error('late'));
    expect(host.sent).toEqual([]);
    expect(host.outcomes).toEqual([]);
    expect(host.droppedCount).toBe(1); // one late result, counted once
    expect(job.settled).toBe(true);
    expect(job.release()).toBe(false);
  });

  test('signal is created on first use and carries an abort that happened before', () => {
    const { job } = newJob();
    const reason = new Error('deadline');
    job.abort(reason);
    job.abort(new Error('ignored: only the first reason counts'));
    expect(job.signal.aborted).toBe(true);
    expect(job.signal.reason).toBe(reason);
    const other = newJob().job;
    const signal = other.signal;
    expect(signal.aborted).toBe(false);
    other.abort(reason);
    expect(signal.aborted).toBe(true);
    expect(other.signal).toBe(signal);
  });

  test('text() decodes in any Buffer encoding and json() parses', () => {
    expect(newJob(Buffer.from('héllo')).job.text()).toBe('héllo');
    expect(newJob(Buffer.from('héllo')).job.text('latin1')).toBe('hÃ©llo');
    expect(newJob(Buffer.from('hi')).job.text('base64')).toBe('aGk=');
    expect(newJob(Buffer.from('{"a":[1,2]}')).job.json()).toEqual({ a: [1, 2] });
    expect(() => newJob(Buffer.from('{')).job.json()).toThrow(SyntaxError);
  });
});

describe('ownPayload', () => {
  test('copies a small payload out of a large chunk', () => {
    const chunk = Buffer.alloc(64 * 1024, 7);
    const view = chunk.subarray(100, 200);
    const owned = ownPayload(view);
    expect(owned).not.toBe(view);
    expect(owned.equals(view)).toBe(true);
    chunk.fill(0);
    expect(owned.every((byte) => byte === 7)).toBe(true);
  });

  test('keeps a payload that fills most of its buffer, or pins little extra', () => {
    const whole = Buffer.alloc(100_000);
    const most = whole.subarray(50);
    expect(ownPayload(most)).toBe(most);
    const big = whole.subarray(30_000);
    expect(ownPayload(big)).toBe(big);
    const small = Buffer.from(new ArrayBuffer(1000)).subarray(10, 20);
    expect(ownPayload(small)).toBe(small);
  });
});
