import { afterEach, expect, test } from 'vitest';
import { type FakeServer, startFakeServer } from '../../../test/fake-server.js';
import { createWorker, type Worker, type WorkerEvent } from '../src/index.js';

// One of a worker's two servers stops answering (a frozen host: the socket stays open, nothing
// comes back). The GRABs it holds must not take the slots the other server's jobs need.

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

/** A fake server that swallows every packet while `frozen`, and counts the GRABs it swallowed. */
async function freezable(): Promise<{ fake: FakeServer; frozen: { on: boolean; grabs: number } }> {
  const frozen = { on: false, grabs: 0 };
  const fake = await startFakeServer({
    onPacket(packet) {
      if (!frozen.on) return false;
      if (packet.type.startsWith('GRAB_JOB')) frozen.grabs++;
      return true;
    },
  });
  cleanup.push(() => fake.close());
  return { fake, frozen };
}

async function collect(events: AsyncIterator<WorkerEvent>, into: WorkerEvent[]): Promise<void> {
  for (let next = await events.next(); !next.done; next = await events.next())
    into.push(next.value);
}

test("a silent server gets no new GRABs and holds at most its share; the other server's jobs go on", async () => {
  const a = await freezable();
  const b = await freezable();
  const worker: Worker = await createWorker({
    servers: [a.fake.address, b.fake.address],
    functions: ['f'],
    concurrency: 16,
    suspectAfter: 100,
  });
  cleanup.push(() => worker.destroy());
  const events: WorkerEvent[] = [];
  void collect(worker.status(), events);
  const done = { a: 0, b: 0 };
  void worker.process((job) => {
    if (job.server === a.fake.address) done.a++;
    else done.b++;
    return 'ok';
  });

  // B is busy first: its pipelining window opens wide.
  for (let i = 0; i < 200; i++) b.fake.addJob('f', `b${i}`);
  await b.fake.until(() => done.b >= 50, 3000, 'jobs done on B');
  b.frozen.on = true;
  const share = 8; // 16 slots over two servers
  for (let i = 0; i < 100; i++) a.fake.addJob('f', `a${i}`);
  await a.fake.until(() => done.a === 100, 5000, 'every job on A done while B is silent');
  await b.fake.until(() => worker.stats().servers[1]?.suspect === true, 3000, 'B suspect');
  const stuck = worker.stats().servers[1];
  expect(stuck?.grabsInFlight).toBeGreaterThan(0);
  expect(stuck?.grabsInFlight).toBeLessThanOrEqual(share);
  expect(b.frozen.grabs).toBeLessThanOrEqual(share);
  expect(events).toContainEqual({
    type: 'suspect',
    server: b.fake.address,
    silentFor: expect.any(Number),
  });

  // More jobs on A while B stays silent: B gets no new GRAB.
  const swallowed = b.frozen.grabs;
  for (let i = 0; i < 50; i++) a.fake.addJob('f', `a-more${i}`);
  await a.fake.until(() => done.a === 150, 5000, 'the later jobs on A done');
  expect(b.frozen.grabs).toBe(swallowed);

  // B answers again (NO_JOB for each GRAB it swallowed): it is responsive and takes GRABs again.
  b.frozen.on = false;
  const connection = b.fake.connections.at(-1);
  for (let i = 0; i < swallowed; i++) connection?.send({ type: 'NO_JOB' });
  await b.fake.until(() => done.b === 200, 5000, 'the rest of B done');
  expect(events).toContainEqual({ type: 'responsive', server: b.fake.address });
  expect(worker.stats()).toMatchObject({ received: 350, completed: 350, lost: 0 });
});

test('a loop that takes one job at a time is not kept waiting on a silent server', async () => {
  const a = await freezable();
  const b = await freezable();
  const worker = await createWorker({
    servers: [a.fake.address, b.fake.address],
    functions: ['f'],
    concurrency: 4,
    suspectAfter: 100,
  });
  cleanup.push(() => worker.destroy());
  b.frozen.on = true; // connected, then silent: its GRABs go unanswered
  const iterator = worker[Symbol.asyncIterator]();
  const first = iterator.next();
  // The loop's one GRAB ends up on B (A answers NO_JOB and sleeps).
  await b.fake.until(() => b.frozen.grabs === 1, 3000, 'a GRAB held by B');
  a.fake.addJob('f', 'on A');
  const job = (await first).value;
  expect(job?.server).toBe(a.fake.address);
  expect(job?.text()).toBe('on A');
  await job?.complete();
  expect(worker.stats().servers[1]).toMatchObject({ suspect: true, grabsInFlight: 1 });
  await iterator.return?.();
});

test("with concurrency 1, a silent server holds no slot: the other server's jobs go on, one at a time", async () => {
  const a = await freezable();
  const b = await freezable();
  const worker = await createWorker({
    servers: [a.fake.address, b.fake.address],
    functions: ['f'],
    concurrency: 1,
    suspectAfter: 100,
  });
  cleanup.push(() => worker.destroy());
  b.frozen.on = true;
  let running = 0;
  let most = 0;
  const done: string[] = [];
  void worker.process(async (job) => {
    running++;
    most = Math.max(most, running);
    await new Promise((resolve) => setTimeout(resolve, 20));
    running--;
    done.push(job.text());
    return 'ok';
  });
  await b.fake.until(() => b.frozen.grabs === 1, 3000, 'a GRAB held by B');
  for (let i = 0; i < 5; i++) a.fake.addJob('f', `a${i}`);
  await a.fake.until(() => done.length === 5, 5000, "A's jobs done while B is silent");
  expect(worker.stats().servers[1]).toMatchObject({ suspect: true, grabsInFlight: 1 });

  // B answers its GRAB with a job while A keeps the worker busy: that job waits for the slot.
  b.frozen.on = false;
  for (let i = 5; i < 10; i++) a.fake.addJob('f', `a${i}`);
  const connection = b.fake.connections.at(-1);
  connection?.send({
    type: 'JOB_ASSIGN_UNIQ',
    handle: 'H:b:1',
    functionName: 'f',
    unique: '',
    payload: 'on B',
  });
  await a.fake.until(() => done.length === 11, 5000, 'every job done');
  expect(done).toContain('on B');
  expect(most).toBe(1);
});
