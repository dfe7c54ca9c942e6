import { Buffer } from 'node:buffer';
import net from 'node:net';
import {
  ConnectionError,
  encodePacket,
  encodePacketParts,
  type GearmanError,
  type Packet,
  type PacketInit,
  ProtocolError,
  ServerError,
  TimeoutError,
} from '@gearmanode/protocol';
import { afterEach, describe, expect, test } from 'vitest';
import { type FakeScript, type FakeServer, startFakeServer } from '../../../test/fake-server.js';
import { Connection } from '../src/connection/connection.js';
import type { ReplyHandler } from '../src/connection/options.js';
import { Session, type SessionOptions } from '../src/connection/session.js';

const fakes: FakeServer[] = [];
const sockets: net.Socket[] = [];
const connections: Connection[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const connection of connections.splice(0)) connection.destroy();
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

async function fake(onPacket?: FakeScript): Promise<FakeServer> {
  const server = await startFakeServer({ onPacket });
  fakes.push(server);
  return server;
}

/** A handler that records what it gets, in order, tagged with `name`. */
function recording(log: string[], name: string): ReplyHandler {
  return {
    onReply: (packet) => log.push(`${name}:${packet.type}`),
    onError: (error) => log.push(`${name}:${error.code}`),
  };
}

/**
 * A session on a socket to `server`, decoding what arrives (decode errors land in `errors`),
 * and a count of the socket's write calls.
 */
async function sessionOn(server: FakeServer, options: Partial<SessionOptions> = {}) {
  const unsolicited: Packet[] = [];
  const errors: Error[] = [];
  const session = new Session({
    server: server.address,
    maxPacketSize: 1024 * 1024,
    text: false,
    requestTimeout: 10_000,
    onPacket: (packet) => unsolicited.push(packet),
    ...options,
  });
  const socket = net.connect({ host: server.host, port: server.port });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('data', (chunk: Buffer) => {
    try {
      session.push(chunk);
    } catch (error) {
      errors.push(error as Error);
    }
  });
  const writes = { count: 0 };
  const write = socket.write.bind(socket) as (chunk: Uint8Array) => boolean;
  socket.write = ((chunk: Uint8Array) => {
    writes.count++;
    return write(chunk);
  }) as typeof socket.write;
  await server.waitForConnections(1);
  return { session, socket, unsolicited, errors, writes };
}

function request(session: Session, packet: PacketInit, handler: ReplyHandler) {
  return session.request(packet.type, handler, session.encode(packet));
}

const probeHandler = (log: string[]) => recording(log, 'probe');

