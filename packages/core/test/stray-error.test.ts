/**
 * ERROR replies to packets that expect none (WORK_DATA, WORK_STATUS, …) must not take the reply
 * slot of a request in flight. The scripts answer as the real servers were seen to on sockets:
 * Perl's Gearman::Server refuses WORK_DATA and WORK_WARNING (unknown to it) with `server_error`,
 * reports for a job the connection does not hold with `not_worker`, and GRAB_JOB_UNIQ (also
 * unknown) with `server_error`; gearmand answers such reports with JOB_NOT_FOUND.
 */
import { Connection, type ConnectionOptions } from '@gearmanode/core';
import type { GearmanError, Packet, PacketInit } from '@gearmanode/protocol';
import { afterEach, describe, expect, test } from 'vitest';
import { type FakeScript, type FakeServer, startFakeServer } from '../../../test/fake-server.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function refuse(code: string, message = ''): PacketInit {
  return { type: 'ERROR', code, message };
}

/** Gearman::Server as observed: which packets it refuses, and with what. */
const gearmanServer: FakeScript = (packet, connection) => {
  switch (packet.type) {
    case 'WORK_DATA':
    case 'WORK_WARNING':
    case 'GRAB_JOB_UNIQ':
      connection.send(refuse('server_error', "Can't locate object method"));
      return true;
    case 'WORK_STATUS':
      connection.send(refuse('not_worker'));
      return true;
    case 'GRAB_JOB':
      connection.send({ type: 'JOB_ASSIGN', handle: 'H:perl:1', functionName: 'f', payload: 'x' });
      return true;
    case 'WORK_COMPLETE':
      // Accepted without a reply, as for a job the connection holds.
      return true;
    default:
      return false;
  }
};

async function connectTo(
  script: FakeScript,
): Promise<{ fake: FakeServer; connection: Connection; stray: Packet[] }> {
  const fake = await startFakeServer({ onPacket: script });
  const stray: Packet[] = [];
  const options: ConnectionOptions = {
    address: { host: fake.host, port: fake.port },
    reconnect: false,
    onPacket: (packet) => stray.push(packet),
  };
  const connection = new Connection(options);
  cleanups.push(() => fake.close());
  cleanups.push(() => connection.close());
  await connection.connect();
  return { fake, connection, stray };
}

function settled(promise: Promise<Packet>): Promise<Packet | GearmanError> {
  return promise.catch((error: GearmanError) => error);
}

describe('an ERROR answering a packet without a reply', () => {
  test('a refused WORK_DATA or WORK_WARNING does not take the reply of the GRAB after it', async () => {
    const { connection, stray } = await connectTo(gearmanServer);
    connection.send({ type: 'WORK_DATA', handle: 'H:perl:1', payload: 'chunk' });
    const uniq = settled(connection.requestAsync({ type: 'GRAB_JOB_UNIQ' }));
    connection.send({ type: 'WORK_WARNING', handle: 'H:perl:1', payload: 'careful' });
    const grab = settled(connection.requestAsync({ type: 'GRAB_JOB' }));

    // GRAB_JOB_UNIQ's own refusal still reaches it, as a typed ServerError.
    expect(await uniq).toMatchObject({ code: 'ERR_SERVER', serverCode: 'server_error' });
    expect(await grab).toMatchObject({ type: 'JOB_ASSIGN', handle: 'H:perl:1' });
    expect(stray.map((p) => (p.type === 'ERROR' ? p.code : p.type))).toEqual([
      'server_error',
      'server_error',
    ]);
    expect(connection.state).toBe('ready');
    expect(connection.generation).toBe(1);
    expect(connection.pendingRequests).toBe(0);
  });

  test('refusals of reports for unknown jobs (not_worker, JOB_NOT_FOUND) never answer a request', async () => {
    const { connection, stray } = await connectTo((packet, socket) => {
      if (packet.type === 'WORK_STATUS') socket.send(refuse('not_worker'));
      else if (packet.type === 'WORK_COMPLETE') socket.send(refuse('JOB_NOT_FOUND', 'gone'));
      else if (packet.type === 'GRAB_JOB_ALL') {
        // Gearman::Server also sends not_worker unprompted, from a CAN_DO_TIMEOUT timer.
        socket.send(refuse('not_worker'));
        socket.send({ type: 'NO_JOB' });
      } else return false;
      return true;
    });
    connection.send({ type: 'WORK_STATUS', handle: 'H:1', numerator: 1, denominator: 2 });
    const first = settled(connection.requestAsync({ type: 'GRAB_JOB_ALL' }));
    connection.send({ type: 'WORK_COMPLETE', handle: 'H:1', payload: 'done' });
    const second = settled(connection.requestAsync({ type: 'ECHO_REQ', payload: 'sync' }));

    expect(await first).toMatchObject({ type: 'NO_JOB' });
    expect(await second).toMatchObject({ type: 'ECHO_RES' });
    expect(stray.map((p) => (p.type === 'ERROR' ? p.code : p.type))).toEqual([
      'not_worker',
      'not_worker',
      'JOB_NOT_FOUND',
    ]);
    expect(connection.generation).toBe(1);
  });

  test('server_error after an accepted report is the reply of the request, not a refusal', async () => {
    // WORK_COMPLETE is accepted silently; only WORK_DATA and WORK_WARNING draw server_error.
    const { connection, stray } = await connectTo(gearmanServer);
    connection.send({ type: 'WORK_COMPLETE', handle: 'H:perl:1', payload: 'done' });
    const uniq = settled(connection.requestAsync({ type: 'GRAB_JOB_UNIQ' }));
    const echo = settled(connection.requestAsync({ type: 'ECHO_REQ', payload: 'sync' }));

    expect(await uniq).toMatchObject({ code: 'ERR_SERVER', serverCode: 'server_error' });
    expect(await echo).toMatchObject({ type: 'ECHO_RES' });
    expect(stray).toEqual([]);
  });

  test('a refused WORK_DATA with no request in flight is stray too', async () => {
    const { fake, connection, stray } = await connectTo(gearmanServer);
    connection.send({ type: 'WORK_DATA', handle: 'H:perl:1', payload: 'chunk' });
    await fake.waitForPacket('WORK_DATA');
    expect(await connection.requestAsync({ type: 'ECHO_REQ', payload: 'sync' })).toMatchObject({
      type: 'ECHO_RES',
    });
    expect(stray).toHaveLength(1);
    expect(connection.generation).toBe(1);
  });
});
