import { createHash } from 'node:crypto';
import { createClient } from '@gearmanode/client';
import { encodePacket, type Packet } from '@gearmanode/protocol';
import { createServer, type GearmanServer } from '@gearmanode/server';
import { createWorker } from '@gearmanode/worker';
import { afterEach, describe, expect, test } from 'vitest';
import { uniqueName, waitFor } from '../../../test/helpers.js';
import { makeTestCertificates } from '../../../test/tls.js';
import { Wire } from './wire.js';

/**
 * Payloads of 1 MiB and more through the embedded server, which keeps them as the chunks they
 * arrived in: every byte must come out as it went in. Always in-process, whatever the target.
 */

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function start(options: Parameters<typeof createServer>[0] = {}): Promise<GearmanServer> {
  const server = await createServer({ port: 0, ...options });
  cleanup.push(() => server.close());
  return server;
}

async function open(server: GearmanServer): Promise<Wire> {
  const wire = await Wire.open(server.address);
  cleanup.push(() => wire.close());
  return wire;
}

const MiB = 1024 * 1024;

/** A payload whose every byte differs from its neighbours', every value (NUL too) included. */
function payloadOf(size: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 131 + seed * 7 + (i >> 8)) & 0xff;
  return buf;
}

const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function payloadOfPacket(packet: Packet): Buffer {
  if (!('payload' in packet)) throw new Error(`${packet.type} has no payload`);
  return packet.payload;
}

/** Writes `bytes` in pieces of uneven sizes, each its own write. */
async function writeInPieces(wire: Wire, bytes: Buffer): Promise<void> {
  const sizes = [1, 11, 5, 4000, 70_000, 65_536, 3, 200_000];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length] as number;
    await wire.raw.write(bytes.subarray(at, at + size));
    at += size;
  }
}

