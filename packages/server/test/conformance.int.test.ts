import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodePacket, type Packet, type PacketInit } from '@gearmanode/protocol';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { uniqueName } from '../../../test/helpers.js';
import { rawFrame } from './frames.js';
import { ownTarget, sharedTarget } from './target.js';
import { Wire } from './wire.js';

/**
 * Conformance of a job server with gearmand 1.1.20 as protocol.md describes it, over real
 * sockets, byte for byte through the codec. The suite runs against whatever `sharedTarget()`
 * picks: the embedded server, or a real gearmand. Where gearmand has a documented defect
 * (protocol.md section 11) the test says what each server does.
 */
const target = await sharedTarget();
const gearmand = target.kind === 'gearmand';
afterAll(() => target.close());

const opened: Wire[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((wire) => wire.close()));
});

async function open(endpoint: { host: string; port: number } = target): Promise<Wire> {
  const wire = await Wire.open(endpoint);
  opened.push(wire);
  return wire;
}

async function handleOf(wire: Wire): Promise<string> {
  const reply = await wire.packet();
  if (reply.type !== 'JOB_CREATED')
    throw new Error(`expected JOB_CREATED, got ${JSON.stringify(reply)}`);
  return reply.handle;
}

async function worker(...functions: string[]): Promise<Wire> {
  const wire = await open();
  await wire.send(...functions.map((functionName) => ({ type: 'CAN_DO', functionName }) as const));
  return wire;
}

const bytes = (text: string) => Buffer.from(text);
const payloadOf = (packet: Packet) =>
  'payload' in packet ? packet.payload.toString() : packet.type;
const submit = (functionName: string, unique = '', payload = 'x'): PacketInit => ({
  type: 'SUBMIT_JOB',
  functionName,
  unique,
  payload,
});
const background = (functionName: string, unique = '', payload = 'x'): PacketInit => ({
  type: 'SUBMIT_JOB_BG',
  functionName,
  unique,
  payload,
});

describe(`replies (${target.kind})`, () => {
  test('every submit variant is answered with JOB_CREATED, in request order', async () => {
    const client = await open();
    const base = { functionName: uniqueName('variants'), unique: '', payload: 'x' };
    await client.send(
      { type: 'SUBMIT_JOB', ...base },
      { type: 'SUBMIT_JOB_BG', ...base },
      { type: 'SUBMIT_JOB_HIGH', ...base },
      { type: 'SUBMIT_JOB_HIGH_BG', ...base },
      { type: 'SUBMIT_JOB_LOW', ...base },
      { type: 'SUBMIT_JOB_LOW_BG', ...base },
      { type: 'SUBMIT_JOB_EPOCH', ...base, runAt: 0 },
      { type: 'SUBMIT_REDUCE_JOB', ...base, reducer: 'r', aggregator: '' },
      { type: 'SUBMIT_REDUCE_JOB_BACKGROUND', ...base, reducer: 'r', aggregator: '' },
      { type: 'ECHO_REQ', payload: 'last' },
    );
    const replies = await client.packets(10);
    expect(replies.map((reply) => reply.type)).toEqual([
      ...Array(9).fill('JOB_CREATED'),
      'ECHO_RES',
    ]);
    const handles = replies.flatMap((reply) =>
      reply.type === 'JOB_CREATED' ? [reply.handle] : [],
    );
    expect(new Set(handles).size).toBe(9);
  });

  test('1000 SUBMIT_JOB_BG in one write get 1000 JOB_CREATED in order, handles increasing', async () => {
    const client = await open();
    const functionName = uniqueName('burst');
    await client.send(
      ...Array.from({ length: 1000 }, (_, i) => background(functionName, '', String(i))),
    );
    const numbers: number[] = [];
    for (let i = 0; i < 1000; i++) numbers.push(Number((await handleOf(client)).split(':').at(-1)));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    const runner = await worker(functionName);
    await runner.send(...Array.from({ length: 1000 }, () => ({ type: 'GRAB_JOB' }) as const));
    const payloads = (await runner.packets(1000)).map(payloadOf);
    expect(payloads).toEqual(Array.from({ length: 1000 }, (_, i) => String(i)));
  });

  test('binary packets and admin lines on one connection are answered in order', async () => {
    const client = await open();
    await client.send({ type: 'ECHO_REQ', payload: 'first' }, 'version\r\n', {
      type: 'ECHO_REQ',
      payload: 'second',
    });
    expect(await client.packet()).toEqual({ type: 'ECHO_RES', payload: bytes('first') });
    expect(await client.line()).toMatch(/^OK \d+\.\d+/);
    expect(await client.packet()).toEqual({ type: 'ECHO_RES', payload: bytes('second') });
  });

  test('ECHO_RES carries the payload unchanged, NUL bytes included', async () => {
    const client = await open();
    const payload = Buffer.from([0, 1, 0, 0xff, 0x52, 0x45, 0x53, 0]);
    await client.send({ type: 'ECHO_REQ', payload });
    expect(await client.packet()).toEqual({ type: 'ECHO_RES', payload });
  });
});

