import { encodePacket, type Packet } from '@gearmanode/protocol';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { DispatcherOptions } from '../src/dispatcher.js';
import { rawFrame } from './frames.js';
import { deliver, from, packet, testDispatcher } from './test-peer.js';

function setup(options: Partial<DispatcherOptions> = {}) {
  const shutdowns: boolean[] = [];
  const { dispatcher, peer } = testDispatcher({
    onShutdown: (graceful) => shutdowns.push(graceful),
    ...options,
  });
  return { dispatcher, peer, shutdowns };
}

const submit = (functionName: string, unique = '', payload = 'x') =>
  ({ type: 'SUBMIT_JOB', functionName, unique, payload }) as const;
const types = (packets: Packet[]) => packets.map((p) => p.type);
const RES_MAGIC = Buffer.from('\0RES', 'latin1');

afterEach(() => {
  vi.useRealTimers();
});

describe('requests that are not requests', () => {
  test('a request type under \\0RES is answered with ERROR INVALID_MAGIC', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    dispatcher.handlePacket(client, packet({ type: 'ECHO_REQ', payload: 'x' }, 'RES'), 'RES');
    expect(client.take()).toEqual([
      { type: 'ERROR', code: 'INVALID_MAGIC', message: 'Request magic expected' },
    ]);
  });

  test('response types, ALL_YOURS and SUBMIT_JOB_SCHED are answered with INVALID_COMMAND', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    from(
      dispatcher,
      client,
      { type: 'NOOP' },
      { type: 'JOB_CREATED', handle: 'H:x:1' },
      { type: 'ALL_YOURS' },
      {
        type: 'SUBMIT_JOB_SCHED',
        functionName: 'f',
        unique: '',
        minute: '',
        hour: '',
        dayOfMonth: '',
        month: '',
        dayOfWeek: '',
        payload: 'x',
      },
    );
    expect(client.take()).toEqual(
      Array(4).fill({ type: 'ERROR', code: 'INVALID_COMMAND', message: 'Command not expected' }),
    );
  });
});

describe('submitting', () => {
  test('every submit variant is answered with JOB_CREATED, in order, handles increasing', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const base = { functionName: 'f', unique: '', payload: 'x' };
    from(
      dispatcher,
      client,
      { type: 'SUBMIT_JOB', ...base },
      { type: 'SUBMIT_JOB_BG', ...base },
      { type: 'SUBMIT_JOB_HIGH', ...base },
      { type: 'SUBMIT_JOB_HIGH_BG', ...base },
      { type: 'SUBMIT_JOB_LOW', ...base },
      { type: 'SUBMIT_JOB_LOW_BG', ...base },
      { type: 'SUBMIT_JOB_EPOCH', ...base, runAt: 0 },
      { type: 'SUBMIT_REDUCE_JOB', ...base, reducer: 'r', aggregator: '' },
      { type: 'SUBMIT_REDUCE_JOB_BACKGROUND', ...base, reducer: 'r', aggregator: '' },
    );
    expect(client.take()).toEqual(
      Array.from({ length: 9 }, (_, i) => ({ type: 'JOB_CREATED', handle: `H:t:${i + 1}` })),
    );
  });

  test('a 64-byte unique gets ERROR ARGUMENT_TOO_LARGE (gearmand accepts and mangles it)', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    deliver(dispatcher, client, rawFrame('SUBMIT_JOB', ['f', 'u'.repeat(64), 'x']));
    expect(client.take()).toEqual([
      { type: 'ERROR', code: 'ARGUMENT_TOO_LARGE', message: 'Unique value too large' },
    ]);
  });

  test('a long unique on a reduce job is refused too (section 11, item 17)', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    deliver(dispatcher, client, rawFrame('SUBMIT_REDUCE_JOB', ['f', 'u'.repeat(64), 'r', '', 'x']));
    expect(types(client.take())).toEqual(['ERROR']);
  });
});

