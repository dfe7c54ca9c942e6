import { createClient } from '@gearmanode/client';
import { createWorker, type Job } from '@gearmanode/worker';
import { afterEach, expect, test } from 'vitest';
import { expectIdle } from '../../packages/client/test/support/idle.js';
import { startGearmand } from '../gearmand.js';
import { uniqueName, waitFor } from '../helpers.js';
import { checkLeaksAfterEach } from '../leak-check.js';
import { startProxy } from '../proxy.js';
import { adminFor, codes, registrations, report, waitRegistered } from './support.js';

// Registered before the cleanup hook, so that it runs after it (after-hooks run in reverse).
checkLeaksAfterEach();

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

const HEARTBEAT = 1_000;
const CONNECT_TIMEOUT = 1_500;
const BOUND = 2 * HEARTBEAT + CONNECT_TIMEOUT;

/** When each lifecycle event of an event stream arrived, relative to `since()`. */
function watch(events: AsyncIterableIterator<{ type: string }>) {
  const seen: { type: string; at: number }[] = [];
  void (async () => {
    for await (const event of events) seen.push({ type: event.type, at: Date.now() });
  })();
  return {
    /** The first event of `type` at or after `from`. */
    first: (type: string, from: number) => seen.find((e) => e.type === type && e.at >= from)?.at,
  };
}

test('a blackholed link is found dead within twice the heartbeat plus the connect timeout, and rebuilt', async () => {
  const gearmand = await startGearmand();
  cleanup.push(() => gearmand.stop());
  const target = { host: gearmand.host, port: gearmand.port };
  const admin = await adminFor(target);
  cleanup.push(() => admin.close());
  const workerProxy = await startProxy({ target });
  cleanup.push(() => workerProxy.close());
  const clientProxy = await startProxy({ target });
  cleanup.push(() => clientProxy.close());
  const name = uniqueName('chaos-halfopen');
  const tuning = { heartbeatInterval: HEARTBEAT, connectTimeout: CONNECT_TIMEOUT };

  // The worker holds its first job until the link dies under it; later jobs complete at once.
  const clientId = `${name}-w`;
  const worker = await createWorker({
    servers: [`${workerProxy.host}:${workerProxy.port}`],
    functions: [name],
    clientId,
    ...tuning,
  });
  cleanup.push(() => worker.destroy());
  const held: Job[] = [];
  let lostSignal: unknown;
  void worker.process(async (job) => {
    if (held.length > 0) return 'fine';
    held.push(job);
    await new Promise((resolve) => job.signal.addEventListener('abort', resolve));
    lostSignal = job.signal.reason;
  });
  const workerEvents = watch(worker.status());
  const client = await createClient({
    servers: [`${clientProxy.host}:${clientProxy.port}`],
    ...tuning,
  });
  cleanup.push(() => client.destroy());
  const clientEvents = watch(client.status());
  await waitRegistered(admin, [clientId], name);

  // A job in flight: the client waits for its result, the worker holds it.
  const inFlight = client.submit(name, 'held').then(
    () => undefined,
    (error: unknown) => error,
  );
  await waitFor(() => held.length === 1, { what: 'the job reached the worker' });

  // Both links go silent, as behind a NAT that forgot them. Once each has lost a byte (a
  // heartbeat or a poll) its stream has a hole and stays dead; new connections work again.
  const start = Date.now();
  workerProxy.blackhole();
  clientProxy.blackhole();
  await Promise.all(
    [workerProxy, clientProxy].map(async (proxy) => {
      await waitFor(() => proxy.stats.bytesDropped > 0, { timeout: BOUND, interval: 5 });
      proxy.restore();
    }),
  );

  const rebuilt = (events: ReturnType<typeof watch>) =>
    waitFor(
      () => {
        const detected = events.first('disconnect', start);
        const connected = detected && events.first('connect', detected);
        return connected ? { detected: detected - start, rebuilt: connected - start } : undefined;
      },
      { timeout: 3 * BOUND, interval: 5, what: 'detected and rebuilt' },
    );
  const [workerTimes, clientTimes] = await Promise.all([
    rebuilt(workerEvents),
    rebuilt(clientEvents),
  ]);
  const error = await inFlight;

  // The rebuilt links carry work again: a new job goes from the client's new socket to the
  // worker's new socket and back. (gearmand still lists the dead link's registration too: its
  // side of the link is half-open as well, and it has no heartbeat to find out.)
  const after = await client.submit(name, 'after', { encoding: 'utf8' });
  const registrationRows = await registrations(admin, clientId, name);

  report('half-open', {
    heartbeatMs: HEARTBEAT,
    connectTimeoutMs: CONNECT_TIMEOUT,
    boundMs: BOUND,
    worker: workerTimes,
    client: clientTimes,
    inFlightError: codes(error),
    workerJobSignal: (lostSignal as Error | undefined)?.name,
    registrationRowsAfter: registrationRows,
  });
  expect(workerTimes.detected).toBeLessThanOrEqual(BOUND);
  expect(workerTimes.rebuilt).toBeLessThanOrEqual(BOUND);
  expect(clientTimes.detected).toBeLessThanOrEqual(BOUND);
  expect(clientTimes.rebuilt).toBeLessThanOrEqual(BOUND);
  // The job in flight failed with a typed error that says it may have run; the worker's copy
  // was taken back (its signal aborted with JobLostError), since gearmand re-queues it.
  expect(codes(error)[0]).toBe('ERR_CONNECTION');
  expect((error as { maybeRan?: boolean }).maybeRan).toBe(true);
  expect(lostSignal).toMatchObject({ name: 'JobLostError', code: 'ERR_CONNECTION' });
  expect(after).toBe('fine');
  await client.close();
  await expectIdle(client);
});
