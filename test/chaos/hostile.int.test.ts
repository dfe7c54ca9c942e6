import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@gearmanode/client';
import { encodePacket } from '@gearmanode/protocol';
import { createWorker, type WorkerEvent } from '@gearmanode/worker';
import { afterEach, describe, expect, test } from 'vitest';
import { expectIdle } from '../../packages/client/test/support/idle.js';
import { type FakeConnection, startFakeServer } from '../fake-server.js';
import { waitFor } from '../helpers.js';
import { checkLeaksAfterEach } from '../leak-check.js';
import { codes, report } from './support.js';

// Registered before the cleanup hook, so that it runs after it (after-hooks run in reverse).
checkLeaksAfterEach();

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

// Small, so that a decoder holding more than it may would show in the process's memory.
const MAX_PACKET_SIZE = 64 * 1024;
const REQUEST_TIMEOUT = 2_000;
// After the hostile bytes, the peer floods this much junk as fast as the socket takes it.
const FLOOD = 32 * 1024 * 1024;
// What the process may hold beyond its baseline meanwhile: one packet at the limit plus a few
// socket reads in flight. Buffering the flood would show as 32 MiB.
const MEMORY_BOUND = MAX_PACKET_SIZE + 2 * 1024 * 1024;

const header = (type: number, size: number): Buffer => {
  const bytes = Buffer.alloc(12);
  bytes.write('\0RES', 0, 'latin1');
  bytes.writeUInt32BE(type, 4);
  bytes.writeUInt32BE(size, 8);
  return bytes;
};

interface Hostility {
  name: string;
  /** What the peer does in reply to the request under test (a client's SUBMIT, a worker's GRAB). */
  act(
    connection: FakeConnection,
    role: 'client' | 'worker',
    signal: AbortSignal,
  ): void | Promise<void>;
  /** The code chain the failure must carry. */
  expected: string[];
  flood: boolean;
}

const hostilities: Hostility[] = [
  {
    name: 'a 4 GiB size field',
    act: (c) => c.write(header(8, 0xffff_ffff)), // JOB_CREATED of 4 GiB - 1
    expected: ['ERR_PROTOCOL:TOO_LARGE'],
    flood: true,
  },
  {
    name: 'bad magic',
    act: (c) => c.write(Buffer.from('\0RXS\0\0\0\x08\0\0\0\x04H:x1', 'latin1')),
    expected: ['ERR_PROTOCOL:BAD_MAGIC'],
    flood: true,
  },
  {
    name: 'an unknown type',
    act: (c) => c.write(header(999, 0)),
    expected: ['ERR_PROTOCOL:UNKNOWN_TYPE'],
    flood: true,
  },
  {
    name: 'a reply nobody asked for',
    act: (c, role) =>
      role === 'client'
        ? // The real answer, then one more JOB_CREATED that answers nothing.
          c.write(
            Buffer.concat([
              encodePacket({ type: 'JOB_CREATED', handle: 'H:fake:1' }),
              encodePacket({ type: 'JOB_CREATED', handle: 'H:fake:2' }),
            ]),
          )
        : c.write(
            Buffer.concat([
              encodePacket({ type: 'NO_JOB' }),
              encodePacket({ type: 'ECHO_RES', payload: 'nobody asked' }),
            ]),
          ),
    expected: ['ERR_PROTOCOL:UNEXPECTED_PACKET'],
    flood: false,
  },
  {
    name: 'one byte a second',
    act: async (c, role, signal) => {
      const reply =
        role === 'client'
          ? encodePacket({ type: 'JOB_CREATED', handle: 'H:fake:1' })
          : encodePacket({ type: 'NO_JOB' });
      for (const byte of reply) {
        if (c.closed) return;
        c.write(Buffer.of(byte));
        await sleep(1_000, undefined, { signal }).catch(() => undefined);
      }
    },
    expected: ['ERR_TIMEOUT'],
    flood: false,
  },
];

/** Writes `FLOOD` bytes of junk (one reused chunk, so the peer itself allocates nothing). */
async function flood(socket: Socket): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  let written = 0;
  while (written < FLOOD && !socket.destroyed && socket.writable) {
    written += chunk.length;
    if (!socket.write(chunk)) {
      await new Promise((resolve) => {
        socket.once('drain', resolve);
        socket.once('close', resolve);
      });
    }
  }
  return written;
}