describe('grabbing (protocol.md 6.3)', () => {
  test('walks registrations newest first, then the highest priority, oldest job', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    const base = { unique: '', payload: 'x' };
    from(
      dispatcher,
      client,
      { type: 'SUBMIT_JOB_HIGH', functionName: 'old', ...base },
      { type: 'SUBMIT_JOB_LOW', functionName: 'new', ...base },
      { type: 'SUBMIT_JOB', functionName: 'new', ...base },
      { type: 'SUBMIT_JOB_HIGH', functionName: 'new', ...base },
      { type: 'SUBMIT_JOB_HIGH', functionName: 'new', ...base, payload: 'second high' },
    );
    client.take();
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'old' });
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'new' });
    for (let i = 0; i < 6; i++) from(dispatcher, worker, { type: 'GRAB_JOB' });
    expect(worker.take()).toEqual([
      { type: 'JOB_ASSIGN', handle: 'H:t:4', functionName: 'new', payload: Buffer.from('x') },
      {
        type: 'JOB_ASSIGN',
        handle: 'H:t:5',
        functionName: 'new',
        payload: Buffer.from('second high'),
      },
      { type: 'JOB_ASSIGN', handle: 'H:t:3', functionName: 'new', payload: Buffer.from('x') },
      { type: 'JOB_ASSIGN', handle: 'H:t:2', functionName: 'new', payload: Buffer.from('x') },
      { type: 'JOB_ASSIGN', handle: 'H:t:1', functionName: 'old', payload: Buffer.from('x') },
      { type: 'NO_JOB' },
    ]);
  });

  test('GRAB_JOB_UNIQ carries the unique; GRAB_JOB_ALL the reducer, if any', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    from(
      dispatcher,
      client,
      submit('f', 'u1', 'a'),
      {
        type: 'SUBMIT_REDUCE_JOB',
        functionName: 'f',
        unique: 'u2',
        reducer: 'sum',
        aggregator: '',
        payload: 'b',
      },
      submit('f', 'u3', 'c'),
    );
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' });
    from(dispatcher, worker, { type: 'GRAB_JOB_UNIQ' }, { type: 'GRAB_JOB_ALL' });
    from(dispatcher, worker, { type: 'GRAB_JOB_ALL' });
    expect(worker.take()).toEqual([
      {
        type: 'JOB_ASSIGN_UNIQ',
        handle: 'H:t:1',
        functionName: 'f',
        unique: 'u1',
        payload: Buffer.from('a'),
      },
      {
        type: 'JOB_ASSIGN_ALL',
        handle: 'H:t:2',
        functionName: 'f',
        unique: 'u2',
        reducer: 'sum',
        payload: Buffer.from('b'),
      },
      {
        type: 'JOB_ASSIGN_UNIQ',
        handle: 'H:t:3',
        functionName: 'f',
        unique: 'u3',
        payload: Buffer.from('c'),
      },
    ]);
  });
});

describe('jobs submitted as bytes', () => {
  // A connection hands the dispatcher each body as received: JOB_ASSIGN* is then built from
  // the submission's bytes instead of being encoded again.
  const submitBytes = (unique: string, payload: string) =>
    encodePacket({ type: 'SUBMIT_JOB', functionName: 'fn', unique, payload });

  test('each GRAB variant gets the fields of the submission, JOB_ASSIGN without the unique', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    deliver(
      dispatcher,
      client,
      Buffer.concat([submitBytes('u1', 'a\0b'), submitBytes('', ''), submitBytes('-', 'c')]),
    );
    expect(client.take()).toEqual(
      [1, 2, 3].map((n) => ({ type: 'JOB_CREATED', handle: `H:t:${n}` })),
    );
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'fn' });
    from(
      dispatcher,
      worker,
      { type: 'GRAB_JOB' },
      { type: 'GRAB_JOB_UNIQ' },
      { type: 'GRAB_JOB_ALL' },
    );
    expect(worker.take()).toEqual([
      { type: 'JOB_ASSIGN', handle: 'H:t:1', functionName: 'fn', payload: Buffer.from('a\0b') },
      {
        type: 'JOB_ASSIGN_UNIQ',
        handle: 'H:t:2',
        functionName: 'fn',
        unique: '',
        payload: Buffer.alloc(0),
      },
      {
        type: 'JOB_ASSIGN_UNIQ',
        handle: 'H:t:3',
        functionName: 'fn',
        unique: '-',
        payload: Buffer.from('c'),
      },
    ]);
    // The job kept the submission's bytes, and its payload is their tail.
    const job = dispatcher.store.find('H:t:1');
    expect(job?.wire).toEqual(submitBytes('u1', 'a\0b').subarray(12));
    expect(job?.payload).toEqual(Buffer.from('a\0b'));
  });

  test('a handle prefix beyond ASCII is encoded as UTF-8 in JOB_CREATED and JOB_ASSIGN_UNIQ', () => {
    const { dispatcher, peer } = setup({ handlePrefix: 'H:é' });
    const client = peer();
    const worker = peer();
    deliver(dispatcher, client, submitBytes('u', 'p'));
    expect(client.take()).toEqual([{ type: 'JOB_CREATED', handle: 'H:é:1' }]);
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'fn' }, { type: 'GRAB_JOB_UNIQ' });
    expect(worker.take()).toEqual([
      {
        type: 'JOB_ASSIGN_UNIQ',
        handle: 'H:é:1',
        functionName: 'fn',
        unique: 'u',
        payload: Buffer.from('p'),
      },
    ]);
  });
});

