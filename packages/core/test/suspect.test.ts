/**
 * A server that owes replies and stays silent for `suspectAfter` ms is suspect long before its
 * requests' deadline; bytes from it clear the mark.
 */
import { Connection, type ConnectionEvent } from '@gearmanode/core';
import { afterEach, expect, test } from 'vitest';
import { type FakeConnection, startFakeServer } from '../../../test/fake-server.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function nextEvent(events: ConnectionEvent[], type: ConnectionEvent['type']): Promise<void> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (events.some((event) => event.type === type)) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
}

test('a server silent with a reply owed is suspect, and responsive again once it answers', async () => {
  let held: FakeConnection | undefined;
  const fake = await startFakeServer({
    onPacket(packet, connection) {
      if (packet.type !== 'ECHO_REQ' || packet.payload.toString() !== 'held') return false;
      held = connection; // no answer for now
      return true;
    },
  });
  cleanups.push(() => fake.close());
  const events: ConnectionEvent[] = [];
  const connection = new Connection({
    address: { host: fake.host, port: fake.port },
    suspectAfter: 50,
    requestTimeout: 60_000,
    onEvent: (event) => events.push(event),
  });
  cleanups.push(() => connection.close());
  await connection.connect();

  // Answered requests leave it trusted.
  await connection.requestAsync({ type: 'ECHO_REQ', payload: 'quick' });
  expect(connection.suspect).toBe(false);

  const reply = connection.requestAsync({ type: 'ECHO_REQ', payload: 'held' });
  await nextEvent(events, 'suspect');
  expect(connection.suspect).toBe(true);
  expect(connection.state).toBe('ready'); // suspect, not given up: the deadline is far
  const suspect = events.find((event) => event.type === 'suspect');
  expect(suspect).toMatchObject({ server: connection.server });
  expect((suspect as { silentFor: number }).silentFor).toBeGreaterThanOrEqual(50);

  held?.send({ type: 'ECHO_RES', payload: 'held' });
  await reply;
  expect(connection.suspect).toBe(false);
  expect(events.map((event) => event.type)).toEqual(['connect', 'suspect', 'responsive']);
});

test('an idle server that owes nothing is never suspect', async () => {
  const fake = await startFakeServer();
  cleanups.push(() => fake.close());
  const events: ConnectionEvent[] = [];
  const connection = new Connection({
    address: { host: fake.host, port: fake.port },
    suspectAfter: 30,
    onEvent: (event) => events.push(event),
  });
  cleanups.push(() => connection.close());
  await connection.connect();
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(connection.suspect).toBe(false);
  expect(events.map((event) => event.type)).toEqual(['connect']);
});
