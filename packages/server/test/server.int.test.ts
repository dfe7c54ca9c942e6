import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { encodePacket, type Packet, PacketDecoder } from '@gearmanode/protocol';
import { createServer, type GearmanServer, type ServerLogger } from '@gearmanode/server';
import { afterEach, describe, expect, test } from 'vitest';
import { uniqueName, waitFor } from '../../../test/helpers.js';
import { rawFrame } from './frames.js';
import { Wire } from './wire.js';

/** The embedded server's own API and lifecycle: always runs in-process, whatever the target. */

const servers: GearmanServer[] = [];
const wires: Wire[] = [];
afterEach(async () => {
  await Promise.all(wires.splice(0).map((wire) => wire.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(options: Parameters<typeof createServer>[0] = {}): Promise<GearmanServer> {
  const server = await createServer({ port: 0, ...options });
  servers.push(server);
  return server;
}

async function open(server: GearmanServer): Promise<Wire> {
  const wire = await Wire.open(server.address);
  wires.push(wire);
  return wire;
}

function refused(server: GearmanServer): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(server.address.port, server.address.host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** A client with a foreground job that a worker holds. */
async function runningJob(server: GearmanServer) {
  const functionName = uniqueName('running');
  const client = await open(server);
  await client.send({ type: 'SUBMIT_JOB', functionName, unique: '', payload: 'x' });
  const created = await client.packet();
  if (created.type !== 'JOB_CREATED') throw new Error('no JOB_CREATED');
  const runner = await open(server);
  await runner.send({ type: 'CAN_DO', functionName }, { type: 'GRAB_JOB' });
  await runner.packet();
  return { client, runner, handle: created.handle, functionName };
}

function recordingLogger(): ServerLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    error: (message) => lines.push(`error ${message}`),
    warn: (message) => lines.push(`warn ${message}`),
    info: (message) => lines.push(`info ${message}`),
  };
}

describe('createServer', () => {
  test('listens on 127.0.0.1 and a free port with port: 0', async () => {
    const server = await start();
    expect(server.address.host).toBe('127.0.0.1');
    expect(server.address.port).toBeGreaterThan(0);
    expect(server.state).toBe('listening');
    const wire = await open(server);
    await wire.send({ type: 'ECHO_REQ', payload: 'hi' });
    expect(await wire.packet()).toEqual({ type: 'ECHO_RES', payload: Buffer.from('hi') });
  });

  test('rejects with EADDRINUSE when the port is taken', async () => {
    const blocker = createNetServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      await expect(createServer({ port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      blocker.close();
    }
  });

  test('rejects bad options with ERR_INVALID_ARGUMENT', async () => {
    await expect(createServer({ port: 70000 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      field: 'port',
    });
  });

  test('numbers handles <handlePrefix>:<n>', async () => {
    const server = await start({ handlePrefix: 'H:test' });
    const wire = await open(server);
    await wire.send({ type: 'SUBMIT_JOB_BG', functionName: 'f', unique: '', payload: 'x' });
    expect(await wire.packet()).toEqual({ type: 'JOB_CREATED', handle: 'H:test:1' });
  });

  test('maxQueue limits every function from the start', async () => {
    const server = await start({ maxQueue: 1 });
    const wire = await open(server);
    const job = { type: 'SUBMIT_JOB_BG', functionName: 'f', unique: '', payload: 'x' } as const;
    await wire.send(job, job);
    expect((await wire.packets(2)).map((p) => p.type)).toEqual(['JOB_CREATED', 'ERROR']);
  });

  test('maxPacketSize: a packet at the limit is fine, one byte over closes the connection', async () => {
    const logger = recordingLogger();
    const server = await start({ maxPacketSize: 1000, logger });
    const wire = await open(server);
    await wire.send({ type: 'ECHO_REQ', payload: Buffer.alloc(1000) });
    expect((await wire.packet()).type).toBe('ECHO_RES');
    await wire.send(rawFrame('ECHO_REQ', [Buffer.alloc(1001)]));
    expect(await wire.closesWithin(2000)).toBe(true);
    expect(logger.lines.some((line) => line.includes('exceeds maxPacketSize 1000'))).toBe(true);
  });
});

describe('close()', () => {
  test('closes every connection, refuses new ones and resolves `closed` with undefined', async () => {
    const server = await start();
    const wire = await open(server);
    await server.close();
    expect(server.state).toBe('closed');
    await expect(server.closed).resolves.toBeUndefined();
    expect(await wire.closesWithin(1000)).toBe(true);
    expect(await refused(server)).toBe(true);
  });

  test('is idempotent, and [Symbol.asyncDispose] calls it', async () => {
    let server: GearmanServer;
    {
      await using disposable = await createServer({ port: 0 });
      server = disposable;
    }
    expect(server.state).toBe('closed');
    await server.close();
    await server[Symbol.asyncDispose]();
  });

  test('writes replies that are already queued before closing', async () => {
    const server = await start();
    const wire = await open(server);
    await wire.send({ type: 'ECHO_REQ', payload: 'last words' });
    await waitFor(() => wire.raw.socket.bytesWritten > 0);
    await sleep(20);
    await server.close();
    expect(await wire.packet()).toEqual({ type: 'ECHO_RES', payload: Buffer.from('last words') });
  });

  test('graceful: waits for running jobs while refusing new work, then closes', async () => {
    const server = await start();
    const { client, runner, handle, functionName } = await runningJob(server);
    const other = await open(server);
    let closed = false;
    const closing = server.close({ graceful: true }).then(() => {
      closed = true;
    });
    await sleep(50);
    expect(server.state).toBe('closing');
    expect(await refused(server)).toBe(true);
    await other.send(
      { type: 'SUBMIT_JOB', functionName, unique: '', payload: 'y' },
      { type: 'GRAB_JOB' },
    );
    expect(await other.packet()).toEqual({
      type: 'ERROR',
      code: 'SHUTDOWN_GRACEFUL',
      message: 'Server is shutting down',
    });
    expect(closed).toBe(false);
    await runner.send({ type: 'WORK_COMPLETE', handle, payload: 'finished' });
    expect(await client.packet()).toEqual({
      type: 'WORK_COMPLETE',
      handle,
      payload: Buffer.from('finished'),
    });
    await closing;
    expect(await client.closesWithin(1000)).toBe(true);
  });

  test('graceful: gives up after `timeout`', async () => {
    const server = await start();
    const { client } = await runningJob(server);
    const started = Date.now();
    await server.close({ graceful: true, timeout: 300 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await client.closesWithin(1000)).toBe(true);
  });

  test('a non-graceful close cuts a graceful one short', async () => {
    const server = await start();
    await runningJob(server);
    const graceful = server.close({ graceful: true, timeout: 60_000 });
    await sleep(50);
    await server.close();
    await graceful;
    expect(server.state).toBe('closed');
  });
});

describe('admin shutdown', () => {
  test('shutdown answers OK and closes the server', async () => {
    const server = await start();
    const admin = await open(server);
    expect(await admin.command('shutdown')).toBe('OK');
    await expect(server.closed).resolves.toBeUndefined();
    expect(server.state).toBe('closed');
  });

  test('shutdown graceful answers OK and lets the running job finish first', async () => {
    const server = await start();
    const { client, runner, handle } = await runningJob(server);
    const admin = await open(server);
    expect(await admin.command('shutdown graceful')).toBe('OK');
    await sleep(100);
    expect(server.state).toBe('closing');
    await runner.send({ type: 'WORK_COMPLETE', handle, payload: 'done' });
    expect(await client.packet()).toMatchObject({ type: 'WORK_COMPLETE', handle });
    await expect(server.closed).resolves.toBeUndefined();
  });
});

describe('robustness', () => {
  test('a peer that resets mid-stream does not disturb the server', async () => {
    const logger = recordingLogger();
    const server = await start({ logger });
    const socket = connect(server.address.port, server.address.host);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(rawFrame('ECHO_REQ', [Buffer.alloc(10_000)]).subarray(0, 5000));
    socket.resetAndDestroy();
    const wire = await open(server);
    await wire.send({ type: 'ECHO_REQ', payload: 'ok' });
    expect(await wire.packet()).toEqual({ type: 'ECHO_RES', payload: Buffer.from('ok') });
    expect(logger.lines.filter((line) => line.startsWith('error'))).toEqual([]);
  });

  test('a worker feeding a client that never reads stops being read', async () => {
    const server = await start();
    const functionName = uniqueName('slowreader');
    const raw = (): Promise<Socket> =>
      new Promise((resolve) => {
        const socket = connect(server.address.port, server.address.host, () => resolve(socket));
      });
    const client = await raw();
    client.pause(); // reads nothing
    client.write(encodePacket({ type: 'SUBMIT_JOB', functionName, unique: '', payload: 'x' }));
    const runner = await raw();
    const received: Packet[] = [];
    const decoder = new PacketDecoder((p) => received.push(p));
    runner.on('data', (chunk) => decoder.push(chunk));
    runner.write(
      Buffer.concat([
        encodePacket({ type: 'CAN_DO', functionName }),
        encodePacket({ type: 'GRAB_JOB' }),
      ]),
    );
    await waitFor(() => received.find((p) => p.type === 'JOB_ASSIGN'));
    const assign = received.find((p) => p.type === 'JOB_ASSIGN');
    const handle = assign?.type === 'JOB_ASSIGN' ? assign.handle : '';
    const chunk = encodePacket({ type: 'WORK_DATA', handle, payload: Buffer.alloc(1024 * 1024) });
    for (let i = 0; i < 64; i++) runner.write(chunk);
    await sleep(1500);
    expect(runner.writableLength).toBeGreaterThan(32 * 1024 * 1024);
    client.resume(); // now read it all: the worker gets going again
    await waitFor(() => runner.writableLength === 0, { timeout: 10_000 });
    client.destroy();
    runner.destroy();
  });
});

describe('gearmanode-server CLI', () => {
  const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  function run(args: string[]): {
    child: ChildProcess;
    output: () => string;
    exited: Promise<number | null>;
  } {
    // --import tsx resolves from the working directory: the repository root has it.
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    return { child, output: () => output, exited };
  }

  test('prints where it listens, serves, and exits 0 on SIGTERM', async () => {
    const { child, output, exited } = run(['--port', '0', '--handle-prefix', 'H:cli']);
    const line = await waitFor(() => /listening on 127\.0\.0\.1:(\d+)/.exec(output()), {
      timeout: 15_000,
      what: `the listening line in ${JSON.stringify(output())}`,
    });
    const port = Number(line[1]);
    const wire = await Wire.open({ host: '127.0.0.1', port });
    wires.push(wire);
    await wire.send({ type: 'SUBMIT_JOB_BG', functionName: 'f', unique: '', payload: 'x' });
    expect(await wire.packet()).toEqual({ type: 'JOB_CREATED', handle: 'H:cli:1' });
    expect(await wire.command('version')).toMatch(/^OK 1\.1\.20\+gearmanode\./);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);

  test('exits 2 with a message for a bad option', async () => {
    const { output, exited } = run(['--port', 'abc']);
    expect(await exited).toBe(2);
    expect(output()).toContain('--port must be a non-negative integer');
  }, 30_000);

  test('--help prints the usage', async () => {
    const { output, exited } = run(['--help']);
    expect(await exited).toBe(0);
    expect(output()).toContain('Usage: gearmanode-server');
  }, 30_000);
});
