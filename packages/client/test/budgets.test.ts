/**
 * Per-server budgets: a server that stops answering holds at most its share of `maxInFlight`,
 * takes no new submits once suspect, and the other server keeps completing jobs.
 */
import { type ClientEvent, createClient, type GearmanError } from '@gearmanode/client';
import { afterEach, expect, test } from 'vitest';
import { type FakeScript, type FakeServer, startFakeServer } from '../../../test/fake-server.js';
import { waitFor } from '../../../test/helpers.js';

const fakes: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((fake) => fake.close()));
});

async function fake(onPacket?: FakeScript): Promise<FakeServer> {
  const server = await startFakeServer({ onPacket });
  fakes.push(server);
  return server;
}

/** Creates each job and completes it at once, answering `done:<payload>`. */
const healthy: FakeScript = (packet, connection) => {
  if (packet.type !== 'SUBMIT_JOB') return false;
  const handle = `H:ok:${connection.received.length}`;
  connection.send({ type: 'JOB_CREATED', handle });
  connection.send({ type: 'WORK_COMPLETE', handle, payload: `done:${packet.payload}` });
  return true;
};

/** Answers the handshake, then nothing (a frozen process with its sockets open). */
const frozen: FakeScript = (packet) => packet.type === 'SUBMIT_JOB';

test('a silent server holds at most its share; the other completes every later submit', async () => {
  const good = await fake(healthy);
  const silent = await fake(frozen);
  const client = await createClient({
    servers: [good.address, silent.address],
    maxInFlight: 10,
    suspectAfter: 50,
    requestTimeout: 60_000,
  });
  const events: ClientEvent[] = [];
  void (async () => {
    for await (const event of client.status()) events.push(event);
  })();

  const jobs = Array.from({ length: 40 }, (_, i) => client.submit('f', `job${i}`));
  const outcomes: (string | GearmanError)[] = [];
  for (const [i, job] of jobs.entries()) {
    void job.then(
      (value) => {
        outcomes[i] = String(value);
      },
      (error: GearmanError) => {
        outcomes[i] = error;
      },
    );
  }
  // Everything but the silent server's part completes, without waiting for its deadline.
  await waitFor(() => outcomes.filter((o) => typeof o === 'string').length === 35, {
    timeout: 5000,
    what: '35 jobs completed',
  });
  // Suspect once silent for suspectAfter with replies owed; the cap held it back before that.
  await waitFor(() => client.stats().servers[1]?.suspect, { timeout: 5000, what: 'suspect' });
  const [goodStats, silentStats] = client.stats().servers;
  expect(silentStats?.pendingRequests).toBe(5); // its share: 10 / 2
  expect(silentStats?.suspect).toBe(true);
  expect(goodStats).toMatchObject({ suspect: false, pendingRequests: 0 });
  for (const [i, outcome] of outcomes.entries()) {
    if (typeof outcome === 'string') expect(outcome).toBe(`done:job${i}`);
  }
  expect(events).toContainEqual(
    expect.objectContaining({ type: 'suspect', server: silent.address }),
  );
  expect(silent.received.filter((p) => p.type === 'SUBMIT_JOB')).toHaveLength(5);

  // Only the submits written to it are left; closing the client settles them.
  client.destroy();
  await waitFor(() => outcomes.filter((o) => o !== undefined).length === 40, { timeout: 5000 });
  const failed = outcomes.filter((o): o is GearmanError => typeof o !== 'string');
  expect(failed).toHaveLength(5);
  expect(failed.every((error) => error.code === 'ERR_CLOSED')).toBe(true);
});

test('a server whose jobs never finish holds at most its share of slots, created jobs included', async () => {
  const good = await fake(healthy);
  // Creates every job (the default answer) and never finishes one: a hung worker pool, or a
  // server frozen after JOB_CREATED. It owes no replies, so it never looks suspect.
  const stuck = await fake();
  const client = await createClient({
    servers: [good.address, stuck.address],
    maxInFlight: 10,
    requestTimeout: 60_000,
  });
  const jobs = Array.from({ length: 40 }, (_, i) => client.submit('f', `job${i}`));
  let completed = 0;
  for (const job of jobs) {
    void job.then(
      () => completed++,
      () => {},
    );
  }
  await waitFor(() => completed === 35, { timeout: 5000, what: '35 jobs completed' });
  const [goodStats, stuckStats] = client.stats().servers;
  expect(stuckStats).toMatchObject({ jobs: 5, suspect: false });
  expect(goodStats?.jobs).toBe(0);
  expect(stuck.received.filter((p) => p.type === 'SUBMIT_JOB')).toHaveLength(5);
  expect(client.stats().inFlight).toBe(5);
  client.destroy();
  await Promise.allSettled(jobs);
});

test('with every server suspect, submits wait in the client and go once one answers', async () => {
  let release: (() => void) | undefined;
  const slow = await fake((packet, connection) => {
    if (packet.type !== 'SUBMIT_JOB') return false;
    // The first submit is answered late; the others at once.
    const answer = (): void => {
      healthy(packet, connection, slow);
    };
    if (release === undefined && connection.received.length <= 3) release = answer;
    else answer();
    return true;
  });
  const client = await createClient({ servers: [slow.address], suspectAfter: 30 });
  const first = client.submit('f', 'first');
  await waitFor(() => client.stats().servers[0]?.suspect === true, { timeout: 5000 });
  const second = client.submit('f', 'second');
  await new Promise((resolve) => setTimeout(resolve, 50));
  // Held back: nothing new is written to a suspect server.
  expect(slow.received.filter((p) => p.type === 'SUBMIT_JOB')).toHaveLength(1);
  expect(client.stats().queued).toBe(1);
  release?.();
  expect(String(await first)).toBe('done:first');
  expect(String(await second)).toBe('done:second');
  await client.close();
});
