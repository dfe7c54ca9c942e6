import { connect, createServer, type Server, type Socket } from 'node:net';
import { describe, expect, test } from 'vitest';
import { checkLeaksAfterEach, snapshotResources } from './leak-check.js';

// Short, since these tests wait out the settle time whenever they expect a leak.
const settle = 200;

async function listen(): Promise<Server> {
  const server = createServer((socket) => socket.resume());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function open(server: Server): Promise<Socket> {
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('server not listening');
  const socket = connect(address.port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  return socket;
}

async function closeAll(server: Server, ...sockets: Socket[]): Promise<void> {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('snapshotResources', () => {
  test('passes when every timer and socket opened was closed again', async () => {
    const leaks = snapshotResources({ settle });
    const timer = setInterval(() => {}, 1000);
    const server = await listen();
    const socket = await open(server);
    clearInterval(timer);
    await closeAll(server, socket);
    await leaks.assertNoNewResources();
  });

  test('detects a leaked timer', async () => {
    const leaks = snapshotResources({ settle });
    const timer = setInterval(() => {}, 1000);
    try {
      await expect(leaks.assertNoNewResources()).rejects.toThrow(
        /Timeout created at .*leak-check\.test\.ts/,
      );
    } finally {
      clearInterval(timer);
    }
    await leaks.assertNoNewResources();
  });

  test('detects a leaked unref()ed timer, which getActiveResourcesInfo() does not list', async () => {
    const leaks = snapshotResources({ settle });
    const timer = setInterval(() => {}, 1000).unref();
    try {
      const error: Error = await leaks.assertNoNewResources().then(
        () => expect.unreachable('the leak went unnoticed'),
        (rejection: Error) => rejection,
      );
      expect(error.message).toMatch(/Timeout created at .*leak-check\.test\.ts/);
    } finally {
      clearInterval(timer);
    }
    await leaks.assertNoNewResources();
  });

  test('detects a leaked socket and server', async () => {
    const leaks = snapshotResources({ settle });
    const server = await listen();
    const socket = await open(server);
    try {
      const error: Error = await leaks.assertNoNewResources().then(
        () => expect.unreachable('the leak went unnoticed'),
        (rejection: Error) => rejection,
      );
      // The listening server, the client socket, and the server's end of the connection.
      expect(error.message).toMatch(/TCPSERVERWRAP created at/);
      expect(error.message).toMatch(/TCPWRAP created at .*leak-check\.test\.ts/);
      expect(error.message).toMatch(/active: .*TCPServerWrap \+1/);
      expect(error.message).toMatch(/active: .*TCPSocketWrap \+2/);
    } finally {
      await closeAll(server, socket);
    }
    await leaks.assertNoNewResources();
  });

  test('detects a leaked unref()ed socket', async () => {
    const server = await listen();
    const leaks = snapshotResources({ settle });
    const socket = (await open(server)).unref();
    try {
      await expect(leaks.assertNoNewResources()).rejects.toThrow(
        /TCPWRAP created at .*leak-check\.test\.ts/,
      );
    } finally {
      await closeAll(server, socket);
    }
    await leaks.assertNoNewResources();
  });

  test('waits for resources that close within the settle time', async () => {
    const leaks = snapshotResources();
    const server = await listen();
    const socket = await open(server);
    setTimeout(() => void closeAll(server, socket), 100);
    await leaks.assertNoNewResources({ settle: 5_000 });
  });

  test('ignores the types it is told to', async () => {
    const leaks = snapshotResources({ settle, ignore: ['Timeout'] });
    const timer = setInterval(() => {}, 1000);
    try {
      await leaks.assertNoNewResources();
    } finally {
      clearInterval(timer);
    }
  });
});

describe('checkLeaksAfterEach', () => {
  checkLeaksAfterEach({ settle: 2_000 });

  test('lets a test through that closes what it opens', async () => {
    const server = await listen();
    const socket = await open(server);
    await closeAll(server, socket);
  });
});
