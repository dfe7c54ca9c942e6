/**
 * Every connect attempt resolves the server's host name anew (net.connect looks it up each
 * time), so a server whose name moved to another address is reached there after a reconnect.
 */
import dns, { type LookupAddress } from 'node:dns';
import net from 'node:net';
import { Connection, type ConnectionEvent } from '@gearmanode/core';
import { encodePacket, PacketDecoder } from '@gearmanode/protocol';
import { afterEach, expect, test, vi } from 'vitest';
import { startFakeServer } from '../../../test/fake-server.js';
import { waitFor } from '../../../test/helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  vi.restoreAllMocks();
});

/** A job server stand-in on `host:port` that answers the handshake; counts its connections. */
async function answerHandshakes(host: string, port: number): Promise<{ accepted: number }> {
  const counts = { accepted: 0 };
  const server = net.createServer((socket) => {
    counts.accepted++;
    const decoder = new PacketDecoder((packet) => {
      if (packet.type === 'OPTION_REQ') {
        socket.write(encodePacket({ type: 'OPTION_RES', option: packet.option }, { magic: 'RES' }));
      }
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return counts;
}

test('a reconnect reaches the address the host name resolves to now', async () => {
  const first = await startFakeServer();
  cleanups.push(() => first.close());
  // The same port on another loopback address: where the name points after the move.
  const second = await answerHandshakes('127.0.0.2', first.port);

  let target = '127.0.0.1';
  const lookups: string[] = [];
  const original = dns.lookup;
  vi.spyOn(dns, 'lookup').mockImplementation(((
    hostname: string,
    options: dns.LookupOptions,
    callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    if (hostname !== 'gearman.test') {
      return (original as (...args: unknown[]) => void)(hostname, options, callback);
    }
    lookups.push(target);
    if (options?.all === true) callback(null, [{ address: target, family: 4 }]);
    else callback(null, target, 4);
  }) as typeof dns.lookup);

  const events: ConnectionEvent[] = [];
  const connection = new Connection({
    address: { host: 'gearman.test', port: first.port },
    reconnect: { minTimeout: 10, maxTimeout: 20 },
    onEvent: (event) => events.push(event),
  });
  cleanups.push(() => connection.close());
  await connection.connect();
  expect(first.connections).toHaveLength(1);

  // The name moves; the old address drops the link and stops listening.
  target = '127.0.0.2';
  await first.close();
  await waitFor(() => events.filter((event) => event.type === 'connect').length === 2, {
    timeout: 5000,
    what: 'a second connect',
  });
  expect(second.accepted).toBe(1);
  expect(connection.generation).toBe(2);
  expect(lookups[0]).toBe('127.0.0.1');
  expect(lookups.at(-1)).toBe('127.0.0.2');
});