describe('sleeping and waking (protocol.md 5.2)', () => {
  test('one NOOP per sleep, whatever the number of new jobs; GRAB starts over', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    const idle = peer();
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' }, { type: 'PRE_SLEEP' });
    from(dispatcher, idle, { type: 'CAN_DO', functionName: 'f' }); // never sleeps: no NOOP
    from(dispatcher, client, submit('f'), submit('f'));
    expect(types(worker.take())).toEqual(['NOOP']);
    expect(idle.take()).toEqual([]);
    from(dispatcher, worker, { type: 'GRAB_JOB' }, { type: 'GRAB_JOB' }, { type: 'GRAB_JOB' });
    expect(types(worker.take())).toEqual(['JOB_ASSIGN', 'JOB_ASSIGN', 'NO_JOB']);
    from(dispatcher, worker, { type: 'PRE_SLEEP' });
    from(dispatcher, client, submit('f'));
    expect(types(worker.take())).toEqual(['NOOP']);
  });

  test('PRE_SLEEP with work pending is answered with NOOP at once, every time', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    from(dispatcher, client, submit('f'));
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' });
    from(dispatcher, worker, { type: 'PRE_SLEEP' }, { type: 'PRE_SLEEP' });
    expect(types(worker.take())).toEqual(['NOOP', 'NOOP']);
  });

  test('a job of another function does not wake the worker', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' }, { type: 'PRE_SLEEP' });
    from(dispatcher, client, submit('g'));
    expect(worker.take()).toEqual([]);
  });

  test('an epoch job that becomes due wakes sleeping workers (fixes section 11, item 26)', () => {
    vi.useFakeTimers({ now: 1_000_000_000_000 });
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' }, { type: 'PRE_SLEEP' });
    from(dispatcher, client, submit('f', '', 'now'));
    worker.take();
    from(dispatcher, worker, { type: 'GRAB_JOB' }, { type: 'GRAB_JOB' });
    expect(types(worker.take())).toEqual(['JOB_ASSIGN', 'NO_JOB']);
    from(dispatcher, client, {
      type: 'SUBMIT_JOB_EPOCH',
      functionName: 'f',
      unique: '',
      runAt: 1_000_000_000 + 5,
      payload: 'later',
    });
    // A low job of the same function is not held up by the pending epoch job (item 26).
    from(dispatcher, client, {
      type: 'SUBMIT_JOB_LOW',
      functionName: 'f',
      unique: '',
      payload: 'low',
    });
    from(dispatcher, worker, { type: 'GRAB_JOB' }, { type: 'GRAB_JOB' }, { type: 'PRE_SLEEP' });
    expect(
      worker.take().map((p) => (p.type === 'JOB_ASSIGN' ? p.payload.toString() : p.type)),
    ).toEqual(['low', 'NO_JOB']);
    vi.advanceTimersByTime(4_999);
    expect(worker.take()).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(types(worker.take())).toEqual(['NOOP']);
    from(dispatcher, worker, { type: 'GRAB_JOB' });
    expect(worker.take()).toMatchObject([{ type: 'JOB_ASSIGN', payload: Buffer.from('later') }]);
  });
});