describe(`priorities (${target.kind})`, () => {
  test('within a function: high, then normal, then low; first in, first out within each', async () => {
    const client = await open();
    const functionName = uniqueName('prio');
    const job = (type: PacketInit['type'], payload: string) =>
      ({ type, functionName, unique: '', payload }) as PacketInit;
    await client.send(
      job('SUBMIT_JOB_LOW_BG', 'l1'),
      job('SUBMIT_JOB_BG', 'n1'),
      job('SUBMIT_JOB_HIGH_BG', 'h1'),
      job('SUBMIT_JOB_LOW_BG', 'l2'),
      job('SUBMIT_JOB_BG', 'n2'),
      job('SUBMIT_JOB_HIGH_BG', 'h2'),
    );
    await client.packets(6);
    const runner = await worker(functionName);
    await runner.send(...Array.from({ length: 7 }, () => ({ type: 'GRAB_JOB' }) as const));
    expect((await runner.packets(7)).map(payloadOf)).toEqual([
      'h1',
      'h2',
      'n1',
      'n2',
      'l1',
      'l2',
      'NO_JOB',
    ]);
  });

  test('across functions the most recently registered one wins, whatever the priority', async () => {
    const client = await open();
    const older = uniqueName('older');
    const newer = uniqueName('newer');
    await client.send(
      { type: 'SUBMIT_JOB_HIGH_BG', functionName: older, unique: '', payload: 'older-high' },
      { type: 'SUBMIT_JOB_LOW_BG', functionName: newer, unique: '', payload: 'newer-low' },
    );
    await client.packets(2);
    const runner = await worker(older, newer);
    await runner.send({ type: 'GRAB_JOB' }, { type: 'GRAB_JOB' });
    expect((await runner.packets(2)).map(payloadOf)).toEqual(['newer-low', 'older-high']);
  });
});

describe(`coalescing (${target.kind})`, () => {
  test('the same unique from two connections shares one job; both get its result', async () => {
    const functionName = uniqueName('share');
    const a = await open();
    const b = await open();
    await a.send(submit(functionName, 'u', 'from a'));
    const handle = await handleOf(a);
    await b.send(submit(functionName, 'u', 'from b'));
    expect(await handleOf(b)).toBe(handle);
    const runner = await worker(functionName);
    await runner.send({ type: 'GRAB_JOB' });
    expect(payloadOf(await runner.packet())).toBe('from a');
    await runner.send({ type: 'WORK_COMPLETE', handle, payload: 'done' });
    const complete = { type: 'WORK_COMPLETE', handle, payload: bytes('done') };
    expect(await a.packet()).toEqual(complete);
    expect(await b.packet()).toEqual(complete);
  });

  test('the same unique twice on one connection: two JOB_CREATED, every WORK_* twice', async () => {
    const functionName = uniqueName('twice');
    const client = await open();
    await client.send(submit(functionName, 'u'), submit(functionName, 'u'));
    const [first, second] = [await handleOf(client), await handleOf(client)];
    expect(second).toBe(first);
    const runner = await worker(functionName);
    await runner.send({ type: 'GRAB_JOB' });
    await runner.packet();
    await runner.send(
      { type: 'WORK_DATA', handle: first, payload: 'chunk' },
      { type: 'WORK_STATUS', handle: first, numerator: 1, denominator: 2 },
      { type: 'WORK_COMPLETE', handle: first, payload: 'done' },
    );
    expect((await client.packets(6)).map((p) => p.type)).toEqual([
      'WORK_DATA',
      'WORK_DATA',
      'WORK_STATUS',
      'WORK_STATUS',
      'WORK_COMPLETE',
      'WORK_COMPLETE',
    ]);
    await client.silence();
  });

  test('unique `-` coalesces identical payloads; with an empty payload it never coalesces', async () => {
    const functionName = uniqueName('dash');
    const client = await open();
    await client.send(
      background(functionName, '-', 'same'),
      background(functionName, '-', 'same'),
      background(functionName, '-', 'other'),
      background(functionName, 'same', 'x'),
      background(functionName, '-', ''),
      background(functionName, '-', ''),
    );
    const handles: string[] = [];
    for (let i = 0; i < 6; i++) handles.push(await handleOf(client));
    expect(handles[1]).toBe(handles[0]);
    expect(new Set(handles).size).toBe(5);
    const runner = await worker(functionName);
    await runner.send({ type: 'GRAB_JOB_UNIQ' });
    expect(await runner.packet()).toEqual({
      type: 'JOB_ASSIGN_UNIQ',
      handle: handles[0],
      functionName,
      unique: '-',
      payload: bytes('same'),
    });
  });

  test('once a job has finished, its unique creates a new job', async () => {
    const functionName = uniqueName('free');
    const client = await open();
    await client.send(background(functionName, 'u'));
    const first = await handleOf(client);
    const runner = await worker(functionName);
    await runner.send({ type: 'GRAB_JOB' });
    await runner.packet();
    await runner.send(
      { type: 'WORK_COMPLETE', handle: first, payload: '' },
      { type: 'ECHO_REQ', payload: '' },
    );
    await runner.packet();
    await client.send(background(functionName, 'u'));
    expect(await handleOf(client)).not.toBe(first);
  });

  test('a background request coalesced onto a foreground job survives the foreground client leaving', async () => {
    const functionName = uniqueName('bgkeep');
    const foreground = await open();
    const backgroundClient = await open();
    await foreground.send(submit(functionName, 'shared'));
    const handle = await handleOf(foreground);
    await backgroundClient.send(background(functionName, 'shared'));
    expect(await handleOf(backgroundClient)).toBe(handle);
    await foreground.close();
    await sleep(100);
    const runner = await worker(functionName);
    await runner.send({ type: 'GRAB_JOB' });
    if (gearmand) {
      // Section 11, item 23 (hazard): the job is abandoned and the background request lost.
      expect(await runner.packet()).toEqual({ type: 'NO_JOB' });
    } else {
      expect(await runner.packet()).toMatchObject({ type: 'JOB_ASSIGN', handle });
    }
  });

  test('a foreground client that leaves abandons its queued job: GRAB skips it', async () => {
    const functionName = uniqueName('abandon');
    const client = await open();
    await client.send(submit(functionName, '', 'abandoned'));
    await handleOf(client);
    const other = await open();
    await other.send(background(functionName, '', 'kept'));
    await handleOf(other);
    await client.close();
    await sleep(100);
    const runner = await worker(functionName);
    await runner.send({ type: 'GRAB_JOB' }, { type: 'GRAB_JOB' });
    expect((await runner.packets(2)).map(payloadOf)).toEqual(['kept', 'NO_JOB']);
  });
});

