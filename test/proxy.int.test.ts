import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@gearmanode/core';
import { encodePacket, type Packet, PacketDecoder, type PacketOf } from '@gearmanode/protocol';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { waitFor, withTimeout } from './helpers.js';
import { checkLeaksAfterEach } from './leak-check.js';
import { startProxy, type TcpProxy } from './proxy.js';

// Registered before the cleanup hook, so that it runs after it (after-hooks run in reverse):
// the proxy must leave no socket or timer behind once closed.
checkLeaksAfterEach();

// Everything a test starts, closed after it whatever happened.
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function proxyTo(port: number, random?: () => number): Promise<TcpProxy> {
  const proxy = await startProxy({ target: { host: '127.0.0.1', port }, random });
  cleanup.push(() => proxy.close());
  return proxy;
}

/** A server on 127.0.0.1 that hands each accepted socket to `onSocket`. */
async function serve(onSocket: (socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // cut and reset on purpose in these tests
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as { port: number }).port;
}

/** Echoes every byte and ends when the client does. */
const startEcho = () => serve((socket) => socket.pipe(socket));

/**
 * Records what each connection received until it closed, in accept order: `received(i)`
 * waits for connection i to be accepted and closed.
 */
async function startSink(): Promise<{ port: number; received(index: number): Promise<Buffer> }> {
  const connections: Promise<Buffer>[] = [];
  const port = await serve((socket) => {
    connections.push(received(socket));
    socket.on('end', () => socket.end()); // a FIN from the proxy closes the connection
  });
  return {
    port,
    received: async (index) => waitFor(() => connections[index], { what: `connection ${index}` }),
  };
}

/** Resolves with every byte `socket` receives, once it has closed. */
function received(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
}

async function dial(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {}); // the tests look at 'close' and at what arrived
  cleanup.push(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Resolves with the next `length` bytes from `socket`, or rejects after `ms`. */
function readBytes(socket: Socket, length: number, ms = 5_000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  return withTimeout(
    new Promise<Buffer>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size < length) return;
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(Buffer.concat(chunks));
      };
      const onClose = () => reject(new Error(`socket closed after ${size} of ${length} bytes`));
      socket.on('data', onData);
      socket.once('close', onClose);
    }),
    ms,
    `reading ${length} bytes`,
  );
}

/** Resolves once `ms` pass with no byte arriving; rejects with the bytes if any do. */
async function expectSilence(socket: Socket, ms: number): Promise<void> {
  let arrived = 0;
  const onData = (chunk: Buffer) => {
    arrived += chunk.length;
  };
  socket.on('data', onData);
  await sleep(ms);
  socket.off('data', onData);
  expect(arrived, 'bytes that arrived through a silent link').toBe(0);
}

const closed = (socket: Socket) =>
  socket.closed ? Promise.resolve() : new Promise((resolve) => socket.once('close', resolve));

