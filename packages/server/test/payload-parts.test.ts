import { setImmediate as nextCheck } from 'node:timers/promises';
import {
  encodePacket,
  type Magic,
  type Packet,
  PacketDecoder,
  type PacketInit,
} from '@gearmanode/protocol';
import { describe, expect, test } from 'vitest';
import type { Dispatcher } from '../src/dispatcher.js';
import { GroupCommit, type QueueChange } from '../src/group-commit.js';
import { dedupeKey, JobStore } from '../src/job-store.js';
import type { Peer } from '../src/model.js';
import { type TestPeer, testDispatcher } from './test-peer.js';

/** Large payloads kept as the chunks they arrived in (the decoder's `onPayloadParts`). */

const setup = (durable?: GroupCommit) => testDispatcher({ durable });

/** A payload whose every byte differs from its neighbours', NULs included. */
function payloadOf(size: number, seed = 1): Buffer {
  const buf = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 31 + seed * 7) & 0xff;
  return buf;
}

/**
 * Sends packets from `peer` as a connection does, in chunks of `chunkSize` bytes (each a
 * buffer of its own, as a socket delivers them), with large payloads in parts.
 */
function deliverChunked(
  dispatcher: Dispatcher,
  peer: Peer,
  chunkSize: number,
  ...inits: PacketInit[]
): void {
  const bytes = Buffer.concat(inits.map((init) => encodePacket(init)));
  const decoder = new PacketDecoder(
    (packet, magic, body, start, end) =>
      dispatcher.handlePacket(peer, packet, magic, body, start, end),
    {
      onPayloadParts: (packet, magic, parts, fields) =>
        dispatcher.handlePacket(peer, packet, magic, fields, 0, fields.length, parts),
    },
  );
  for (let at = 0; at < bytes.length; at += chunkSize) {
    decoder.push(Buffer.from(bytes.subarray(at, at + chunkSize)));
  }
}

/** Decodes what `peer` was sent, with magics, and forgets it. */
function received(peer: TestPeer): { packet: Packet; magic: Magic }[] {
  const out: { packet: Packet; magic: Magic }[] = [];
  new PacketDecoder((packet, magic) => out.push({ packet, magic })).push(
    Buffer.concat(peer.frames),
  );
  peer.frames = [];
  return out;
}

function payloadOfPacket(packet: Packet | undefined): Buffer {
  if (packet === undefined || !('payload' in packet)) throw new Error('no payload');
  return packet.payload;
}