describe(`background and epoch jobs (${target.kind})`, () => {
  test('a background submitter gets JOB_CREATED only; GET_STATUS follows the job', async () => {
    const functionName = uniqueName('bg');
    const client = await open();
    await client.send(background(functionName));
    const handle = await handleOf(client);
    const status = async () => {
      await client.send({ type: 'GET_STATUS', handle });
      return client.packet();
    };
    expect(await status()).toEqual({
      type: 'STATUS_RES',
      handle,
      known: true,
      running: false,
      numerator: 0,
      denominator: 0,
    });
    const runner = await worker(functionName);
    await runner.send(
      { type: 'GRAB_JOB' },
      { type: 'WORK_STATUS', handle, numerator: 3, denominator: 4 },
      { type: 'WORK_DATA', handle, payload: 'ignored' },
      { type: 'ECHO_REQ', payload: 'sync' },
    );
    await runner.packets(2);
    expect(await status()).toEqual({
      type: 'STATUS_RES',
      handle,
      known: true,
      running: true,
      numerator: 3,
      denominator: 4,
    });
    await runner.send(
      { type: 'WORK_COMPLETE', handle, payload: 'done' },
      { type: 'ECHO_REQ', payload: '' },
    );
    await runner.packet();
    expect(await status()).toMatchObject({ known: false, running: false });
    await client.silence();
  });

  test('an epoch job whose time has passed runs at once', async () => {
    const functionName = uniqueName('epoch-past');
    const client = await open();
    await client.send({
      type: 'SUBMIT_JOB_EPOCH',
      functionName,
      unique: '',
      runAt: Math.floor(Date.now() / 1000) - 10,
      payload: 'past',
    });
    await handleOf(client);
    const runner = await worker(functionName);
    await runner.send({ type: 'GRAB_JOB' });
    expect(payloadOf(await runner.packet())).toBe('past');
  });

  test('an epoch job is held until its time; when due it wakes sleeping workers (not on gearmand)', async () => {
    const functionName = uniqueName('epoch');
    const runner = await worker(functionName);
    const client = await open();
    const runAt = Math.floor(Date.now() / 1000) + 2;
    await client.send({
      type: 'SUBMIT_JOB_EPOCH',
      functionName,
      unique: '',
      runAt,
      payload: 'later',
    });
    await handleOf(client);
    await runner.send({ type: 'GRAB_JOB' }, { type: 'PRE_SLEEP' });
    expect(await runner.packet()).toEqual({ type: 'NO_JOB' });
    if (gearmand) {
      // Section 11, item 26: nothing announces the job when it becomes due; workers must poll.
      await runner.silence(runAt * 1000 - Date.now() + 500);
    } else {
      await runner.silence(runAt * 1000 - Date.now() - 200);
      expect(await runner.packet(3000)).toEqual({ type: 'NOOP' });
      expect(Date.now()).toBeGreaterThanOrEqual(runAt * 1000);
    }
    await runner.send({ type: 'GRAB_JOB' });
    expect(payloadOf(await runner.packet())).toBe('later');
  });

  test('a pending epoch job does not hold up the low jobs of its function (gearmand: it does)', async () => {
    const functionName = uniqueName('epoch-low');
    const client = await open();
    await client.send(
      {
        type: 'SUBMIT_JOB_EPOCH',
        functionName,
        unique: '',
        runAt: Math.floor(Date.now() / 1000) + 60,
        payload: 'later',
      },
      { type: 'SUBMIT_JOB_LOW_BG', functionName, unique: '', payload: 'low' },
    );
    await client.packets(2);
    const runner = await worker(functionName);
    await runner.send({ type: 'GRAB_JOB' });
    if (gearmand) {
      // Section 11, item 26 (hazard): gearmand looks no further than the normal queue, yet
      // PRE_SLEEP sees the low job and answers NOOP at once: a worker that trusts it spins.
      expect(await runner.packet()).toEqual({ type: 'NO_JOB' });
      await runner.send({ type: 'PRE_SLEEP' });
      expect(await runner.packet()).toEqual({ type: 'NOOP' });
    } else {
      expect(payloadOf(await runner.packet())).toBe('low');
    }
  });
});

