import { Buffer } from 'node:buffer';
import type net from 'node:net';
import { ConnectionError, encodePacket, ServerError } from '@gearmanode/protocol';
import { afterEach, describe, expect, test } from 'vitest';
import { type FakeServer, startFakeServer } from '../../../test/fake-server.js';
import { Connection } from '../src/connection/connection.js';
import { TUNING_DEFAULTS } from '../src/connection/options.js';
import {
  connectError,
  connectEvent,
  createSocket,
  firstRetryDelay,
  isPermanent,
  READ_IN_PLACE,
  type RetryHooks,
  reconnectPolicy,
  type SocketSink,
} from '../src/connection/socket.js';

const fakes: FakeServer[] = [];
const sockets: net.Socket[] = [];
const connections: Connection[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const connection of connections.splice(0)) connection.destroy();
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

async function fake(): Promise<FakeServer> {
  const server = await startFakeServer();
  fakes.push(server);
  return server;
}

/** A sink that records every chunk, optionally offering `target` to read into. */
function recorder(target?: () => Buffer | undefined) {
  const chunks: Buffer[] = [];
  const sink: SocketSink = {
    readTarget: () => target?.(),
    onData: (chunk, end) => chunks.push(end === undefined ? chunk : chunk.subarray(0, end)),
  };
  const bytes = () => Buffer.concat(chunks).length;
  return { sink, chunks, bytes };
}

async function open(server: FakeServer, sink: SocketSink): Promise<net.Socket> {
  const socket = createSocket({ host: server.host, port: server.port }, TUNING_DEFAULTS, sink);
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once(connectEvent(TUNING_DEFAULTS), resolve);
    socket.once('error', reject);
  });
  await server.waitForConnections(1);
  return socket;
}

describe('plain sockets', () => {
  test('connect with TCP_NODELAY and keepalive, and hand every byte to the sink', async () => {
    const server = await fake();
    const { sink, chunks, bytes } = recorder();
    const socket = await open(server, sink);
    expect(connectEvent(TUNING_DEFAULTS)).toBe('connect');
    const payload = Buffer.from('hello, socket');
    server.connections[0]?.write(payload);
    await server.until(() => bytes() === payload.length);
    expect(Buffer.concat(chunks)).toEqual(payload);
    // What the client writes reaches the server as one ECHO_REQ.
    socket.write(encodePacket({ type: 'ECHO_REQ', payload: 'hi' }));
    const { packet } = await server.waitForPacket('ECHO_REQ');
    expect(packet).toMatchObject({ type: 'ECHO_REQ', payload: Buffer.from('hi') });
  });

  test('reads into the free tail of a shared slab and never writes one part twice', async () => {
    const server = await fake();
    const { sink, chunks, bytes } = recorder();
    await open(server, sink);
    const connection = server.connections[0];
    for (const word of ['one', 'two', 'three']) {
      connection?.write(word);
      const before = chunks.length;
      await server.until(() => chunks.length > before);
    }
    expect(Buffer.concat(chunks).toString()).toBe('onetwothree');
    expect(bytes()).toBe(11);
    // Three reads from one slab: the same memory, each chunk after the one before.
    const [a, b, c] = chunks;
    expect(b?.buffer).toBe(a?.buffer);
    expect(c?.buffer).toBe(a?.buffer);
    expect(b?.byteOffset).toBe((a?.byteOffset ?? 0) + (a?.length ?? 0));
    expect(c?.byteOffset).toBe((b?.byteOffset ?? 0) + (b?.length ?? 0));
  });

  test('reads in place into the buffer the sink offers (a large packet body)', async () => {
    const server = await fake();
    const body = Buffer.alloc(READ_IN_PLACE * 2);
    let filled = 0;
    const { sink, chunks } = recorder(() =>
      filled < body.length ? body.subarray(filled) : undefined,
    );
    const counting: SocketSink = {
      readTarget: sink.readTarget,
      onData: (chunk) => {
        filled += chunk.length;
        sink.onData(chunk);
      },
    };
    await open(server, counting);
    const sent = Buffer.alloc(body.length, 7);
    server.connections[0]?.write(sent);
    await server.until(() => filled === body.length);
    // Every chunk is a view of `body`: no copy from a slab.
    for (const chunk of chunks) expect(chunk.buffer).toBe(body.buffer);
    expect(body.equals(sent)).toBe(true);
  });
});