describe('large payloads through the embedded server', () => {
  test('client → server → worker → server → client, byte for byte (raw packets)', async () => {
    const server = await start();
    const functionName = uniqueName('large');
    const client = await open(server);
    const worker = await open(server);
    await worker.send({ type: 'CAN_DO', functionName });
    const payload = payloadOf(MiB + 17, 1);
    await writeInPieces(
      client,
      encodePacket({ type: 'SUBMIT_JOB', functionName, unique: 'job-1', payload }),
    );
    const created = await client.packet();
    expect(created.type).toBe('JOB_CREATED');
    const handle = (created as Packet & { handle: string }).handle;

    await worker.send({ type: 'GRAB_JOB_UNIQ' });
    const assign = await worker.packet();
    expect(assign).toMatchObject({
      type: 'JOB_ASSIGN_UNIQ',
      handle,
      functionName,
      unique: 'job-1',
    });
    expect(digest(payloadOfPacket(assign))).toBe(digest(payload));

    const data = payloadOf(MiB, 2);
    const result = payloadOf(2 * MiB + 5, 3);
    await writeInPieces(
      worker,
      Buffer.concat([
        encodePacket({ type: 'WORK_DATA', handle, payload: data }),
        encodePacket({ type: 'WORK_COMPLETE', handle, payload: result }),
      ]),
    );
    const forwardedData = await client.packet();
    expect(client.lastMagic).toBe('RES');
    expect(forwardedData).toMatchObject({ type: 'WORK_DATA', handle });
    expect(digest(payloadOfPacket(forwardedData))).toBe(digest(data));
    const completed = await client.packet();
    expect(client.lastMagic).toBe('RES');
    expect(completed).toMatchObject({ type: 'WORK_COMPLETE', handle });
    expect(digest(payloadOfPacket(completed))).toBe(digest(result));

    // The connections are still in step: the next exchange is answered as usual.
    await client.send({ type: 'ECHO_REQ', payload: 'after' });
    expect(await client.packet()).toEqual({ type: 'ECHO_RES', payload: Buffer.from('after') });
  });

  test('several large jobs in flight with the client and worker packages', async () => {
    const server = await start();
    const at = `${server.address.host}:${server.address.port}`;
    const functionName = uniqueName('echo');
    const worker = await createWorker({ servers: [at], functions: [functionName] });
    cleanup.push(() => worker.destroy());
    void worker.process(async (job) => {
      await job.data(job.payload.subarray(0, 100_000));
      return Buffer.concat([job.payload, Buffer.from('!')]);
    });
    const client = await createClient({ servers: [at] });
    cleanup.push(() => client.close());
    const payloads = Array.from({ length: 6 }, (_, i) => payloadOf(MiB + i * 4099, 10 + i));
    const results = await Promise.all(
      payloads.map(async (payload) => {
        const run = client.start(functionName, payload);
        const data: Buffer[] = [];
        for await (const event of run) if (event.type === 'data') data.push(event.data);
        return { data, result: await run.result() };
      }),
    );
    for (const [i, { data, result }] of results.entries()) {
      const payload = payloads[i] as Buffer;
      expect(data).toHaveLength(1);
      expect(digest(data[0] as Buffer)).toBe(digest(payload.subarray(0, 100_000)));
      expect(result.length).toBe(payload.length + 1);
      expect(digest(result)).toBe(digest(Buffer.concat([payload, Buffer.from('!')])));
    }
  });

  test('over TLS, a large job and its result come back byte for byte', async () => {
    const certs = await makeTestCertificates();
    cleanup.push(() => certs.remove());
    const server = await start({ tls: certs.good });
    const at = `localhost:${server.address.port}`;
    const tls = { ca: certs.ca };
    const functionName = uniqueName('tls');
    const worker = await createWorker({ servers: [at], functions: [functionName], tls });
    cleanup.push(() => worker.destroy());
    void worker.process((job) => Buffer.from(job.payload).reverse());
    const client = await createClient({ servers: [at], tls });
    cleanup.push(() => client.close());
    const payload = payloadOf(2 * MiB + 333, 40);
    const result = await client.submit(functionName, payload);
    expect(digest(result)).toBe(digest(Buffer.from(payload).reverse()));
  });

  test('a background job keeps its large payload until a worker takes it', async () => {
    const server = await start();
    const at = `${server.address.host}:${server.address.port}`;
    const functionName = uniqueName('bg');
    const client = await createClient({ servers: [at] });
    cleanup.push(() => client.close());
    const payload = payloadOf(3 * MiB + 1, 20);
    const handle = await client.submitBackground(functionName, payload, { unique: 'bg-1' });
    // The same unique coalesces onto the queued job.
    expect(await client.submitBackground(functionName, payload, { unique: 'bg-1' })).toBe(handle);
    expect(await client.getStatus({ unique: 'bg-1' })).toMatchObject({ known: true });

    const received: Buffer[] = [];
    const worker = await createWorker({ servers: [at], functions: [functionName] });
    cleanup.push(() => worker.destroy());
    void worker.process((job) => {
      received.push(Buffer.from(job.payload));
    });
    await waitFor(() => received.length === 1, { timeout: 10_000, what: 'the job ran' });
    expect(digest(received[0] as Buffer)).toBe(digest(payload));
    await waitFor(async () => !(await client.getStatus(handle)).known, {
      timeout: 5_000,
      what: 'the job ended',
    });
  });

  test('a unique of `-` coalesces two large submissions on their bytes', async () => {
    const server = await start();
    const functionName = uniqueName('dash');
    const first = await open(server);
    const second = await open(server);
    const payload = payloadOf(MiB, 30);
    const frame = encodePacket({ type: 'SUBMIT_JOB_BG', functionName, unique: '-', payload });
    await writeInPieces(first, frame);
    await second.send(frame);
    const [a, b] = [await first.packet(), await second.packet()];
    expect(a.type).toBe('JOB_CREATED');
    expect(b).toEqual(a);
  });
});
