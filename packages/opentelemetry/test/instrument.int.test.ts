import diagnostics from 'node:diagnostics_channel';
import { type Client, createClient } from '@gearmanode/client';
import { instrument } from '@gearmanode/opentelemetry';
import { createWorker, type JobHandler, type Worker } from '@gearmanode/worker';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { startFakeServer } from '../../../test/fake-server.js';
import { freePort, uniqueName, waitFor } from '../../../test/helpers.js';
import { TestContextManager } from './support/context-manager.js';
import { RecordingMeterProvider, RecordingTracerProvider } from './support/recording.js';

const gearman = inject('gearman');
const server = `${gearman.host}:${gearman.port}`;
const cleanups: (() => unknown)[] = [];
let client: Client;
let tracerProvider: RecordingTracerProvider;
let meterProvider: RecordingMeterProvider;

beforeAll(async () => {
  context.setGlobalContextManager(new TestContextManager());
  client = await createClient({ servers: [server] });
});
afterAll(async () => {
  await client.close();
  context.disable();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Instruments with fresh recording providers, undone after the test. */
function setup(): void {
  tracerProvider = new RecordingTracerProvider();
  meterProvider = new RecordingMeterProvider();
  const instrumentation = instrument({ tracerProvider, meterProvider });
  cleanups.push(() => instrumentation.dispose());
}

async function worker(fn: string, handler: JobHandler): Promise<Worker> {
  const created = await createWorker({ servers: [server], functions: [fn] });
  cleanups.push(() => created.close({ timeout: 200 }));
  void created.process(handler);
  return created;
}

const spansNamed = (name: string) => tracerProvider.spans.filter((span) => span.name === name);

describe('instrument() against gearmand', () => {
  test('a submit gives a CLIENT span under the caller span, the job a CONSUMER span', async () => {
    setup();
    const fn = uniqueName('upper');
    await worker(fn, (job) => job.text().toUpperCase());
    const parent = tracerProvider.getTracer().startSpan('caller');
    const result = await context.with(trace.setSpan(ROOT_CONTEXT, parent), () =>
      client.submit(fn, 'abc', { priority: 'high' }),
    );
    expect(result.toString()).toBe('ABC');
    await waitFor(() => spansNamed(`process ${fn}`)[0]?.ended === true);

    const [send] = spansNamed(`send ${fn}`);
    const [process] = spansNamed(`process ${fn}`);
    expect(send).toMatchObject({
      kind: SpanKind.CLIENT,
      ended: true,
      status: { code: SpanStatusCode.UNSET },
      parent: parent.spanContext(),
      attributes: {
        'messaging.system': 'gearman',
        'messaging.destination.name': fn,
        'messaging.operation.name': 'submit',
        'messaging.operation.type': 'send',
        'messaging.message.body.size': 3,
        'messaging.message.id': expect.stringMatching(/^H:/),
        'server.address': gearman.host,
        'server.port': gearman.port,
        'gearman.priority': 'high',
        'gearman.background': false,
        'gearman.response.size': 3,
        'gearman.retries': 0,
      },
    });
    expect(process).toMatchObject({
      kind: SpanKind.CONSUMER,
      ended: true,
      attributes: {
        'messaging.system': 'gearman',
        'messaging.destination.name': fn,
        'messaging.operation.type': 'process',
        'messaging.message.id': send?.attributes['messaging.message.id'],
        'messaging.message.body.size': 3,
        'gearman.outcome': 'completed',
        'gearman.response.size': 3,
      },
    });

    const [submitted] = meterProvider
      .of('messaging.client.operation.duration')
      .filter((m) => m.attributes['messaging.destination.name'] === fn);
    expect(submitted?.value).toBeGreaterThan(0);
    expect(submitted?.attributes).not.toHaveProperty('error.type');
    expect(meterProvider.units.get('messaging.client.operation.duration')).toBe('s');
    const processed = meterProvider
      .of('messaging.process.duration')
      .filter((m) => m.attributes['messaging.destination.name'] === fn);
    expect(processed).toHaveLength(1);
    expect(processed[0]?.attributes).toMatchObject({ 'gearman.outcome': 'completed' });
  });

  test('a failing job marks both spans as errors and counts a failure per function', async () => {
    setup();
    const fn = uniqueName('broken');
    await worker(fn, () => {
      throw new Error('it broke');
    });
    await expect(client.submit(fn, 'x')).rejects.toMatchObject({ code: 'ERR_JOB_EXCEPTION' });
    await waitFor(() => spansNamed(`process ${fn}`)[0]?.ended === true);

    const [send] = spansNamed(`send ${fn}`);
    expect(send?.status.code).toBe(SpanStatusCode.ERROR);
    expect(send?.attributes['error.type']).toBe('ERR_JOB_EXCEPTION');
    expect(send?.exceptions).toHaveLength(1);
    const [process] = spansNamed(`process ${fn}`);
    expect(process?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'it broke' });
    expect(process?.attributes['gearman.outcome']).toBe('exception');

    expect(meterProvider.of('gearman.client.submit.failures')).toEqual([
      {
        instrument: 'gearman.client.submit.failures',
        value: 1,
        attributes: {
          'messaging.system': 'gearman',
          'messaging.destination.name': fn,
          'messaging.operation.name': 'submit',
          'error.type': 'ERR_JOB_EXCEPTION',
        },
      },
    ]);
    expect(meterProvider.of('gearman.worker.job.failures')).toMatchObject([
      {
        value: 1,
        attributes: { 'messaging.destination.name': fn, 'gearman.outcome': 'exception' },
      },
    ]);
  });

  test('reconnect attempts are counted per server', async () => {
    setup();
    const port = await freePort();
    const lazy = await createClient({
      servers: [`127.0.0.1:${port}`],
      lazy: true,
      reconnect: { minTimeout: 10, maxTimeout: 20 },
    });
    cleanups.push(() => lazy.destroy());
    await expect(lazy.submit('f', 'x')).rejects.toMatchObject({ code: 'ERR_CONNECTION' });
    await waitFor(() => meterProvider.of('gearman.connection.reconnects').length >= 2);
    expect(meterProvider.of('gearman.connection.reconnects')[0]).toMatchObject({
      value: 1,
      attributes: {
        'messaging.system': 'gearman',
        'server.address': '127.0.0.1',
        'server.port': port,
      },
    });
  });

  test('a retried submit counts a retry and adds a retry event to its span', async () => {
    setup();
    let dropped = false;
    const fake = await startFakeServer({
      onPacket(packet, connection) {
        if (packet.type !== 'SUBMIT_JOB') return false;
        const handle = `H:fake:${connection.received.length}`;
        connection.send({ type: 'JOB_CREATED', handle });
        if (dropped) connection.send({ type: 'WORK_COMPLETE', handle, payload: 'ok' });
        else {
          dropped = true;
          setTimeout(() => connection.destroy(), 5);
        }
        return true;
      },
    });
    cleanups.push(() => fake.close());
    const flaky = await createClient({
      servers: [fake.address],
      retry: 3,
      reconnect: { minTimeout: 10, maxTimeout: 20 },
    });
    cleanups.push(() => flaky.destroy());
    expect((await flaky.submit('f', 'x', { unique: 'k' })).toString()).toBe('ok');
    const retries = meterProvider.of('gearman.client.retries');
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]).toMatchObject({
      value: 1,
      attributes: { 'messaging.system': 'gearman', 'messaging.destination.name': 'f' },
    });
    const [send] = spansNamed('send f');
    expect(send?.events[0]).toEqual({
      name: 'gearman.retry',
      attributes: { 'gearman.attempt': 1, 'error.type': 'ERR_CONNECTION' },
    });
    expect(send?.attributes['gearman.retries']).toBe(retries.length);
    expect(meterProvider.of('gearman.connection.disconnects')[0]?.attributes).toMatchObject({
      'server.port': fake.port,
    });
  });

  test('dispose() unsubscribes: nothing is recorded and the channels have no subscribers', async () => {
    const tracing = diagnostics.tracingChannel('gearmanode:client:submit');
    const spans = new RecordingTracerProvider();
    const measured = new RecordingMeterProvider();
    const instrumentation = instrument({ tracerProvider: spans, meterProvider: measured });
    expect(tracing.start.hasSubscribers).toBe(true);
    instrumentation[Symbol.dispose]();
    expect(tracing.start.hasSubscribers).toBe(false);
    expect(tracing.asyncEnd.hasSubscribers).toBe(false);
    expect(diagnostics.hasSubscribers('gearmanode:connection:reconnecting')).toBe(false);

    const fn = uniqueName('quiet');
    await worker(fn, () => 'ok');
    expect((await client.submit(fn, 'x')).toString()).toBe('ok');
    expect(spans.spans).toEqual([]);
    expect(measured.measurements).toEqual([]);
  });
});