describe(`reduce jobs (${target.kind})`, () => {
  test('GRAB_JOB_ALL gets JOB_ASSIGN_ALL with the reducer; other jobs come as JOB_ASSIGN_UNIQ', async () => {
    const functionName = uniqueName('reduce');
    const client = await open();
    await client.send(
      {
        type: 'SUBMIT_REDUCE_JOB',
        functionName,
        unique: 'r1',
        reducer: 'sum',
        aggregator: '',
        payload: Buffer.from('a\0b'),
      },
      {
        type: 'SUBMIT_REDUCE_JOB_BACKGROUND',
        functionName,
        unique: 'r2',
        reducer: 'max',
        aggregator: '',
        payload: 'c',
      },
      submit(functionName, 'r3', 'd'),
    );
    const [h1, h2, h3] = [await handleOf(client), await handleOf(client), await handleOf(client)];
    const runner = await worker(functionName);
    await runner.send(
      { type: 'GRAB_JOB_ALL' },
      { type: 'GRAB_JOB_UNIQ' },
      { type: 'GRAB_JOB_ALL' },
    );
    expect(await runner.packets(3)).toEqual([
      {
        type: 'JOB_ASSIGN_ALL',
        handle: h1,
        functionName,
        unique: 'r1',
        reducer: 'sum',
        payload: Buffer.from('a\0b'),
      },
      { type: 'JOB_ASSIGN_UNIQ', handle: h2, functionName, unique: 'r2', payload: bytes('c') },
      { type: 'JOB_ASSIGN_UNIQ', handle: h3, functionName, unique: 'r3', payload: bytes('d') },
    ]);
    await runner.send({ type: 'WORK_COMPLETE', handle: h1, payload: 'reduced' });
    expect(await client.packet()).toEqual({
      type: 'WORK_COMPLETE',
      handle: h1,
      payload: bytes('reduced'),
    });
  });
});