/** Samples `arrayBuffers` (Buffer memory) every millisecond until `stop()`. */
function memoryWatch() {
  globalThis.gc?.();
  const base = process.memoryUsage().arrayBuffers;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  }, 1);
  return {
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      return peak - base;
    },
  };
}

/** A fake server that is hostile once, on the first request of `trigger` type. */
async function hostilePeer(hostility: Hostility, role: 'client' | 'worker') {
  let flooded = 0;
  let triggered: FakeConnection | undefined;
  const done = new AbortController();
  const trigger = role === 'client' ? 'SUBMIT_JOB' : 'GRAB_JOB_UNIQ';
  const fake = await startFakeServer({
    onPacket(packet, connection) {
      if (packet.type === 'PRE_SLEEP') return true; // a sleeping worker is left alone
      if (packet.type !== trigger) return false;
      if (triggered !== undefined) {
        if (role === 'worker') connection.send({ type: 'NO_JOB' });
        return role === 'worker';
      }
      triggered = connection;
      void (async () => {
        await hostility.act(connection, role, done.signal);
        if (hostility.flood) flooded = await flood(connection.socket);
      })();
      return true;
    },
  });
  cleanup.push(() => fake.close());
  cleanup.push(() => done.abort());
  return {
    fake,
    triggered: () => triggered,
    flooded: () => flooded,
  };
}

describe.each(hostilities)('hostile peer: $name', (hostility) => {
  test('a client gets a typed error, closes the connection, buffers no more than maxPacketSize', async () => {
    const peer = await hostilePeer(hostility, 'client');
    const memory = memoryWatch();
    const started = Date.now();
    const client = await createClient({
      servers: [peer.fake.address],
      maxPacketSize: MAX_PACKET_SIZE,
      requestTimeout: REQUEST_TIMEOUT,
    });
    cleanup.push(() => client.destroy());
    const error = await client.submit('f', 'x').then(
      () => expect.unreachable('the submit resolved'),
      (e: unknown) => e,
    );
    const connection = peer.triggered();
    await waitFor(() => connection?.closed, { what: 'the hostile connection closed' });
    const seconds = (Date.now() - started) / 1000;
    const grown = memory.stop();
    report('hostile-peer', {
      peer: hostility.name,
      role: 'client',
      error: codes(error),
      closed: connection?.closed,
      seconds,
      bufferGrowthBytes: grown,
      floodedBytes: peer.flooded(),
    });
    expect(codes(error)[0]).toBe('ERR_CONNECTION');
    expect(codes(error)).toEqual(expect.arrayContaining(hostility.expected));
    expect(grown).toBeLessThan(MEMORY_BOUND);
    // The client is fine: it reconnected to the same peer and is idle.
    await client.close();
    await expectIdle(client);
  });

  test('a worker reports a typed error, closes the connection, buffers no more than maxPacketSize', async () => {
    const peer = await hostilePeer(hostility, 'worker');
    const memory = memoryWatch();
    const started = Date.now();
    const worker = await createWorker({
      servers: [peer.fake.address],
      functions: ['f'],
      maxPacketSize: MAX_PACKET_SIZE,
      requestTimeout: REQUEST_TIMEOUT,
    });
    cleanup.push(() => worker.destroy());
    const events: WorkerEvent[] = [];
    void (async () => {
      for await (const event of worker.status()) events.push(event);
    })();
    void worker.process(() => 'never');
    const disconnect = await waitFor(
      () => events.find((event) => event.type === 'disconnect') as WorkerEvent | undefined,
      { timeout: 3 * REQUEST_TIMEOUT + 5_000, what: 'the disconnect event' },
    );
    const connection = peer.triggered();
    await waitFor(() => connection?.closed, { what: 'the hostile connection closed' });
    const seconds = (Date.now() - started) / 1000;
    const grown = memory.stop();
    const error = disconnect.type === 'disconnect' ? disconnect.error : undefined;
    report('hostile-peer', {
      peer: hostility.name,
      role: 'worker',
      error: codes(error),
      closed: connection?.closed,
      seconds,
      bufferGrowthBytes: grown,
      floodedBytes: peer.flooded(),
    });
    expect(codes(error)).toEqual(hostility.expected);
    expect(grown).toBeLessThan(MEMORY_BOUND);
    // And it carries on: it reconnects to the same peer and registers again.
    await waitFor(() => worker.stats().servers[0]?.generation === 2, {
      what: 'the worker reconnected',
    });
    expect(worker.state).toBe('running');
    await worker.close();
  });
});