/** A seeded generator (mulberry32), so a random cut can be predicted and replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('proxy modes', () => {
  test('forwards bytes both ways unchanged and counts them', async () => {
    const proxy = await proxyTo(await startEcho());
    expect(proxy.host).toBe('127.0.0.1');
    expect(proxy.port).toBeGreaterThan(0);
    const socket = await dial(proxy.port);
    const data = randomBytes(256 * 1024);
    socket.write(data);
    expect((await readBytes(socket, data.length)).equals(data)).toBe(true);
    expect(proxy.stats).toMatchObject({
      connections: 1,
      open: 1,
      bytesUp: data.length,
      bytesDown: data.length,
      cuts: 0,
    });
    socket.end();
    await closed(socket);
    await waitFor(() => proxy.stats.open === 0, { what: 'the proxy to close its side' });
  });

  test.each([
    ['plain forwarding', (_: TcpProxy) => {}],
    ['delay', (proxy: TcpProxy) => proxy.delay({ ms: 1 })],
    ['bandwidth', (proxy: TcpProxy) => proxy.bandwidth(1024 * 1024 * 1024)],
  ])('stops reading a fast writer while the target does not read (%s)', async (_, mode) => {
    const total = 32 * 1024 * 1024;
    let target: Socket | undefined;
    const port = await serve((socket) => {
      target = socket;
      socket.pause();
    });
    const proxy = await proxyTo(port);
    mode(proxy);
    const socket = await dial(proxy.port);
    for (let sent = 0; sent < total; sent += 1024 * 1024) socket.write(randomBytes(1024 * 1024));
    // Once the kernel buffers on both sides are full, the proxy must stop taking bytes in:
    // without backpressure it reads all 32 MiB and holds what the target has not taken.
    let before = -1;
    await waitFor(
      async () => {
        const now = proxy.stats.bytesUp;
        const stalled = now === before;
        before = now;
        await sleep(200);
        return stalled;
      },
      { timeout: 10_000, what: 'the proxy to stop forwarding' },
    );
    expect(proxy.stats.bytesUp).toBeLessThan(total / 2);
    expect(socket.writableLength).toBeGreaterThan(0);
    // And it starts again when the target reads.
    let arrived = 0;
    target?.on('data', (chunk: Buffer) => {
      arrived += chunk.length;
    });
    target?.resume();
    await waitFor(() => arrived === total, { timeout: 15_000, what: 'all bytes to arrive' });
  });

  test('cut at a fixed offset upstream: the target gets exactly that many bytes, then FIN', async () => {
    const sink = await startSink();
    const proxy = await proxyTo(sink.port);
    proxy.cut({ at: 7, direction: 'up' });
    const socket = await dial(proxy.port);
    socket.write(Buffer.alloc(100, 1));
    await closed(socket);
    expect(await sink.received(0)).toEqual(Buffer.alloc(7, 1));
    expect(proxy.stats.cuts).toBe(1);
    expect(proxy.stats.bytesUp).toBe(7);
  });

  test('cut at a fixed offset downstream: the client gets exactly that many bytes', async () => {
    const proxy = await proxyTo(await startEcho());
    proxy.cut({ at: 5, direction: 'down' });
    const socket = await dial(proxy.port);
    const arrived = received(socket);
    socket.write('0123456789');
    expect((await arrived).toString()).toBe('01234');
    expect(proxy.stats.cuts).toBe(1);
  });

  test('cut at random offsets inside the first 12 bytes, each connection its own', async () => {
    const sink = await startSink();
    const proxy = await proxyTo(sink.port, seeded(7));
    proxy.cut({ at: 'random', within: 12, direction: 'up' });
    const expected = Array.from({ length: 20 }, seeded(7)).map((r) => Math.floor(r * 12));
    for (let i = 0; i < 20; i++) {
      const socket = await dial(proxy.port);
      socket.write(encodePacket({ type: 'ECHO_REQ', payload: 'ping' }));
      await closed(socket);
    }
    const lengths: number[] = [];
    for (let i = 0; i < 20; i++) lengths.push((await sink.received(i)).length);
    expect(lengths).toEqual(expected);
    expect(new Set(lengths).size).toBeGreaterThan(3);
    expect(proxy.stats.cuts).toBe(20);
  });

  test('cut in both directions counts each direction on its own', async () => {
    // A server that greets with 11 bytes, then echoes.
    const port = await serve((socket) => {
      socket.write('hello world');
      socket.pipe(socket);
    });
    const proxy = await proxyTo(port);
    proxy.cut({ at: 5 });
    // Downstream reaches its offset first, with nothing sent up.
    const first = await dial(proxy.port);
    expect((await received(first)).toString()).toBe('hello');
    // Upstream reaches it first: 11 of the 12 bytes written go up, then the cut.
    proxy.cut({ at: 11 });
    const second = await dial(proxy.port);
    const arrived = received(second);
    await readBytes(second, 11);
    second.write('0123456789ab');
    expect((await arrived).toString()).toBe('hello world');
    expect(proxy.stats.bytesUp).toBe(11);
    expect(proxy.stats.cuts).toBe(2);
  });

  test('cut applies to connections that are already open, counting from then', async () => {
    const proxy = await proxyTo(await startEcho());
    const socket = await dial(proxy.port);
    socket.write('hello');
    expect((await readBytes(socket, 5)).toString()).toBe('hello');
    proxy.cut({ at: 3, direction: 'down' });
    const arrived = received(socket);
    socket.write('0123456789');
    expect((await arrived).toString()).toBe('012');
  });

  test('restore() stops cutting new connections', async () => {
    const proxy = await proxyTo(await startEcho());
    proxy.cut({ at: 0 });
    const first = await dial(proxy.port);
    first.write('x');
    await closed(first);
    proxy.restore();
    const second = await dial(proxy.port);
    second.write('still here');
    expect((await readBytes(second, 10)).toString()).toBe('still here');
    expect(proxy.stats.cuts).toBe(1);
  });

  test('delay holds each chunk for the latency, in both directions', async () => {
    const proxy = await proxyTo(await startEcho());
    const socket = await dial(proxy.port);
    proxy.delay({ ms: 150 });
    const started = performance.now();
    socket.write('ping');
    await readBytes(socket, 4);
    expect(performance.now() - started).toBeGreaterThanOrEqual(295);
  });

  test('delay with jitter keeps the byte order', async () => {
    const proxy = await proxyTo(await startEcho());
    proxy.delay({ ms: 1, jitter: 40 });
    const socket = await dial(proxy.port);
    const expected: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      const chunk = Buffer.alloc(4);
      chunk.writeUInt32BE(i);
      expected.push(chunk);
      socket.write(chunk);
      await sleep(1); // separate chunks, each with its own jitter
    }
    const all = Buffer.concat(expected);
    expect((await readBytes(socket, all.length)).equals(all)).toBe(true);
  });

  test('restore() releases chunks held by a delay at once', async () => {
    const proxy = await proxyTo(await startEcho());
    const socket = await dial(proxy.port);
    proxy.delay({ ms: 60_000 });
    socket.write('held');
    await expectSilence(socket, 200);
    proxy.restore();
    expect((await readBytes(socket, 4, 2_000)).toString()).toBe('held');
  });

  test('bandwidth paces the bytes to the rate', async () => {
    const sink = await startSink();
    const proxy = await proxyTo(sink.port);
    proxy.bandwidth(40_000);
    const socket = await dial(proxy.port);
    const started = performance.now();
    socket.end(randomBytes(40_000));
    // 40 kB at 40 kB/s takes a second; without pacing it takes a millisecond.
    expect((await sink.received(0)).length).toBe(40_000);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(10_000);
  });

  test('blackhole drops bytes both ways and keeps the sockets open', async () => {
    const proxy = await proxyTo(await startEcho());
    const early = await dial(proxy.port);
    early.write('before');
    await readBytes(early, 6);

    proxy.blackhole();
    early.write('into the void');
    await expectSilence(early, 300);
    const during = await dial(proxy.port);
    during.write('also lost');
    await expectSilence(during, 300);
    // Nothing closed: a peer cannot tell the link died, which is the point.
    expect(early.closed).toBe(false);
    expect(during.closed).toBe(false);
    expect(proxy.stats.open).toBe(2);
    expect(proxy.stats.bytesDropped).toBeGreaterThanOrEqual(13 + 9);

    // Connections that lost bytes stay dead; new ones work.
    proxy.restore();
    early.write('again');
    await expectSilence(early, 300);
    const after = await dial(proxy.port);
    after.write('alive');
    expect((await readBytes(after, 5)).toString()).toBe('alive');
  });

  test('cutAll() closes every open connection and new ones still work', async () => {
    const proxy = await proxyTo(await startEcho());
    const sockets = await Promise.all([1, 2, 3].map(() => dial(proxy.port)));
    await waitFor(() => proxy.stats.open === 3);
    expect(proxy.cutAll()).toBe(3);
    await Promise.all(sockets.map(closed));
    expect(proxy.stats.cuts).toBe(3);
    await waitFor(() => proxy.stats.open === 0);
    const socket = await dial(proxy.port);
    socket.write('ok');
    expect((await readBytes(socket, 2)).toString()).toBe('ok');
  });

  test('cutAll({ reset: true }) resets the connections', async () => {
    const proxy = await proxyTo(await startEcho());
    const socket = await dial(proxy.port);
    await waitFor(() => proxy.stats.open === 1);
    const error = new Promise<NodeJS.ErrnoException>((resolve) => socket.once('error', resolve));
    proxy.cutAll({ reset: true });
    expect((await withTimeout(error, 5_000, 'the reset')).code).toBe('ECONNRESET');
  });

  test('close() destroys open connections and stops listening', async () => {
    const proxy = await proxyTo(await startEcho());
    const socket = await dial(proxy.port);
    await proxy.close();
    await closed(socket);
    expect(proxy.stats.open).toBe(0);
    await expect(dial(proxy.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await proxy.close(); // idempotent
  });
});

describe('proxy in front of gearmand', () => {
  const gearman = inject('gearman');

  /** Sends ECHO_REQ; resolves with the first packet back, or none if the socket closes first. */
  async function echo(socket: Socket, payload: Buffer, ms = 5_000): Promise<Packet[]> {
    const packets: Packet[] = [];
    const done = new Promise<void>((resolve) => {
      const decoder = new PacketDecoder((packet) => {
        packets.push(packet);
        resolve();
      });
      socket.on('data', (chunk: Buffer) => decoder.push(chunk));
      socket.once('close', () => resolve());
    });
    socket.write(encodePacket({ type: 'ECHO_REQ', payload }));
    await withTimeout(done, ms, 'the echo');
    return packets;
  }

  test('passes ECHO_REQ and ECHO_RES through unchanged', async () => {
    const proxy = await proxyTo(gearman.port);
    const payload = randomBytes(1000);
    const packets = await echo(await dial(proxy.port), payload);
    expect(packets).toHaveLength(1);
    expect(packets[0]?.type).toBe('ECHO_RES');
    expect(Buffer.from((packets[0] as PacketOf<'ECHO_RES'>).payload).equals(payload)).toBe(true);
    expect(proxy.stats.bytesUp).toBe(12 + 1000);
    expect(proxy.stats.bytesDown).toBe(12 + 1000);
  });

  test('a cut inside the reply header leaves the client with a partial header and a close', async () => {
    const proxy = await proxyTo(gearman.port);
    proxy.cut({ at: 5, direction: 'down' });
    const socket = await dial(proxy.port);
    const arrived = received(socket);
    expect(await echo(socket, Buffer.from('ping'))).toEqual([]);
    expect(await arrived).toEqual(Buffer.from('\0RES\0'));
  });

  test('delay and bandwidth slow the echo down', async () => {
    const proxy = await proxyTo(gearman.port);
    proxy.delay({ ms: 100 });
    proxy.bandwidth(20_000);
    const socket = await dial(proxy.port);
    const started = performance.now();
    const packets = await echo(socket, randomBytes(10_000), 15_000);
    expect(packets.map((packet) => packet.type)).toEqual(['ECHO_RES']);
    // 10 kB each way at 20 kB/s (0.5 s each way) plus 100 ms each way.
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_100);
  });

  test("blackhole: a Connection's heartbeat notices the dead link", async () => {
    const proxy = await proxyTo(gearman.port);
    const heartbeatInterval = 500;
    const connectTimeout = 2_000;
    // The heartbeat's ECHO_REQ gets the deadline of any request, so detection takes the idle
    // interval plus requestTimeout; the default 10 s would dwarf the interval.
    const requestTimeout = 1_000;
    const connection = new Connection({
      address: { host: proxy.host, port: proxy.port },
      heartbeatInterval,
      requestTimeout,
      connectTimeout,
      reconnect: false,
    });
    cleanup.push(() => connection.destroy());
    await connection.connect();
    expect((await connection.requestAsync({ type: 'ECHO_REQ', payload: 'up' })).type).toBe(
      'ECHO_RES',
    );

    proxy.blackhole();
    const started = performance.now();
    const cause = await withTimeout(connection.closed, 20_000, 'detecting the dead link');
    const detectedAfter = performance.now() - started;
    expect(cause).toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(proxy.stats.bytesDropped).toBeGreaterThanOrEqual(12); // the heartbeat's ECHO_REQ
    // The figure from issue 7: within twice the heartbeat plus the connect timeout.
    expect(detectedAfter).toBeLessThanOrEqual(2 * heartbeatInterval + connectTimeout);
  });
});