describe(`status, options, errors (${target.kind})`, () => {
  test('GET_STATUS of an unknown handle is 0 0 0 0', async () => {
    const client = await open();
    await client.send({ type: 'GET_STATUS', handle: 'H:nowhere:1' });
    expect(await client.packet()).toEqual({
      type: 'STATUS_RES',
      handle: 'H:nowhere:1',
      known: false,
      running: false,
      numerator: 0,
      denominator: 0,
    });
  });

  test('GET_STATUS_UNIQUE reports the job and its foreground waiters', async () => {
    const functionName = uniqueName('status-unique');
    const unique = uniqueName('u');
    const a = await open();
    const b = await open();
    await a.send(submit(functionName, unique));
    const handle = await handleOf(a);
    await b.send(submit(functionName, unique), background(functionName, unique));
    await b.packets(2);
    const runner = await worker(functionName);
    await runner.send(
      { type: 'GRAB_JOB' },
      { type: 'WORK_STATUS', handle, numerator: 5, denominator: 10 },
      { type: 'ECHO_REQ', payload: '' },
    );
    await runner.packets(2);
    await a.packet();
    await a.send(
      { type: 'GET_STATUS_UNIQUE', unique },
      { type: 'GET_STATUS_UNIQUE', unique: 'nope' },
    );
    expect(await a.packets(2)).toEqual([
      {
        type: 'STATUS_RES_UNIQUE',
        unique,
        known: true,
        running: true,
        numerator: 5,
        denominator: 10,
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

  test('OPTION_REQ exceptions in any case is echoed; other options get UNKNOWN_OPTION', async () => {
    const client = await open();
    await client.send(
      { type: 'OPTION_REQ', option: 'Exceptions' },
      { type: 'OPTION_REQ', option: 'chunked' },
    );
    expect(await client.packets(2)).toEqual([
      { type: 'OPTION_RES', option: 'Exceptions' },
      { type: 'ERROR', code: 'UNKNOWN_OPTION', message: 'Server does not recognize given option' },
    ]);
  });

  test('WORK_EXCEPTION reaches clients with the option; the others get WORK_FAIL', async () => {
    const functionName = uniqueName('exception');
    const plain = await open();
    const withOption = await open();
    await withOption.send({ type: 'OPTION_REQ', option: 'exceptions' });
    await withOption.packet();
    await plain.send(submit(functionName, 'e'));
    const handle = await handleOf(plain);
    await withOption.send(submit(functionName, 'e'));
    await handleOf(withOption);
    const runner = await worker(functionName);
    await runner.send({ type: 'GRAB_JOB' });
    await runner.packet();
    await runner.send({ type: 'WORK_EXCEPTION', handle, payload: 'boom' });
    expect(await withOption.packet()).toEqual({
      type: 'WORK_EXCEPTION',
      handle,
      payload: bytes('boom'),
    });
    const fail = await plain.rawPacket();
    expect(fail.type).toBe(14); // WORK_FAIL
    // Section 11, item 11: gearmand appends a NUL to the handle; the embedded server does not.
    expect(fail.body.toString('latin1')).toBe(gearmand ? `${handle}\0` : handle);
  });

  test('WORK_* for a job this connection does not hold get ERROR JOB_NOT_FOUND', async () => {
    const client = await open();
    await client.send(
      { type: 'WORK_DATA', handle: 'H:nowhere:1', payload: 'x' },
      { type: 'WORK_COMPLETE', handle: 'H:nowhere:1', payload: 'x' },
      { type: 'WORK_EXCEPTION', handle: 'H:nowhere:1', payload: 'x' },
    );
    expect(await client.packets(3)).toEqual([
      { type: 'ERROR', code: 'JOB_NOT_FOUND', message: 'Job does not exist on server' },
      { type: 'ERROR', code: 'JOB_NOT_FOUND', message: 'Job given in work result not found' },
      {
        type: 'ERROR',
        code: 'JOB_NOT_FOUND',
        message: 'An exception was received for a job that does not exist',
      },
    ]);
  });

  test('maxqueue: a new job at the limit gets ERROR QUEUE_ERROR; a coalescing one does not', async () => {
    const functionName = uniqueName('maxqueue');
    const admin = await open();
    expect(await admin.command(`create function ${functionName}`)).toBe('OK');
    expect(await admin.command(`maxqueue ${functionName} 1`)).toBe('OK');
    const client = await open();
    await client.send(
      background(functionName, 'only'),
      background(functionName, ''),
      background(functionName, 'only'),
    );
    const [first, full, again] = await client.packets(3);
    expect(first?.type).toBe('JOB_CREATED');
    expect(full).toEqual({ type: 'ERROR', code: 'QUEUE_ERROR', message: 'Job queue is full' });
    expect(again).toEqual(first);
    expect(await admin.command(`maxqueue ${functionName}`)).toBe('OK');
    await client.send(background(functionName, ''));
    expect((await client.packet()).type).toBe('JOB_CREATED');
  });
});

describe(`workers (${target.kind})`, () => {
  test('PRE_SLEEP: one NOOP per sleep; NOOP at once when work is pending; none without PRE_SLEEP', async () => {
    const functionName = uniqueName('sleep');
    const sleeper = await worker(functionName);
    const poller = await worker(functionName);
    await sleeper.send({ type: 'PRE_SLEEP' });
    await sleep(50);
    const client = await open();
    await client.send(background(functionName, '', '1'), background(functionName, '', '2'));
    await client.packets(2);
    expect(await sleeper.packet()).toEqual({ type: 'NOOP' });
    await sleeper.silence();
    await poller.silence(50);
    await sleeper.send({ type: 'PRE_SLEEP' });
    expect(await sleeper.packet()).toEqual({ type: 'NOOP' });
    await sleeper.send(
      { type: 'GRAB_JOB' },
      { type: 'GRAB_JOB' },
      { type: 'GRAB_JOB' },
      { type: 'PRE_SLEEP' },
    );
    expect((await sleeper.packets(3)).map((p) => p.type)).toEqual([
      'JOB_ASSIGN',
      'JOB_ASSIGN',
      'NO_JOB',
    ]);
    await sleeper.silence(100);
    await client.send(background(functionName, '', '3'));
    expect(await sleeper.packet()).toEqual({ type: 'NOOP' });
  });

  test('a lost worker’s job goes to the tail of its queue with its progress reset', async () => {
    const functionName = uniqueName('lost');
    const client = await open();
    await client.send(submit(functionName, '', 'A'), submit(functionName, '', 'B'));
    const [a] = [await handleOf(client), await handleOf(client)];
    const first = await worker(functionName);
    await first.send(
      { type: 'GRAB_JOB' },
      { type: 'WORK_STATUS', handle: a, numerator: 1, denominator: 2 },
    );
    expect(payloadOf(await first.packet())).toBe('A');
    expect(await client.packet()).toMatchObject({ type: 'WORK_STATUS', numerator: 1 });
    await first.close();
    await sleep(100);
    await client.send({ type: 'GET_STATUS', handle: a });
    expect(await client.packet()).toMatchObject({
      known: true,
      running: false,
      numerator: 0,
      denominator: 0,
    });
    const admin = await open();
    expect(await admin.list('show jobs')).toContain(`${a}\t1\t0\t0`);
    const second = await worker(functionName);
    await second.send({ type: 'GRAB_JOB' }, { type: 'GRAB_JOB' });
    expect((await second.packets(2)).map(payloadOf)).toEqual(['B', 'A']);
  });

  test('CANT_DO while holding a job gives it back', async () => {
    const functionName = uniqueName('cantdo');
    const client = await open();
    await client.send(background(functionName));
    await handleOf(client);
    const first = await worker(functionName);
    await first.send({ type: 'GRAB_JOB' });
    await first.packet();
    await first.send({ type: 'CANT_DO', functionName }, { type: 'ECHO_REQ', payload: '' });
    await first.packet();
    const second = await worker(functionName);
    await second.send({ type: 'GRAB_JOB' });
    expect((await second.packet()).type).toBe('JOB_ASSIGN');
  });

  test('with job retries N, the N-th lost attempt fails the job', async () => {
    const own = await ownTarget(target.kind, { jobRetries: 2 });
    try {
      const functionName = uniqueName('retries');
      const client = await open(own);
      await client.send(submit(functionName));
      const handle = await handleOf(client);
      for (let attempt = 1; attempt <= 2; attempt++) {
        const runner = await open(own);
        await runner.send({ type: 'CAN_DO', functionName }, { type: 'GRAB_JOB' });
        expect(await runner.packet()).toMatchObject({ type: 'JOB_ASSIGN', handle });
        await runner.close();
      }
      expect(await client.packet()).toEqual({ type: 'WORK_FAIL', handle });
      const last = await open(own);
      await last.send({ type: 'CAN_DO', functionName }, { type: 'GRAB_JOB' });
      expect(await last.packet()).toEqual({ type: 'NO_JOB' });
    } finally {
      await Promise.all(opened.splice(0).map((wire) => wire.close()));
      await own.close();
    }
  });

  test.skipIf(gearmand)(
    'CAN_DO_TIMEOUT re-queues a job its worker has held too long (per job; gearmand 1.1.20 is unsafe)',
    async () => {
      const functionName = uniqueName('timeout');
      const client = await open();
      await client.send(submit(functionName, '', 'slow'));
      const handle = await handleOf(client);
      const slow = await open();
      await slow.send(
        { type: 'CAN_DO_TIMEOUT', functionName, timeout: 1000 },
        { type: 'GRAB_JOB' },
      );
      expect(payloadOf(await slow.packet())).toBe('slow');
      await slow.send({ type: 'PRE_SLEEP' }); // cancels the timer on gearmand 1.1.20, not here
      await sleep(1300);
      // The job went back to the queue, which woke the sleeping worker itself.
      expect(await slow.packet()).toEqual({ type: 'NOOP' });
      await slow.send({ type: 'WORK_COMPLETE', handle, payload: 'too late' });
      expect(await slow.packet()).toMatchObject({ type: 'ERROR', code: 'JOB_NOT_FOUND' });
      const next = await worker(functionName);
      await next.send({ type: 'GRAB_JOB' });
      expect(await next.packet()).toMatchObject({ type: 'JOB_ASSIGN', handle });
      await next.send({ type: 'WORK_COMPLETE', handle, payload: 'ok' });
      expect(await client.packet()).toEqual({
        type: 'WORK_COMPLETE',
        handle,
        payload: bytes('ok'),
      });
    },
  );
});

describe(`admin commands (${target.kind})`, () => {
  test('status and prioritystatus count jobs and registrations per function', async () => {
    const functionName = uniqueName('adminstatus');
    const client = await open();
    const job = (type: PacketInit['type']) =>
      ({ type, functionName, unique: '', payload: 'x' }) as PacketInit;
    await client.send(
      job('SUBMIT_JOB_HIGH_BG'),
      job('SUBMIT_JOB_BG'),
      job('SUBMIT_JOB_BG'),
      job('SUBMIT_JOB_LOW_BG'),
    );
    await client.packets(4);
    const runner = await worker(functionName, functionName);
    await runner.send({ type: 'GRAB_JOB' });
    await runner.packet();
    const admin = await open();
    expect(await admin.list('status')).toContain(`${functionName}\t4\t1\t2`);
    expect(await admin.list('prioritystatus')).toContain(`${functionName}\t0\t2\t1\t2`);
  });

  test('workers lists every connection: fd, address, client id, functions newest first', async () => {
    const first = uniqueName('wa');
    const second = uniqueName('wb');
    const id = uniqueName('id');
    const runner = await open();
    await runner.send(
      { type: 'SET_CLIENT_ID', clientId: id },
      { type: 'CAN_DO', functionName: first },
      { type: 'CAN_DO', functionName: second },
    );
    const admin = await open();
    await sleep(50);
    const lines = await admin.list('workers');
    expect(lines.find((line) => line.includes(` ${id} `))).toMatch(
      new RegExp(`^\\d+ 127\\.0\\.0\\.1 ${id} : ${second} ${first}$`),
    );
    expect(lines.some((line) => /^\d+ 127\.0\.0\.1 - :$/.test(line))).toBe(true);
  });

  test('show jobs and show unique jobs list every job', async () => {
    const functionName = uniqueName('show');
    const unique = uniqueName('su');
    const client = await open();
    await client.send(background(functionName, unique), submit(functionName, ''));
    const [bg, fg] = [await handleOf(client), await handleOf(client)];
    const admin = await open();
    const jobs = await admin.list('show jobs');
    expect(jobs).toContain(`${bg}\t0\t0\t1`);
    expect(jobs).toContain(`${fg}\t0\t0\t0`);
    expect(await admin.list('show unique jobs')).toContain(unique);
  });

  test('getpid, version and verbose answer OK <value>', async () => {
    const admin = await open();
    expect(await admin.command('getpid')).toMatch(/^OK \d+$/);
    expect(await admin.command('version')).toMatch(/^OK \d+\.\d+\.\d+/);
    expect(await admin.command('verbose')).toMatch(/^OK [A-Z]+$/);
  });

  test('malformed commands get gearmand’s errors', async () => {
    const admin = await open();
    const expectations: [string, string][] = [
      ['nosuchcommand x', 'ERR UNKNOWN_COMMAND Unknown+server+commandnosuchcommand'],
      ['', 'ERR UNKNOWN_COMMAND Unknown+server+command'],
      ['show', 'ERR UNKNOWN_COMMAND Unknown+server+commandshow'],
      ['show foo', 'ERR UNKNOWN_SHOW_ARGUMENTS'],
      ['cancel job', 'ERR UNKNOWN_COMMAND Unknown+server+commandcancel'],
      ['cancel foo bar', 'ERR UNKNOWN_ERROR'],
      ['cancel job a b', 'ERR UNKNOWN_ERROR'],
      ['cancel job H:nowhere:1', 'ERR UNKNOWN_JOB'],
      [
        'create function',
        'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create',
      ],
      [
        'drop',
        'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+drop',
      ],
      [
        'maxqueue',
        'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue',
      ],
      [`drop function ${uniqueName('none')}`, 'ERR function not found'],
    ];
    for (const [line, response] of expectations) expect(await admin.command(line)).toBe(response);
  });

  test('cancel job sends WORK_FAIL to the waiters', async () => {
    const functionName = uniqueName('cancel');
    const client = await open();
    await client.send(submit(functionName, 'c'));
    const handle = await handleOf(client);
    const admin = await open();
    expect(await admin.command(`cancel job ${handle}`)).toBe('OK');
    expect(await client.packet()).toEqual({ type: 'WORK_FAIL', handle });
    const runner = await worker(functionName);
    await runner.send({ type: 'GRAB_JOB' });
    expect(await runner.packet()).toEqual({ type: 'NO_JOB' });
  });

  test('create function adds an empty function; drop function removes it', async () => {
    const functionName = uniqueName('created');
    const admin = await open();
    expect(await admin.command(`create function ${functionName}`)).toBe('OK');
    expect(await admin.list('status')).toContain(`${functionName}\t0\t0\t0`);
    expect(await admin.command(`drop function ${functionName}`)).toBe('OK');
    expect(await admin.list('status')).not.toContain(`${functionName}\t0\t0\t0`);
    expect(await admin.command(`drop function ${functionName}`)).toBe('ERR function not found');
  });

  test('drop function on a function with queued jobs is refused (gearmand orphans them)', async () => {
    const functionName = uniqueName('dropbusy');
    const client = await open();
    await client.send(background(functionName));
    await handleOf(client);
    const admin = await open();
    // Section 11, item 32 (hazard): gearmand answers OK and the job is never handed out.
    expect(await admin.command(`drop function ${functionName}`)).toBe(
      gearmand ? 'OK' : 'ERR there are still connected workers or executing clients',
    );
  });

  test('a line of six words or more drops the connection', async () => {
    const admin = await open();
    await admin.send('a b c d e f\r\n');
    expect(await admin.closesWithin(2000)).toBe(true);
  });

  // gearmand only: the embedded server has `shutdown` and would close under the other tests.
  test.runIf(gearmand)('shutdown is an unknown command on gearmand 1.1.20', async () => {
    const admin = await open();
    expect(await admin.command('shutdown graceful')).toBe(
      'ERR UNKNOWN_COMMAND Unknown+server+commandshutdown',
    );
  });
});

describe(`bad input affects only its own connection (${target.kind})`, () => {
  async function isolated(bad: Uint8Array | string): Promise<Wire> {
    const bystander = await open();
    const offender = await open();
    await offender.send(bad);
    await bystander.send({ type: 'ECHO_REQ', payload: 'still here' });
    expect(await bystander.packet()).toEqual({ type: 'ECHO_RES', payload: bytes('still here') });
    return offender;
  }

  test('a bad magic closes the connection', async () => {
    const offender = await isolated(rawFrame('ECHO_REQ', ['x'], { magic: '\0XYZ' }));
    expect(await offender.closesWithin(2000)).toBe(true);
  });

  test('an unknown packet type closes the connection', async () => {
    const offender = await isolated(rawFrame(43, ['x']));
    expect(await offender.closesWithin(2000)).toBe(true);
  });

  test.skipIf(gearmand)(
    'a type of 2^31 or more closes the connection (it crashes gearmand)',
    async () => {
      const offender = await isolated(rawFrame(2 ** 31, ['x']));
      expect(await offender.closesWithin(2000)).toBe(true);
    },
  );

  test('type 5 is refused (gearmand: ERROR INVALID_COMMAND; embedded: the codec closes)', async () => {
    const offender = await isolated(
      Buffer.concat([rawFrame(5), encodePacket({ type: 'ECHO_REQ', payload: 'x' })]),
    );
    if (gearmand) {
      expect(await offender.packet()).toEqual({
        type: 'ERROR',
        code: 'INVALID_COMMAND',
        message: 'Command not expected',
      });
    } else {
      expect(await offender.closesWithin(2000)).toBe(true);
    }
  });

  test('a size over the limit closes the connection before the body (gearmand waits for it)', async () => {
    const offender = await isolated(rawFrame('ECHO_REQ', [], { size: 64 * 1024 * 1024 + 1 }));
    // Section 11, item 5: gearmand reserves the memory and waits for the body.
    expect(await offender.closesWithin(gearmand ? 300 : 2000)).toBe(!gearmand);
  });

  test('a body with too few fields closes the connection', async () => {
    const offender = await isolated(
      Buffer.concat([
        rawFrame('SUBMIT_JOB', ['no-separators']),
        encodePacket({ type: 'ECHO_REQ', payload: 'x' }),
      ]),
    );
    expect(await offender.closesWithin(2000)).toBe(true);
  });

  test('a 64-byte unique gets ERROR ARGUMENT_TOO_LARGE (gearmand accepts and mangles it)', async () => {
    const functionName = uniqueName('long');
    const offender = await isolated(rawFrame('SUBMIT_JOB_BG', [functionName, 'u'.repeat(64), 'x']));
    const reply = await offender.packet();
    // Section 11, item 16 (hazard): gearmand stores it cut to 63 bytes.
    if (gearmand) expect(reply.type).toBe('JOB_CREATED');
    else
      expect(reply).toEqual({
        type: 'ERROR',
        code: 'ARGUMENT_TOO_LARGE',
        message: 'Unique value too large',
      });
  });

  test('a 65-byte unique gets ERROR ARGUMENT_TOO_LARGE and the connection goes on', async () => {
    const offender = await isolated(
      Buffer.concat([
        rawFrame('SUBMIT_JOB', [uniqueName('long'), 'u'.repeat(65), 'x']),
        encodePacket({ type: 'ECHO_REQ', payload: 'after' }),
      ]),
    );
    expect(await offender.packets(2)).toEqual([
      { type: 'ERROR', code: 'ARGUMENT_TOO_LARGE', message: 'Unique value too large' },
      { type: 'ECHO_RES', payload: bytes('after') },
    ]);
  });

  test('a request under \\0RES gets ERROR INVALID_MAGIC; a response type INVALID_COMMAND', async () => {
    const offender = await isolated(
      Buffer.concat([
        rawFrame('ECHO_REQ', ['x'], { magic: 'RES' }),
        rawFrame('JOB_CREATED', ['H:x:1']),
        rawFrame('ALL_YOURS'),
        encodePacket({ type: 'ECHO_REQ', payload: 'after' }),
      ]),
    );
    expect(await offender.packets(4)).toEqual([
      { type: 'ERROR', code: 'INVALID_MAGIC', message: 'Request magic expected' },
      { type: 'ERROR', code: 'INVALID_COMMAND', message: 'Command not expected' },
      { type: 'ERROR', code: 'INVALID_COMMAND', message: 'Command not expected' },
      { type: 'ECHO_RES', payload: bytes('after') },
    ]);
  });

  test('an admin line over 8 KiB closes the connection', async () => {
    const offender = await isolated(`${'x'.repeat(9000)}\r\n`);
    expect(await offender.closesWithin(2000)).toBe(true);
  });
});

describe(`backpressure (${target.kind})`, () => {
  test('a client that never reads stops being read (gearmand buffers everything)', async () => {
    const socket = connect({ host: target.host, port: target.port });
    socket.pause(); // never read a byte
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    try {
      const echo = encodePacket({ type: 'ECHO_REQ', payload: Buffer.alloc(1024 * 1024, 1) });
      for (let i = 0; i < 64; i++) socket.write(echo);
      await sleep(1500);
      const unsent = socket.writableLength;
      if (gearmand) {
        // gearmand reads everything and keeps 64 MiB of ECHO_RES for this one connection.
        expect(unsent).toBe(0);
      } else {
        // The server stopped reading at its high-water mark: most of it is still with us.
        expect(unsent).toBeGreaterThan(32 * 1024 * 1024);
      }
      const bystander = await open();
      await bystander.send({ type: 'ECHO_REQ', payload: 'unaffected' });
      expect(await bystander.packet()).toEqual({ type: 'ECHO_RES', payload: bytes('unaffected') });
    } finally {
      socket.destroy();
    }
  });
});
