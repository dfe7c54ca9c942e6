import {
  type Client,
  type ClientSubmitContext,
  type ConnectMessage,
  createClient,
  DIAGNOSTICS_CHANNELS,
} from '@gearmanode/client';
import { afterAll, afterEach, beforeAll, describe, expect, inject, test } from 'vitest';
import { FAILED_PHASES, recordChannel, recordTrace } from '../../../test/diagnostics.js';
import { uniqueName } from '../../../test/helpers.js';
import { type Script, scripts, startTestWorker, type TestWorker } from './support/workers.js';

const gearman = inject('gearman');
const server = `${gearman.host}:${gearman.port}`;
let worker: TestWorker;
const clients: Client[] = [];
const disposables: Disposable[] = [];

beforeAll(async () => {
  worker = await startTestWorker({ ...gearman, functions: {}, concurrency: 16 });
});
afterAll(async () => {
  await worker.close();
});
afterEach(async () => {
  for (const disposable of disposables.splice(0)) disposable[Symbol.dispose]();
  await Promise.all(clients.splice(0).map((client) => client.close({ timeout: 1000 })));
});

async function client(): Promise<Client> {
  const created = await createClient({ servers: [server] });
  clients.push(created);
  return created;
}

function fn(prefix: string, script: Script): string {
  const name = uniqueName(prefix);
  worker.add(name, script);
  return name;
}

/** Records the submit trace events of function `name`. */
function record(name: string) {
  const recorder = recordTrace<ClientSubmitContext>(
    DIAGNOSTICS_CHANNELS.clientSubmit,
    (context) => context.functionName === name,
  );
  disposables.push(recorder);
  return recorder;
}

describe('gearmanode:client:submit against gearmand', () => {
  test('a foreground submit publishes start, end, asyncStart, asyncEnd with its context', async () => {
    const name = fn('reverse', scripts.reverse);
    const c = await client();
    const trace = record(name);
    const payload = Buffer.from('héllo', 'utf8');
    expect(await c.submit(name, 'héllo', { priority: 'high' })).toEqual(payload.reverse());
    const [context] = trace.contexts();
    expect(trace.contexts()).toHaveLength(1);
    expect(trace.phasesOf(context as ClientSubmitContext)).toEqual([
      'start',
      'end',
      'asyncStart',
      'asyncEnd',
    ]);
    expect(context).toEqual({
      functionName: name,
      unique: '',
      priority: 'high',
      background: false,
      requestBytes: 6, // UTF-8
      server,
      handle: expect.stringMatching(/^H:/),
      responseBytes: 6,
      retries: 0,
    });
    // The server is not known at start: the job is sent after the start event.
    expect(trace.events[0]?.snapshot).toMatchObject({ server: undefined, handle: undefined });
  });

  test('a failed job publishes error before asyncStart, with ERR_JOB_FAILED', async () => {
    const name = fn('fail', scripts.fail);
    const c = await client();
    const trace = record(name);
    await expect(c.submit(name, 'x')).rejects.toMatchObject({ code: 'ERR_JOB_FAILED' });
    const [context] = trace.contexts();
    expect(trace.phasesOf(context as ClientSubmitContext)).toEqual(FAILED_PHASES);
    expect(context?.error).toMatchObject({ code: 'ERR_JOB_FAILED' });
    expect(context?.handle).toMatch(/^H:/);
  });

  test('a WORK_EXCEPTION publishes error with ERR_JOB_EXCEPTION, the same error the caller gets', async () => {
    const name = fn('exception', scripts.exception);
    const c = await client();
    const trace = record(name);
    const error = await c.submit(name, 'x').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_JOB_EXCEPTION' });
    const errors = trace.events.filter((e) => e.phase === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.context.error).toBe(error);
  });

  test('a job timeout publishes error with ERR_TIMEOUT', async () => {
    const name = fn('slow', scripts.sleep(2000));
    const c = await client();
    const trace = record(name);
    await expect(c.submit(name, 'x', { timeout: 50 })).rejects.toMatchObject({
      code: 'ERR_TIMEOUT',
    });
    expect(trace.events.map((e) => e.phase)).toEqual(FAILED_PHASES);
  });

  test('a background submit settles on JOB_CREATED with its handle and no response bytes', async () => {
    const name = uniqueName('nobody'); // no worker: the job stays queued
    const c = await client();
    const trace = record(name);
    const handle = await c.submitBackground(name, 'abc', { priority: 'low', unique: 'u1' });
    expect(trace.events.map((e) => e.phase)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(trace.events[3]?.context).toMatchObject({
      functionName: name,
      unique: 'u1',
      priority: 'low',
      background: true,
      requestBytes: 3,
      server,
      handle,
      responseBytes: 0,
    });
  });

  test('start() counts the bytes of WORK_DATA, WORK_WARNING and WORK_COMPLETE', async () => {
    const name = fn('progress', scripts.progress);
    const c = await client();
    const trace = record(name);
    const run = c.start(name, 'hey', { encoding: 'utf8' });
    for await (const _ of run) {
      // drain the events
    }
    expect(await run.result()).toBe('HEY');
    const [context] = trace.contexts();
    // 'data:hey' + 'careful' + 'HEY'
    expect(context?.responseBytes).toBe(8 + 7 + 3);
    expect(trace.phasesOf(context as ClientSubmitContext)).toEqual([
      'start',
      'end',
      'asyncStart',
      'asyncEnd',
    ]);
  });

  test('a submit made before anyone subscribed publishes nothing later', async () => {
    const name = fn('slow', scripts.sleep(50));
    const c = await client();
    const pending = c.submit(name, 'x');
    const trace = record(name);
    await pending;
    expect(trace.events).toEqual([]);
    await c.submit(name, 'y');
    expect(trace.events.map((e) => e.phase)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
  });
});

describe('gearmanode:connection:connect against gearmand', () => {
  test('a client connecting publishes connect with the server and generation 1', async () => {
    const connects = recordChannel<ConnectMessage>(DIAGNOSTICS_CHANNELS.connect);
    disposables.push(connects);
    await client();
    expect(connects.messages).toContainEqual({ type: 'connect', server, generation: 1 });
  });
});