describe('results (protocol.md 4.2, 6.4)', () => {
  function running() {
    const { dispatcher, peer } = setup();
    const a = peer();
    const b = peer();
    const worker = peer();
    from(dispatcher, a, submit('f', 'u'), submit('f', 'u'));
    from(dispatcher, b, submit('f', 'u'));
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' }, { type: 'GRAB_JOB' });
    a.take();
    b.take();
    worker.take();
    return { dispatcher, peer, a, b, worker };
  }

  test('WORK_* go to every waiter, once per submission', () => {
    const { dispatcher, a, b, worker } = running();
    from(
      dispatcher,
      worker,
      { type: 'WORK_DATA', handle: 'H:t:1', payload: 'chunk' },
      { type: 'WORK_STATUS', handle: 'H:t:1', numerator: 1, denominator: 2 },
      { type: 'WORK_COMPLETE', handle: 'H:t:1', payload: 'done' },
    );
    expect(types(a.take())).toEqual([
      'WORK_DATA',
      'WORK_DATA',
      'WORK_STATUS',
      'WORK_STATUS',
      'WORK_COMPLETE',
      'WORK_COMPLETE',
    ]);
    expect(b.take()).toEqual([
      { type: 'WORK_DATA', handle: 'H:t:1', payload: Buffer.from('chunk') },
      { type: 'WORK_STATUS', handle: 'H:t:1', numerator: 1, denominator: 2 },
      { type: 'WORK_COMPLETE', handle: 'H:t:1', payload: Buffer.from('done') },
    ]);
    expect(worker.take()).toEqual([]);
  });

  test('WORK_* results received as bytes reach every waiter as those bytes under \\0RES', () => {
    const { dispatcher, a, b, worker } = running();
    const large = Buffer.alloc(70_000, 'abc');
    const sent = [
      encodePacket({ type: 'WORK_DATA', handle: 'H:t:1', payload: 'chunk\0with NUL' }),
      encodePacket({ type: 'WORK_WARNING', handle: 'H:t:1', payload: '' }),
      encodePacket({ type: 'WORK_DATA', handle: 'H:t:1', payload: large }),
      encodePacket({ type: 'WORK_COMPLETE', handle: 'H:t:1', payload: 'done' }),
    ];
    // One chunk, as from a socket: the bodies are slices of it.
    deliver(dispatcher, worker, Buffer.concat(sent));
    const expected = Buffer.concat(
      sent.map((frame) => Buffer.concat([RES_MAGIC, frame.subarray(4)])),
    );
    expect(Buffer.concat(b.frames).equals(expected)).toBe(true);
    expect(types(a.take())).toEqual([
      'WORK_DATA',
      'WORK_DATA',
      'WORK_WARNING',
      'WORK_WARNING',
      'WORK_DATA',
      'WORK_DATA',
      'WORK_COMPLETE',
      'WORK_COMPLETE',
    ]);
    // A payload of 64 KiB or more goes out as its own frame, not copied.
    expect(b.frames.some((frame) => frame.length === large.length)).toBe(true);
    expect(worker.take()).toEqual([]);
  });

  test('WORK_EXCEPTION reaches clients with the option; others get WORK_FAIL with the bare handle', () => {
    const { dispatcher, a, b, worker } = running();
    from(dispatcher, b, { type: 'OPTION_REQ', option: 'exceptions' });
    expect(b.take()).toEqual([{ type: 'OPTION_RES', option: 'exceptions' }]);
    from(dispatcher, worker, { type: 'WORK_EXCEPTION', handle: 'H:t:1', payload: 'boom' });
    expect(a.frames.map((f) => f.toString('latin1'))).toEqual(
      Array(2).fill(
        encodePacket({ type: 'WORK_FAIL', handle: 'H:t:1' }, { magic: 'RES' }).toString('latin1'),
      ),
    );
    expect(b.take()).toEqual([
      { type: 'WORK_EXCEPTION', handle: 'H:t:1', payload: Buffer.from('boom') },
    ]);
  });

  test('WORK_STATUS numbers are kept as uint32, as gearmand does', () => {
    const { dispatcher, a, worker } = running();
    deliver(dispatcher, worker, rawFrame('WORK_STATUS', ['H:t:1', '-5', '1x']));
    from(dispatcher, a, { type: 'GET_STATUS', handle: 'H:t:1' });
    expect(a.take()).toEqual([
      { type: 'WORK_STATUS', handle: 'H:t:1', numerator: 4294967291, denominator: 1 },
      { type: 'WORK_STATUS', handle: 'H:t:1', numerator: 4294967291, denominator: 1 },
      {
        type: 'STATUS_RES',
        handle: 'H:t:1',
        known: true,
        running: true,
        numerator: 4294967291,
        denominator: 1,
      },
    ]);
  });

  test('WORK_* for a job the connection does not hold get JOB_NOT_FOUND with gearmand messages', () => {
    const { dispatcher, peer } = running();
    const other = peer();
    from(
      dispatcher,
      other,
      { type: 'WORK_DATA', handle: 'H:t:1', payload: 'x' },
      { type: 'WORK_WARNING', handle: 'H:t:1', payload: 'x' },
      { type: 'WORK_STATUS', handle: 'H:t:1', numerator: 1, denominator: 2 },
      { type: 'WORK_COMPLETE', handle: 'H:t:9', payload: 'x' },
      { type: 'WORK_FAIL', handle: 'H:t:1' },
      { type: 'WORK_EXCEPTION', handle: 'H:t:1', payload: 'x' },
    );
    const messages = other
      .take()
      .map((p) => (p.type === 'ERROR' ? `${p.code}: ${p.message}` : p.type));
    expect(messages).toEqual([
      'JOB_NOT_FOUND: Job does not exist on server',
      'JOB_NOT_FOUND: Job does not exist on server',
      'JOB_NOT_FOUND: Job given in work result not found',
      'JOB_NOT_FOUND: Job given in work result not found',
      'JOB_NOT_FOUND: Job given in work result not found',
      'JOB_NOT_FOUND: An exception was received for a job that does not exist',
    ]);
  });

  test('a worker holding many jobs reports on each, oldest first or newest first', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    const other = peer();
    for (let i = 0; i < 12; i++) from(dispatcher, client, submit('f', `u${i}`));
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' });
    for (let i = 0; i < 12; i++) from(dispatcher, worker, { type: 'GRAB_JOB' });
    client.take();
    worker.take();
    // Another connection cannot report on them, wherever they are in the worker's list.
    from(dispatcher, other, { type: 'WORK_COMPLETE', handle: 'H:t:1', payload: '' });
    expect(types(other.take())).toEqual(['ERROR']);
    const order = [1, 12, 2, 11, 3, 10, 4, 9, 5, 8, 6, 7];
    for (const n of order) {
      from(dispatcher, worker, { type: 'WORK_COMPLETE', handle: `H:t:${n}`, payload: `${n}` });
    }
    expect(worker.take()).toEqual([]);
    expect(client.take().map((p) => (p.type === 'WORK_COMPLETE' ? p.handle : p.type))).toEqual(
      order.map((n) => `H:t:${n}`),
    );
    expect(dispatcher.running).toBe(0);
  });

  test('a finished job is unknown to GET_STATUS and its unique is free again', () => {
    const { dispatcher, a, worker } = running();
    from(dispatcher, worker, { type: 'WORK_COMPLETE', handle: 'H:t:1', payload: '' });
    a.take();
    from(dispatcher, a, { type: 'GET_STATUS', handle: 'H:t:1' }, submit('f', 'u'));
    expect(a.take()).toEqual([
      {
        type: 'STATUS_RES',
        handle: 'H:t:1',
        known: false,
        running: false,
        numerator: 0,
        denominator: 0,
      },
      { type: 'JOB_CREATED', handle: 'H:t:2' },
    ]);
  });

  test('a worker feeding a congested client is paused until that client drains', () => {
    const { dispatcher, a, b, worker } = running();
    b.isCongested = true;
    from(dispatcher, worker, { type: 'WORK_DATA', handle: 'H:t:1', payload: 'x' });
    expect(worker.pausedFor).toEqual([b]);
    expect(a.take()).toHaveLength(2);
  });
});

