import {
  type Client,
  type ClientRetryMessage,
  type ClientSubmitContext,
  createClient,
  DIAGNOSTICS_CHANNELS,
  type DisconnectMessage,
  type ReconnectingMessage,
} from '@gearmanode/client';
import type { Packet } from '@gearmanode/protocol';
import { afterEach, describe, expect, test } from 'vitest';
import { FAILED_PHASES, recordChannel, recordTrace } from '../../../test/diagnostics.js';
import { type FakeScript, type FakeServer, startFakeServer } from '../../../test/fake-server.js';
import { freePort, waitFor } from '../../../test/helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fake(onPacket?: FakeScript): Promise<FakeServer> {
  const server = await startFakeServer({ onPacket });
  cleanups.push(() => server.close());
  return server;
}

async function client(options: Parameters<typeof createClient>[0]): Promise<Client> {
  const created = await createClient({ reconnect: { minTimeout: 10, maxTimeout: 50 }, ...options });
  cleanups.push(() => created.destroy());
  return created;
}

function record<M>(name: string, server: string) {
  const recorder = recordChannel<M>(name, (m) => (m as { server?: string }).server === server);
  cleanups.push(() => recorder[Symbol.dispose]());
  return recorder;
}

const isSubmit = (p: Packet) => p.type.startsWith('SUBMIT_');

describe('diagnostics channels (fake server)', () => {
  test('a retried submit publishes disconnect, retry and one trace with its retries', async () => {
    let dropped = false;
    const server = await fake((packet, connection) => {
      if (!isSubmit(packet)) return false;
      const handle = `H:d:${connection.received.length}`;
      connection.send({ type: 'JOB_CREATED', handle });
      if (!dropped) {
        dropped = true;
        setTimeout(() => connection.destroy(), 5);
      } else {
        connection.send({ type: 'WORK_COMPLETE', handle, payload: 'ok' });
      }
      return true;
    });
    const disconnects = record<DisconnectMessage>(DIAGNOSTICS_CHANNELS.disconnect, server.address);
    const retries = recordChannel<ClientRetryMessage>(DIAGNOSTICS_CHANNELS.clientRetry);
    cleanups.push(() => retries[Symbol.dispose]());
    const trace = recordTrace<ClientSubmitContext>(DIAGNOSTICS_CHANNELS.clientSubmit);
    cleanups.push(() => trace[Symbol.dispose]());
    const c = await client({ servers: [server.address], retry: 3 });
    expect((await c.submit('f', 'x', { unique: 'k' })).toString()).toBe('ok');

    expect(disconnects.messages).toHaveLength(1);
    expect(disconnects.messages[0]).toMatchObject({ type: 'disconnect', server: server.address });
    expect(retries.messages.length).toBeGreaterThanOrEqual(1);
    const [first] = retries.messages;
    expect(first).toMatchObject({
      functionName: 'f',
      unique: 'k',
      attempt: 1,
      error: { code: 'ERR_CONNECTION', maybeRan: true },
    });
    const [context] = trace.contexts();
    expect(trace.contexts()).toHaveLength(1);
    expect(first?.context).toBe(context);
    expect(trace.phasesOf(context as ClientSubmitContext)).toEqual([
      'start',
      'end',
      'asyncStart',
      'asyncEnd',
    ]);
    expect(context?.retries).toBe(retries.messages.length);
    expect(context?.server).toBe(server.address);
  });

  test('a connection that keeps failing publishes reconnecting with its attempt and error', async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const reconnecting = record<ReconnectingMessage>(DIAGNOSTICS_CHANNELS.reconnecting, address);
    const trace = recordTrace<ClientSubmitContext>(DIAGNOSTICS_CHANNELS.clientSubmit);
    cleanups.push(() => trace[Symbol.dispose]());
    const c = await client({ servers: [address], lazy: true });
    const error = await c.submit('f', 'x').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_CONNECTION', maybeRan: false });
    await waitFor(() => reconnecting.messages.length >= 2);
    expect(reconnecting.messages[0]).toMatchObject({
      type: 'reconnecting',
      server: address,
      attempt: 1,
      error: expect.any(Error),
    });
    expect(reconnecting.messages[1]?.attempt).toBe(2);
    // Handed to the connection while it was connecting, never created: no handle.
    expect(trace.events.map((e) => e.phase)).toEqual(FAILED_PHASES);
    expect(trace.events[2]?.context).toMatchObject({ server: address, handle: undefined, error });
  });

  test('an abort publishes error with the signal reason', async () => {
    const server = await fake((packet, connection) => {
      if (!isSubmit(packet)) return false;
      connection.send({ type: 'JOB_CREATED', handle: 'H:never:1' });
      return true;
    });
    const trace = recordTrace<ClientSubmitContext>(DIAGNOSTICS_CHANNELS.clientSubmit);
    cleanups.push(() => trace[Symbol.dispose]());
    const c = await client({ servers: [server.address] });
    const controller = new AbortController();
    const pending = c.submit('f', 'x', { signal: controller.signal });
    await server.waitForPacket('SUBMIT_JOB');
    await waitFor(() => trace.contexts()[0]?.handle === 'H:never:1');
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(trace.events.map((e) => e.phase)).toEqual(FAILED_PHASES);
    expect(trace.events[2]?.context.error).toBe(reason);
  });
});