describe('reconnect backoff', () => {
  const hooks = (closed = false, failed: [Error, number, number][] = []): RetryHooks => ({
    signal: new AbortController().signal,
    isClosed: () => closed,
    onFailedAttempt: (error, attempt, retriesLeft) => failed.push([error, attempt, retriesLeft]),
  });

  test('reconnect: true retries forever from 100 ms up to 5 s, doubling, with jitter', () => {
    const policy = reconnectPolicy(true, hooks());
    expect(policy).toMatchObject({
      retries: Number.POSITIVE_INFINITY,
      minTimeout: 100,
      maxTimeout: 5000,
      factor: 2,
      randomize: true,
      unref: true,
    });
  });

  test('reconnect: false makes one attempt; an object overrides each default', () => {
    expect(reconnectPolicy(false, hooks()).retries).toBe(0);
    const policy = reconnectPolicy(
      { retries: 3, minTimeout: 10, maxTimeout: 40, factor: 3, randomize: false },
      hooks(),
    );
    expect(policy).toMatchObject({
      retries: 3,
      minTimeout: 10,
      maxTimeout: 40,
      factor: 3,
      randomize: false,
    });
  });

  test('shouldRetry asks the hook with the attempt, and stops at once when closed', async () => {
    const seen: number[] = [];
    const options = {
      shouldRetry: ({ attempt }: { attempt: number }) => {
        seen.push(attempt);
        return attempt < 2;
      },
    };
    const context = (attemptNumber: number) => ({
      error: new Error('refused'),
      attemptNumber,
      retriesLeft: 5,
      retriesConsumed: attemptNumber - 1,
      retryDelay: 0,
    });
    const policy = reconnectPolicy(options, hooks());
    expect(await policy.shouldRetry?.(context(1))).toBe(true);
    expect(await policy.shouldRetry?.(context(2))).toBe(false);
    expect(seen).toEqual([1, 2]);
    const closed = reconnectPolicy(options, hooks(true));
    expect(await closed.shouldRetry?.(context(1))).toBe(false);
    expect(seen).toEqual([1, 2]);
  });

  test('failed attempts are reported until the connection is closed', async () => {
    const failed: [Error, number, number][] = [];
    const error = new Error('refused');
    const context = { error, attemptNumber: 2, retriesLeft: 7, retriesConsumed: 1, retryDelay: 0 };
    await reconnectPolicy(true, hooks(false, failed)).onFailedAttempt?.(context);
    await reconnectPolicy(true, hooks(true, failed)).onFailedAttempt?.(context);
    expect(failed).toEqual([[error, 2, 7]]);
  });

  test('the first retry after a lost socket waits between minTimeout and twice it', () => {
    for (let i = 0; i < 50; i++) {
      const delay = firstRetryDelay({ minTimeout: 40 });
      expect(delay).toBeGreaterThanOrEqual(40);
      expect(delay).toBeLessThan(80);
      const fallback = firstRetryDelay(true);
      expect(fallback).toBeGreaterThanOrEqual(100);
      expect(fallback).toBeLessThan(200);
    }
  });

  test('a connection reconnects after the server drops it, on a new generation', async () => {
    const server = await fake();
    const events: string[] = [];
    const connection = new Connection({
      address: { host: server.host, port: server.port },
      reconnect: { minTimeout: 5, maxTimeout: 20 },
      heartbeatInterval: 0,
      onEvent: (event) => events.push(event.type),
    });
    connections.push(connection);
    await connection.connect();
    expect(connection.generation).toBe(1);
    server.dropAll();
    await server.waitForConnections(2);
    await server.until(() => connection.state === 'ready' && connection.generation === 2);
    expect(events).toEqual(['connect', 'disconnect', 'connect']);
  });

  test('attempts against a closed port are retried until the retries are spent', async () => {
    const server = await fake();
    const address = { host: server.host, port: server.port };
    await server.close();
    const events: { type: string; attempt?: number }[] = [];
    const connection = new Connection({
      address,
      reconnect: { retries: 2, minTimeout: 5, maxTimeout: 10 },
      onEvent: (event) =>
        events.push({ type: event.type, attempt: 'attempt' in event ? event.attempt : undefined }),
    });
    connections.push(connection);
    const error = await connection.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).maybeRan).toBe(false);
    expect(events).toEqual([
      { type: 'reconnecting', attempt: 1 },
      { type: 'reconnecting', attempt: 2 },
      { type: 'give-up', attempt: undefined },
    ]);
    expect(connection.state).toBe('closed');
  });
});

describe('TLS classification', () => {
  const coded = (code: string, cause?: Error): Error =>
    Object.assign(new Error(code, { cause }), { code });

  test('a refused certificate is permanent, at any depth of the cause chain', () => {
    expect(isPermanent(coded('CERT_HAS_EXPIRED'))).toBe(true);
    expect(isPermanent(coded('DEPTH_ZERO_SELF_SIGNED_CERT'))).toBe(true);
    expect(isPermanent(coded('ERR_TLS_CERT_ALTNAME_INVALID'))).toBe(true);
    expect(isPermanent(new Error('wrapped', { cause: coded('HOSTNAME_MISMATCH') }))).toBe(true);
  });

  test('network failures are not permanent, and end the retry only through the hook', async () => {
    expect(isPermanent(coded('ECONNREFUSED'))).toBe(false);
    expect(isPermanent(coded('ECONNRESET'))).toBe(false);
    expect(isPermanent(new Error('no code'))).toBe(false);
    const policy = reconnectPolicy(true, {
      signal: new AbortController().signal,
      isClosed: () => false,
      onFailedAttempt: () => {},
    });
    const context = (error: Error) => ({
      error,
      attemptNumber: 1,
      retriesLeft: 1,
      retriesConsumed: 0,
      retryDelay: 0,
    });
    expect(await policy.shouldRetry?.(context(coded('ECONNREFUSED')))).toBe(true);
    expect(await policy.shouldRetry?.(context(coded('CERT_UNTRUSTED')))).toBe(false);
  });

  test('a reset during a TLS connect hints at a plaintext server; typed errors pass through', () => {
    const reset = coded('ECONNRESET');
    const overTls = connectError('h:1', reset, true);
    expect(overTls).toBeInstanceOf(ConnectionError);
    expect(overTls.message).toBe('cannot connect to h:1: ECONNRESET (is the server speaking TLS?)');
    expect(overTls.cause).toBe(reset);
    expect(connectError('h:1', reset, false).message).toBe('cannot connect to h:1: ECONNRESET');
    const typed = new ServerError('ERR', 'no');
    expect(connectError('h:1', typed, true)).toBe(typed);
    expect(connectEvent({ ...TUNING_DEFAULTS, tls: true })).toBe('secureConnect');
  });
});