describe('status, options, echo (protocol.md 4.4)', () => {
  test('GET_STATUS_UNIQUE reports the job and its foreground waiters', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    from(dispatcher, client, submit('f', 'u'), submit('f', 'u'));
    from(dispatcher, client, { type: 'GET_STATUS_UNIQUE', unique: 'u' });
    from(dispatcher, client, { type: 'GET_STATUS_UNIQUE', unique: 'nope' });
    expect(client.take().slice(2)).toEqual([
      {
        type: 'STATUS_RES_UNIQUE',
        unique: 'u',
        known: true,
        running: false,
        numerator: 0,
        denominator: 0,
        waitingClients: 2,
      },
      {
        type: 'STATUS_RES_UNIQUE',
        unique: 'nope',
        known: false,
        running: false,
        numerator: 0,
        denominator: 0,
        waitingClients: 0,
      },
    ]);
  });

  test('OPTION_RES echoes the body byte for byte; other options get UNKNOWN_OPTION', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    deliver(dispatcher, client, rawFrame('OPTION_REQ', ['EXCEPTIONS\0']));
    from(dispatcher, client, { type: 'OPTION_REQ', option: 'nope' });
    expect(client.take()).toEqual([
      { type: 'OPTION_RES', option: 'EXCEPTIONS\0' },
      { type: 'ERROR', code: 'UNKNOWN_OPTION', message: 'Server does not recognize given option' },
    ]);
    expect(client.exceptions).toBe(true);
  });

  test('ECHO_REQ is answered with the same bytes', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    from(dispatcher, client, { type: 'ECHO_REQ', payload: Buffer.from([0, 1, 0, 255]) });
    expect(client.take()).toEqual([{ type: 'ECHO_RES', payload: Buffer.from([0, 1, 0, 255]) }]);
  });
});