describe('Session outbox', () => {
  test('everything queued in one tick goes out in one write, in order', async () => {
    const server = await fake();
    const { session, socket, writes } = await sessionOn(server);
    session.attach(socket);
    const log: string[] = [];
    for (let i = 0; i < 5; i++) {
      request(session, { type: 'ECHO_REQ', payload: `p${i}` }, recording(log, `e${i}`));
    }
    session.enqueue(session.encode({ type: 'CAN_DO', functionName: 'f' }));
    expect(writes.count).toBe(0); // nothing before the tick ends
    await server.until(() => log.length === 5);
    expect(writes.count).toBe(1);
    expect(server.received.map((p) => p.type)).toEqual([
      ...Array<string>(5).fill('ECHO_REQ'),
      'CAN_DO',
    ]);
    expect(log).toEqual([
      'e0:ECHO_RES',
      'e1:ECHO_RES',
      'e2:ECHO_RES',
      'e3:ECHO_RES',
      'e4:ECHO_RES',
    ]);
  });

  test('packets sent and small frames behind them go out as one write of the slab, in order', async () => {
    const server = await fake();
    const { session, socket, writes } = await sessionOn(server);
    session.attach(socket);
    const log: string[] = [];
    const grab = encodePacketParts({ type: 'GRAB_JOB_UNIQ' });
    for (let i = 0; i < 3; i++) {
      session.send({ type: 'WORK_COMPLETE', handle: `H:${i}`, payload: Buffer.from(`r${i}`) });
      session.request('GRAB_JOB_UNIQ', recording(log, `g${i}`), grab);
    }
    await server.until(() => log.length === 3);
    expect(writes.count).toBe(1);
    expect(server.received.map((p) => p.type)).toEqual(
      Array.from({ length: 3 }, () => ['WORK_COMPLETE', 'GRAB_JOB_UNIQ']).flat(),
    );
    const completes = server.received.filter((p) => p.type === 'WORK_COMPLETE');
    expect(completes.map((p) => p.type === 'WORK_COMPLETE' && p.handle)).toEqual([
      'H:0',
      'H:1',
      'H:2',
    ]);
    expect(log).toEqual(['g0:NO_JOB', 'g1:NO_JOB', 'g2:NO_JOB']);
  });

  test('the slab keeps its order with frames queued before it and large packets after it', async () => {
    const server = await fake();
    const { session, socket } = await sessionOn(server);
    const log: string[] = [];
    request(session, { type: 'ECHO_REQ', payload: 'first' }, recording(log, 'e0'));
    session.send({ type: 'CAN_DO', functionName: 'a' });
    const big = Buffer.alloc(100 * 1024, 7);
    session.send({ type: 'WORK_DATA', handle: 'H:1', payload: big });
    session.send({ type: 'CAN_DO', functionName: 'b' });
    request(session, { type: 'ECHO_REQ', payload: 'last' }, recording(log, 'e1'));
    session.attach(socket);
    await server.until(() => log.length === 2);
    expect(server.received.map((p) => p.type)).toEqual([
      'ECHO_REQ',
      'CAN_DO',
      'WORK_DATA',
      'CAN_DO',
      'ECHO_REQ',
    ]);
    const data = server.received[2];
    expect(data?.type === 'WORK_DATA' && Buffer.from(data.payload).equals(big)).toBe(true);
    expect(log).toEqual(['e0:ECHO_RES', 'e1:ECHO_RES']);
  });

  test('a full slab is replaced, and what was sent before goes out first', async () => {
    const server = await fake();
    const { session, socket } = await sessionOn(server);
    session.attach(socket);
    const handles: string[] = [];
    // 40 packets of some 1 KiB: more than one slab's worth, flushed at once.
    for (let i = 0; i < 40; i++) {
      handles.push(`H:${i}`);
      session.send({ type: 'WORK_DATA', handle: `H:${i}`, payload: Buffer.alloc(1000, i) });
    }
    await server.until(() => server.received.length === 40);
    const received = server.received.map((p) => (p.type === 'WORK_DATA' ? p.handle : p.type));
    expect(received).toEqual(handles);
    const last = server.received[39];
    expect(last?.type === 'WORK_DATA' && last.payload.every((byte) => byte === 39)).toBe(true);
  });

  test('what the packets of a chunk send is written once the chunk is decoded, not a tick later', async () => {
    const server = await fake(() => true); // never answers: the replies are pushed by hand
    const { session, socket, writes } = await sessionOn(server);
    session.attach(socket);
    const handler: ReplyHandler = {
      onReply: () => {
        session.send({ type: 'CAN_DO', functionName: 'x' });
        session.send({ type: 'CAN_DO', functionName: 'y' });
      },
      onError: () => {},
    };
    request(session, { type: 'ECHO_REQ', payload: '' }, handler);
    await server.until(() => server.received.length === 1);
    const before = writes.count;
    session.push(encodePacket({ type: 'ECHO_RES', payload: '' }));
    expect(writes.count).toBe(before + 1); // already, in one write
    await server.until(() => server.received.length === 3);
    expect(server.received.map((p) => p.type === 'CAN_DO' && p.functionName)).toEqual([
      false,
      'x',
      'y',
    ]);
    expect(writes.count).toBe(before + 1);
  });

  test('send() throws for a packet that cannot be encoded, and queues nothing', async () => {
    const server = await fake();
    const { session, socket } = await sessionOn(server);
    session.attach(socket);
    session.send({ type: 'CAN_DO', functionName: 'a' });
    expect(() => session.send({ type: 'CAN_DO', functionName: 'b\0' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    session.send({ type: 'CAN_DO', functionName: 'c' });
    await server.until(() => server.received.length === 2);
    expect(server.received.map((p) => p.type === 'CAN_DO' && p.functionName)).toEqual(['a', 'c']);
  });

  test('large payloads go out uncopied, as one corked batch', async () => {
    const server = await fake();
    const { session, socket, writes } = await sessionOn(server);
    session.attach(socket);
    let corks = 0;
    const cork = socket.cork.bind(socket);
    socket.cork = () => {
      corks++;
      cork();
    };
    const payload = Buffer.alloc(100 * 1024, 1);
    const log: string[] = [];
    request(session, { type: 'ECHO_REQ', payload }, recording(log, 'big'));
    request(session, { type: 'ECHO_REQ', payload: 'small' }, recording(log, 'small'));
    await server.until(() => log.length === 2);
    expect(corks).toBe(1);
    expect(writes.count).toBeGreaterThan(1);
    expect(log).toEqual(['big:ECHO_RES', 'small:ECHO_RES']);
    const first = server.received[0];
    expect(first?.type === 'ECHO_REQ' && Buffer.from(first.payload).equals(payload)).toBe(true);
  });

  test('a flush marks its requests written and starts their reply deadlines', async () => {
    const server = await fake(() => true); // never answers
    const { session, socket } = await sessionOn(server, { requestTimeout: 60_000 });
    const log: string[] = [];
    const pending = request(session, { type: 'ECHO_REQ', payload: '' }, recording(log, 'e'));
    expect(pending).toMatchObject({ written: false, deadline: 0 });
    const before = Date.now();
    session.attach(socket);
    expect(pending.written).toBe(true);
    expect(pending.deadline).toBeGreaterThanOrEqual(before + 60_000);
    expect(session.head).toBe(pending);
    expect(session.size).toBe(1);
  });

  test('end() drops unwritten frames and fails every request with its own error', async () => {
    const server = await fake(() => true);
    const { session, socket } = await sessionOn(server);
    const errors: GearmanError[] = [];
    const handler: ReplyHandler = { onReply: () => {}, onError: (e) => errors.push(e) };
    const written = request(session, { type: 'ECHO_REQ', payload: 'a' }, handler);
    session.attach(socket);
    const unwritten = request(session, { type: 'ECHO_REQ', payload: 'b' }, handler);
    expect([written.written, unwritten.written]).toEqual([true, false]);
    session.end((pending) => session.lostError(pending, new Error('gone')));
    expect(session.size).toBe(0);
    expect(errors.map((e) => (e as ConnectionError).maybeRan)).toEqual([true, false]);
    expect(errors[0]).toBeInstanceOf(ConnectionError);
    expect(errors[0]?.message).toBe(
      `connection to ${server.address} lost before the reply to ECHO_REQ: gone`,
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The second request never reached the server.
    expect(server.received.map((p) => p.type)).toEqual(['ECHO_REQ']);
  });
});

describe('Session replies', () => {
  test('replies are matched to requests first in, first out, by type', async () => {
    const server = await fake();
    const { session, socket } = await sessionOn(server);
    session.attach(socket);
    const log: string[] = [];
    request(
      session,
      { type: 'SUBMIT_JOB', functionName: 'f', unique: '', payload: 'x' },
      recording(log, 'submit'),
    );
    request(session, { type: 'ECHO_REQ', payload: '' }, recording(log, 'echo'));
    request(session, { type: 'GET_STATUS', handle: 'H:1' }, recording(log, 'status'));
    await server.until(() => log.length === 3);
    expect(log).toEqual(['submit:JOB_CREATED', 'echo:ECHO_RES', 'status:STATUS_RES']);
  });

  test('an ERROR answers the oldest request and later replies keep their order', async () => {
    const server = await fake((packet, connection) => {
      if (packet.type !== 'ECHO_REQ' || Buffer.from(packet.payload).toString() !== 'bad') {
        return false;
      }
      connection.send({ type: 'ERROR', code: 'ERR_X', message: 'refused' });
      return true;
    });
    const { session, socket } = await sessionOn(server);
    session.attach(socket);
    const log: string[] = [];
    const errors: GearmanError[] = [];
    request(
      session,
      { type: 'ECHO_REQ', payload: 'bad' },
      {
        onReply: (p) => log.push(`first:${p.type}`),
        onError: (e) => {
          errors.push(e);
          log.push('first:error');
        },
      },
    );
    request(session, { type: 'ECHO_REQ', payload: 'ok' }, recording(log, 'second'));
    await server.until(() => log.length === 2);
    expect(log).toEqual(['first:error', 'second:ECHO_RES']);
    expect(errors[0]).toBeInstanceOf(ServerError);
    expect(errors[0]).toMatchObject({ serverCode: 'ERR_X' });
  });

  test('a reply of the wrong type is a ProtocolError and matches nothing', async () => {
    const server = await fake((packet, connection) => {
      if (packet.type !== 'ECHO_REQ') return false;
      connection.send({ type: 'JOB_CREATED', handle: 'H:stray' });
      return true;
    });
    const { session, socket, errors } = await sessionOn(server);
    session.attach(socket);
    const log: string[] = [];
    request(session, { type: 'ECHO_REQ', payload: '' }, recording(log, 'echo'));
    await server.until(() => errors.length === 1);
    expect(errors[0]).toBeInstanceOf(ProtocolError);
    expect(errors[0]?.message).toBe(
      `unexpected JOB_CREATED from ${server.address} while awaiting a reply to ECHO_REQ`,
    );
    expect(log).toEqual([]);
    expect(session.size).toBe(1);
  });

  test('unsolicited packets and JOB_NOT_FOUND go to onPacket, not to the waiting request', async () => {
    const server = await fake((packet, connection) => {
      if (packet.type !== 'ECHO_REQ') return false;
      connection.send({ type: 'NOOP' });
      connection.send({ type: 'WORK_COMPLETE', handle: 'H:1', payload: 'done' });
      connection.send({
        type: 'ERROR',
        code: 'JOB_NOT_FOUND',
        message: 'Job given in work result not found',
      });
      connection.send({ type: 'ECHO_RES', payload: packet.payload });
      return true;
    });
    const { session, socket, unsolicited, errors } = await sessionOn(server);
    session.attach(socket);
    const log: string[] = [];
    request(session, { type: 'ECHO_REQ', payload: 'x' }, recording(log, 'echo'));
    await server.until(() => log.length === 1);
    expect(log).toEqual(['echo:ECHO_RES']);
    expect(unsolicited.map((p) => p.type)).toEqual(['NOOP', 'WORK_COMPLETE', 'ERROR']);
    expect(errors).toEqual([]);
  });

  test('a packet with no request waiting, or with request magic, is a ProtocolError', async () => {
    const server = await fake();
    const { session, socket, errors } = await sessionOn(server);
    session.attach(socket);
    server.connections[0]?.send({ type: 'ECHO_RES', payload: '' });
    await server.until(() => errors.length === 1);
    expect(errors[0]?.message).toBe(
      `unexpected ECHO_RES from ${server.address} while no request was pending`,
    );
    // A server packet sent as a request (`\0REQ`), e.g. a peer that is a client.
    const { session: other, socket: second, errors: otherErrors } = await sessionOn(server);
    other.attach(second);
    const peer = server.connections[1];
    const frame = peer?.encode({ type: 'NOOP' });
    frame?.write('\0REQ', 0, 'latin1');
    if (frame !== undefined) peer?.write(frame);
    await server.until(() => otherErrors.length === 1);
    expect(otherErrors[0]?.message).toBe('the server sent NOOP as a request');
  });

  test('in text mode, admin lines go to the TEXT request until its handler says done', async () => {
    const server = await fake();
    const { session, socket } = await sessionOn(server, { text: true });
    session.attach(socket);
    const lines: string[] = [];
    session.request(
      'TEXT',
      {
        onLine: (line) => {
          lines.push(line);
          return line === '.';
        },
        onError: () => {},
      },
      // The fake server speaks no admin protocol: the command itself is left out.
      [],
    );
    server.connections[0]?.write('f\t1\t0\t1\n.\n');
    await server.until(() => lines.length === 2);
    expect(lines).toEqual(['f\t1\t0\t1', '.']);
    expect(session.size).toBe(0);
  });
});

describe('Session handshake', () => {
  test('the probe and setup go first, ahead of requests queued before the socket was up', async () => {
    const server = await fake();
    const { session, socket } = await sessionOn(server);
    const log: string[] = [];
    request(session, { type: 'ECHO_REQ', payload: 'queued' }, recording(log, 'queued'));
    session.begin(socket, { type: 'OPTION_REQ', option: 'exceptions' }, probeHandler(log), [
      { type: 'SET_CLIENT_ID', clientId: 'me' },
      { type: 'CAN_DO', functionName: 'f' },
    ]);
    await server.until(() => log.length === 1);
    expect(log).toEqual(['probe:OPTION_RES']);
    expect(server.received.map((p) => p.type)).toEqual(['OPTION_REQ', 'SET_CLIENT_ID', 'CAN_DO']);
    // Queued requests wait for the handshake's answer and attach().
    session.attach(socket);
    await server.until(() => log.length === 2);
    expect(log).toEqual(['probe:OPTION_RES', 'queued:ECHO_RES']);
  });

  test('a connection is ready only once the server answers the probe', async () => {
    let answer: (() => void) | undefined;
    const server = await fake((packet, connection) => {
      if (packet.type !== 'OPTION_REQ') return false;
      answer = () => connection.send({ type: 'OPTION_RES', option: packet.option });
      return true;
    });
    const connection = new Connection({
      address: { host: server.host, port: server.port },
      heartbeatInterval: 0,
      setup: () => [{ type: 'CAN_DO', functionName: 'f' }],
    });
    connections.push(connection);
    let ready = false;
    const connected = connection.connect().then(() => {
      ready = true;
    });
    await server.waitForPacket('CAN_DO');
    expect(connection.state).toBe('connecting');
    expect(ready).toBe(false);
    answer?.();
    await connected;
    expect(connection.state).toBe('ready');
    expect(server.received.map((p) => p.type)).toEqual(['OPTION_REQ', 'CAN_DO']);
  });

  test('an ERROR to OPTION_REQ still proves a server is there; exceptions off probes with ECHO', async () => {
    const server = await fake((packet, connection) => {
      if (packet.type !== 'OPTION_REQ') return false;
      connection.send({ type: 'ERROR', code: 'UNKNOWN_OPTION', message: 'no such option' });
      return true;
    });
    const old = new Connection({
      address: { host: server.host, port: server.port },
      heartbeatInterval: 0,
    });
    connections.push(old);
    await old.connect();
    expect(old.state).toBe('ready');
    const echoing = new Connection({
      address: { host: server.host, port: server.port },
      heartbeatInterval: 0,
      exceptions: false,
    });
    connections.push(echoing);
    await echoing.connect();
    expect(server.connections[1]?.received.map((p) => p.type)).toEqual(['ECHO_REQ']);
  });

  test('a request encoded once can be sent again and again, each reply to its handler', async () => {
    const server = await fake((packet, connection) => {
      if (packet.type !== 'GRAB_JOB_UNIQ') return false;
      connection.send({ type: 'NO_JOB' });
      return true;
    });
    const connection = new Connection({
      address: { host: server.host, port: server.port },
      heartbeatInterval: 0,
    });
    connections.push(connection);
    await connection.connect();
    const frames = encodePacketParts({ type: 'GRAB_JOB_UNIQ' });
    const log: string[] = [];
    connection.requestEncoded('GRAB_JOB_UNIQ', frames, recording(log, 'a'));
    connection.requestEncoded('GRAB_JOB_UNIQ', frames, recording(log, 'b'));
    await server.until(() => log.length === 2, 3000, 'both replies');
    expect(server.count('GRAB_JOB_UNIQ')).toBe(2);
    expect(log).toEqual(['a:NO_JOB', 'b:NO_JOB']);
    expect(connection.pendingRequests).toBe(0);
  });

  test('a server that accepts and closes, or stays silent, fails the attempt', async () => {
    const closing = await fake((_packet, connection) => {
      connection.destroy();
      return true;
    });
    const dropped = new Connection({
      address: { host: closing.host, port: closing.port },
      reconnect: false,
    });
    connections.push(dropped);
    await expect(dropped.connect()).rejects.toThrow(ConnectionError);

    const silent = await fake(() => true);
    const waiting = new Connection({
      address: { host: silent.host, port: silent.port },
      reconnect: false,
      connectTimeout: 50,
    });
    connections.push(waiting);
    const error = await waiting.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).cause).toBeInstanceOf(TimeoutError);
  });
});