describe('a large job payload in parts', () => {
  test('is kept in parts, handed out in parts, never joined', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    const payload = payloadOf(1024 * 1024 + 3);
    deliverChunked(dispatcher, client, 65_536, {
      type: 'SUBMIT_JOB',
      functionName: 'f',
      unique: 'u',
      payload,
    });
    const job = dispatcher.store.find('H:t:1');
    const parts = job?.payloadParts;
    expect(parts?.length).toBe(17);
    expect(received(client).map(({ packet }) => packet)).toEqual([
      { type: 'JOB_CREATED', handle: 'H:t:1' },
    ]);
    deliverChunked(dispatcher, worker, 100, { type: 'CAN_DO', functionName: 'f' });
    deliverChunked(dispatcher, worker, 100, { type: 'GRAB_JOB' });
    // The head, then the very buffers the job holds.
    const sent = worker.frames.slice(1);
    expect(sent.length).toBe(17);
    expect(sent.every((frame, i) => frame === parts?.[i])).toBe(true);
    const [assign] = received(worker);
    expect(assign?.packet).toMatchObject({
      type: 'JOB_ASSIGN',
      handle: 'H:t:1',
      functionName: 'f',
    });
    expect(payloadOfPacket(assign?.packet).equals(payload)).toBe(true);
    expect(job?.payloadParts).toBe(parts);
  });

  test('goes out whole in JOB_ASSIGN_UNIQ and JOB_ASSIGN_ALL', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    const first = payloadOf(200_000, 2);
    const second = payloadOf(300_000, 3);
    deliverChunked(
      dispatcher,
      client,
      65_536,
      { type: 'SUBMIT_JOB', functionName: 'f', unique: 'one', payload: first },
      {
        type: 'SUBMIT_REDUCE_JOB',
        functionName: 'f',
        unique: 'two',
        reducer: 'sum',
        aggregator: '',
        payload: second,
      },
    );
    deliverChunked(
      dispatcher,
      worker,
      100,
      { type: 'CAN_DO', functionName: 'f' },
      { type: 'GRAB_JOB_UNIQ' },
      { type: 'GRAB_JOB_ALL' },
    );
    const [uniq, all] = received(worker).map(({ packet }) => packet);
    expect(uniq).toMatchObject({ type: 'JOB_ASSIGN_UNIQ', handle: 'H:t:1', unique: 'one' });
    expect(payloadOfPacket(uniq).equals(first)).toBe(true);
    expect(all).toMatchObject({
      type: 'JOB_ASSIGN_ALL',
      handle: 'H:t:2',
      unique: 'two',
      reducer: 'sum',
    });
    expect(payloadOfPacket(all).equals(second)).toBe(true);
  });

  test('joins once where a whole buffer is needed, then keeps the joined one', () => {
    const { dispatcher, peer } = setup();
    const payload = payloadOf(150_000);
    deliverChunked(dispatcher, peer(), 40_000, {
      type: 'SUBMIT_JOB_BG',
      functionName: 'f',
      unique: 'u',
      payload,
    });
    const job = dispatcher.store.find('H:t:1');
    expect(job?.payloadParts?.length).toBe(4);
    const joined = job?.payload;
    expect(joined?.equals(payload)).toBe(true);
    expect(job?.payloadParts).toBeUndefined();
    expect(job?.payload).toBe(joined);
  });

  test('the durable store writes the joined payload of a background job', async () => {
    const written: Buffer[] = [];
    const durable = new GroupCommit({
      writer: {
        write(changes: readonly QueueChange[]) {
          for (const { job, insert } of changes) if (insert) written.push(job.payload);
        },
      },
      restoredCommit: 1,
      onLost: () => {},
      onError: (error) => {
        throw error;
      },
    });
    const { dispatcher, peer } = setup(durable);
    const client = peer();
    const payload = payloadOf(300_000, 9);
    deliverChunked(dispatcher, client, 65_536, {
      type: 'SUBMIT_JOB_BG',
      functionName: 'f',
      unique: 'kept',
      payload,
    });
    // Joined only when the batch is written, not when the job is accepted.
    expect(dispatcher.store.find('H:t:1')?.payloadParts?.length).toBe(5);
    expect(written).toHaveLength(0);
    await nextCheck();
    expect(written).toHaveLength(1);
    expect(written[0]?.equals(payload)).toBe(true);
    expect(received(client).map(({ packet }) => packet)).toEqual([
      { type: 'JOB_CREATED', handle: 'H:t:1' },
    ]);
    durable.close();
  });

  test('a unique of `-` coalesces on the payload bytes, in parts or not', () => {
    const { dispatcher, peer } = setup();
    const payload = payloadOf(100_000);
    const init = { type: 'SUBMIT_JOB', functionName: 'f', unique: '-', payload } as const;
    const a = peer();
    const b = peer();
    const c = peer();
    deliverChunked(dispatcher, a, 30_000, init);
    deliverChunked(dispatcher, b, 1_000_000, init);
    deliverChunked(dispatcher, c, 30_000, { ...init, payload: payloadOf(100_000, 2) });
    const handles = [a, b, c].map((p) => received(p).map(({ packet }) => packet)[0]);
    expect(handles).toEqual([
      { type: 'JOB_CREATED', handle: 'H:t:1' },
      { type: 'JOB_CREATED', handle: 'H:t:1' },
      { type: 'JOB_CREATED', handle: 'H:t:2' },
    ]);
  });
});