describe('losing workers (protocol.md 5.4, 5.5)', () => {
  test('a closed worker’s jobs go to the tail of their queue, newest first, progress reset', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    from(dispatcher, client, submit('f', '', '1'), submit('f', '', '2'), submit('f', '', '3'));
    from(
      dispatcher,
      worker,
      { type: 'CAN_DO', functionName: 'f' },
      { type: 'GRAB_JOB' },
      { type: 'GRAB_JOB' },
    );
    from(dispatcher, worker, {
      type: 'WORK_STATUS',
      handle: 'H:t:1',
      numerator: 1,
      denominator: 2,
    });
    dispatcher.detach(worker);
    client.take();
    from(dispatcher, client, { type: 'GET_STATUS', handle: 'H:t:1' });
    expect(client.take()).toEqual([
      {
        type: 'STATUS_RES',
        handle: 'H:t:1',
        known: true,
        running: false,
        numerator: 0,
        denominator: 0,
      },
    ]);
    const next = peer();
    from(dispatcher, next, { type: 'CAN_DO', functionName: 'f' });
    for (let i = 0; i < 3; i++) from(dispatcher, next, { type: 'GRAB_JOB' });
    expect(
      next.take().map((p) => (p.type === 'JOB_ASSIGN' ? p.payload.toString() : p.type)),
    ).toEqual(['3', '2', '1']);
    expect([...dispatcher.store.jobs.values()].map((job) => job.retries)).toEqual([1, 1, 0]);
  });

  test('CANT_DO and RESET_ABILITIES take back the jobs of the functions removed', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    from(dispatcher, client, submit('f'), submit('g'));
    from(
      dispatcher,
      worker,
      { type: 'CAN_DO', functionName: 'f' },
      { type: 'CAN_DO', functionName: 'g' },
    );
    from(dispatcher, worker, { type: 'GRAB_JOB' }, { type: 'GRAB_JOB' });
    from(dispatcher, worker, { type: 'CANT_DO', functionName: 'f' });
    expect(dispatcher.store.function('f').running).toBe(0);
    expect(dispatcher.store.function('g').running).toBe(1);
    from(dispatcher, worker, { type: 'RESET_ABILITIES' });
    expect(dispatcher.store.function('g').running).toBe(0);
    expect(dispatcher.store.function('g').registrations).toBe(0);
    from(dispatcher, worker, { type: 'WORK_COMPLETE', handle: 'H:t:2', payload: '' });
    expect(worker.take().at(-1)).toMatchObject({ type: 'ERROR', code: 'JOB_NOT_FOUND' });
  });

  test('with jobRetries N the N-th loss fails the job: WORK_FAIL to waiters', () => {
    const { dispatcher, peer } = setup({ jobRetries: 2 });
    const client = peer();
    from(dispatcher, client, submit('f'));
    for (let attempt = 1; attempt <= 2; attempt++) {
      const worker = peer();
      from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' }, { type: 'GRAB_JOB' });
      expect(types(worker.take())).toEqual(['JOB_ASSIGN']);
      dispatcher.detach(worker);
    }
    expect(client.take()).toEqual([
      { type: 'JOB_CREATED', handle: 'H:t:1' },
      { type: 'WORK_FAIL', handle: 'H:t:1' },
    ]);
    expect(dispatcher.store.jobs.size).toBe(0);
  });

  test('an abandoned running job is not re-queued when its worker goes', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    from(dispatcher, client, submit('f'));
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' }, { type: 'GRAB_JOB' });
    dispatcher.detach(client);
    dispatcher.detach(worker);
    expect(dispatcher.store.jobs.size).toBe(0);
    expect(dispatcher.store.function('f').total).toBe(0);
  });

  test('a background request keeps a job whose foreground client left', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const other = peer();
    const worker = peer();
    from(dispatcher, client, submit('f', 'shared'));
    from(dispatcher, other, {
      type: 'SUBMIT_JOB_BG',
      functionName: 'f',
      unique: 'shared',
      payload: 'x',
    });
    dispatcher.detach(client);
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' }, { type: 'GRAB_JOB' });
    expect(types(worker.take())).toEqual(['JOB_ASSIGN']);
  });

  test('CAN_DO_TIMEOUT takes the job back after the timeout, per job, and re-queues it', () => {
    vi.useFakeTimers();
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    from(dispatcher, client, submit('f', '', '1'), submit('f', '', '2'));
    from(dispatcher, worker, { type: 'CAN_DO_TIMEOUT', functionName: 'f', timeout: 10 });
    from(dispatcher, worker, { type: 'GRAB_JOB' });
    vi.advanceTimersByTime(500);
    from(dispatcher, worker, { type: 'WORK_COMPLETE', handle: 'H:t:1', payload: '' });
    from(dispatcher, worker, { type: 'PRE_SLEEP' }); // does not cancel anything here
    from(dispatcher, worker, { type: 'GRAB_JOB' });
    worker.take();
    vi.advanceTimersByTime(999); // raised to one second, as gearmand does
    expect(dispatcher.store.function('f').running).toBe(1);
    vi.advanceTimersByTime(1);
    expect(dispatcher.store.function('f').running).toBe(0);
    expect(dispatcher.store.find('H:t:2')?.retries).toBe(1);
    from(dispatcher, worker, { type: 'WORK_COMPLETE', handle: 'H:t:2', payload: '' });
    expect(worker.take()).toMatchObject([{ type: 'ERROR', code: 'JOB_NOT_FOUND' }]);
    from(dispatcher, worker, { type: 'GRAB_JOB' });
    expect(worker.take()).toMatchObject([{ type: 'JOB_ASSIGN', handle: 'H:t:2' }]);
  });

  test('CAN_DO_TIMEOUT with jobRetries fails the job on its last timeout', () => {
    vi.useFakeTimers();
    const { dispatcher, peer } = setup({ jobRetries: 1 });
    const client = peer();
    const worker = peer();
    from(dispatcher, client, submit('f'));
    from(dispatcher, worker, { type: 'CAN_DO_TIMEOUT', functionName: 'f', timeout: 2000 });
    from(dispatcher, worker, { type: 'GRAB_JOB' });
    vi.advanceTimersByTime(2000);
    expect(types(client.take())).toEqual(['JOB_CREATED', 'WORK_FAIL']);
  });
});