describe('large results in parts', () => {
  test('WORK_DATA, WORK_WARNING and WORK_COMPLETE reach every waiter as sent, under RES', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const other = peer();
    const worker = peer();
    const submit = { type: 'SUBMIT_JOB', functionName: 'f', unique: 'u', payload: 'x' } as const;
    deliverChunked(dispatcher, client, 1000, submit);
    deliverChunked(dispatcher, other, 1000, submit);
    deliverChunked(
      dispatcher,
      worker,
      1000,
      { type: 'CAN_DO', functionName: 'f' },
      { type: 'GRAB_JOB' },
    );
    received(client);
    received(other);
    const data = payloadOf(70_000, 4);
    const warning = payloadOf(65_536, 5);
    const result = payloadOf(2 * 1024 * 1024 + 1, 6);
    deliverChunked(
      dispatcher,
      worker,
      65_536,
      { type: 'WORK_DATA', handle: 'H:t:1', payload: data },
      { type: 'WORK_WARNING', handle: 'H:t:1', payload: warning },
      { type: 'WORK_COMPLETE', handle: 'H:t:1', payload: result },
    );
    for (const waiter of [client, other]) {
      const packets = received(waiter);
      expect(packets.map(({ packet, magic }) => `${packet.type} ${magic}`)).toEqual([
        'WORK_DATA RES',
        'WORK_WARNING RES',
        'WORK_COMPLETE RES',
      ]);
      expect(packets.map(({ packet }) => (packet as { handle: string }).handle)).toEqual([
        'H:t:1',
        'H:t:1',
        'H:t:1',
      ]);
      expect(payloadOfPacket(packets[0]?.packet).equals(data)).toBe(true);
      expect(payloadOfPacket(packets[1]?.packet).equals(warning)).toBe(true);
      expect(payloadOfPacket(packets[2]?.packet).equals(result)).toBe(true);
    }
    expect(dispatcher.store.jobs.size).toBe(0);
  });

  test('WORK_EXCEPTION and ECHO_REQ are answered from the joined payload', () => {
    const { dispatcher, peer } = setup();
    const client = peer();
    const worker = peer();
    const exception = payloadOf(90_000, 7);
    deliverChunked(
      dispatcher,
      client,
      1000,
      { type: 'OPTION_REQ', option: 'exceptions' },
      { type: 'SUBMIT_JOB', functionName: 'f', unique: '', payload: 'x' },
    );
    deliverChunked(
      dispatcher,
      worker,
      65_536,
      { type: 'CAN_DO', functionName: 'f' },
      { type: 'GRAB_JOB' },
      { type: 'WORK_EXCEPTION', handle: 'H:t:1', payload: exception },
    );
    const forwarded = received(client).map(({ packet }) => packet);
    expect(forwarded.map((packet) => packet.type)).toEqual([
      'OPTION_RES',
      'JOB_CREATED',
      'WORK_EXCEPTION',
    ]);
    expect(payloadOfPacket(forwarded[2]).equals(exception)).toBe(true);
    const echo = payloadOf(80_000, 8);
    deliverChunked(dispatcher, client, 20_000, { type: 'ECHO_REQ', payload: echo });
    const [echoed] = received(client).map(({ packet }) => packet);
    expect(echoed?.type).toBe('ECHO_RES');
    expect(payloadOfPacket(echoed).equals(echo)).toBe(true);
  });

  test('a result for an unknown job is refused as without parts', () => {
    const { dispatcher, peer } = setup();
    const worker = peer();
    deliverChunked(dispatcher, worker, 65_536, {
      type: 'WORK_COMPLETE',
      handle: 'H:t:9',
      payload: payloadOf(100_000),
    });
    expect(received(worker).map(({ packet }) => packet)).toEqual([
      { type: 'ERROR', code: 'JOB_NOT_FOUND', message: 'Job given in work result not found' },
    ]);
  });
});

describe('the job store with payloads in parts', () => {
  test('dedupeKey gives parts the key of their joined bytes', () => {
    for (const size of [1, 64, 65, 100_000]) {
      const bytes = payloadOf(size);
      const parts = [bytes.subarray(0, size >> 1), bytes.subarray(size >> 1)].filter(
        (part) => part.length > 0,
      );
      expect(dedupeKey('-', parts)).toBe(dedupeKey('-', bytes));
    }
    expect(dedupeKey('-', [])).toBeUndefined();
    expect(dedupeKey('id', [Buffer.from('x')])).toBe('id');
  });

  test('copies a part that is a small view of a larger buffer, keeps whole ones', () => {
    const store = new JobStore('H:t');
    const first = Buffer.alloc(65_536, 1);
    const middle = Buffer.alloc(65_536, 2);
    const result = store.submit(
      {
        functionName: 'f',
        unique: '',
        payload: [first.subarray(65_000), middle],
        priority: 1,
        background: false,
      },
      undefined,
    );
    if (!result.ok) throw new Error('refused');
    const parts = result.job.payloadParts ?? [];
    expect(parts[0]?.buffer).not.toBe(first.buffer);
    expect(parts[0]?.equals(first.subarray(65_000))).toBe(true);
    expect(parts[1]).toBe(middle);
  });
});