describe('admin actions', () => {
  test('cancel job: WORK_FAIL to waiters, nothing afterwards, unique free at once', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    from(dispatcher, client, submit('f', 'u'));
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' }, { type: 'GRAB_JOB' });
    client.take();
    expect(dispatcher.handleAdmin(client, 'cancel job H:t:1')).toBe(true);
    expect(client.frames.map((f) => f.toString('latin1')).join('')).toBe(
      `${encodePacket({ type: 'WORK_FAIL', handle: 'H:t:1' }, { magic: 'RES' }).toString('latin1')}OK\r\n`,
    );
    client.frames = [];
    from(dispatcher, worker, { type: 'WORK_COMPLETE', handle: 'H:t:1', payload: 'late' });
    expect(client.take()).toEqual([]);
    expect(worker.take()).toEqual([expect.objectContaining({ type: 'JOB_ASSIGN' })]);
    from(dispatcher, client, submit('f', 'u'));
    expect(client.take()).toEqual([{ type: 'JOB_CREATED', handle: 'H:t:2' }]);
  });

  test('cancel job on a pending epoch job removes it', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    from(dispatcher, client, {
      type: 'SUBMIT_JOB_EPOCH',
      functionName: 'f',
      unique: '',
      runAt: Math.floor(Date.now() / 1000) + 3600,
      payload: 'x',
    });
    dispatcher.handleAdmin(client, 'cancel job H:t:1');
    expect(dispatcher.store.function('f').total).toBe(0);
    expect(dispatcher.store.function('f').delayed).toBe(0);
  });

  test('drop function refuses functions with jobs (section 11, item 32)', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    from(dispatcher, client, {
      type: 'SUBMIT_JOB_BG',
      functionName: 'f',
      unique: '',
      payload: 'x',
    });
    client.take();
    dispatcher.handleAdmin(client, 'drop function f');
    dispatcher.handleAdmin(client, 'create function g');
    dispatcher.handleAdmin(client, 'drop function g');
    expect(client.text()).toBe(
      'ERR there are still connected workers or executing clients\r\nOK\r\nOK\r\n',
    );
  });

  test('maxqueue limits a function that exists; ERROR QUEUE_ERROR when full', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    dispatcher.handleAdmin(client, 'maxqueue f 1');
    dispatcher.handleAdmin(client, 'create function f');
    dispatcher.handleAdmin(client, 'maxqueue f 1');
    client.text();
    from(dispatcher, client, submit('f'), submit('f'), submit('f', 'u'));
    expect(types(client.take())).toEqual(['JOB_CREATED', 'ERROR', 'ERROR']);
  });

  test('shutdown answers OK and calls onShutdown', () => {
    const { dispatcher, peer, shutdowns } = setup();
    const client = peer();
    dispatcher.handleAdmin(client, 'shutdown graceful');
    expect(client.text()).toBe('OK\r\n');
    expect(shutdowns).toEqual([true]);
  });
});

describe('draining', () => {
  test('resolves when the last running job ends; refuses submissions and grabs meanwhile', async () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    from(dispatcher, client, submit('f'), submit('f'));
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' }, { type: 'GRAB_JOB' });
    client.take();
    worker.take();
    let drained = false;
    const drain = dispatcher.drain(60_000).then(() => {
      drained = true;
    });
    from(dispatcher, client, submit('f'));
    from(dispatcher, worker, { type: 'GRAB_JOB' });
    expect(client.take()).toEqual([
      { type: 'ERROR', code: 'SHUTDOWN_GRACEFUL', message: 'Server is shutting down' },
    ]);
    expect(worker.take()).toEqual([{ type: 'NO_JOB' }]);
    await Promise.resolve();
    expect(drained).toBe(false);
    from(dispatcher, worker, { type: 'WORK_COMPLETE', handle: 'H:t:1', payload: 'ok' });
    await drain;
    expect(client.take()).toMatchObject([{ type: 'WORK_COMPLETE', handle: 'H:t:1' }]);
  });

  test('gives up after the timeout', async () => {
    vi.useFakeTimers();
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    from(dispatcher, client, submit('f'));
    from(dispatcher, worker, { type: 'CAN_DO', functionName: 'f' }, { type: 'GRAB_JOB' });
    const drain = dispatcher.drain(1000);
    vi.advanceTimersByTime(1000);
    await drain;
  });
});
