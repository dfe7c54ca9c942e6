import { setTimeout as sleep } from 'node:timers/promises';
import { type Client, createClient } from '@gearmanode/client';
import { createWorker } from '@gearmanode/worker';
import { afterEach, expect, test } from 'vitest';
import { type GearmandInstance, startGearmand } from '../gearmand.js';
import { uniqueName } from '../helpers.js';
import { Ledger, ledgerHandler, report } from './support.js';

// One of two servers freezes (SIGSTOP: its sockets stay open and nothing answers, as a hung host
// or a partition without RST would). A client, and a worker, on both servers, with default
// options, should keep the other server busy: each test accounts for every job and prints the
// longest pause between completions on the healthy server (a speed figure, so printed, not
// asserted).

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

const JOBS = 6_000;
const RATE = 2_000;
const BATCH = 10;

function freeze(server: GearmandInstance): void {
  process.kill(server.pid, 'SIGSTOP');
  cleanup.push(() => thaw(server));
}

function thaw(server: GearmandInstance): void {
  if (server.running) process.kill(server.pid, 'SIGCONT');
}

test('a frozen server holds only the submits written to it; the other keeps completing jobs', async () => {
  const healthy = await startGearmand();
  cleanup.push(() => healthy.stop());
  const frozen = await startGearmand();
  cleanup.push(() => frozen.stop());
  const name = uniqueName('chaos-frozen');
  // One worker per server, so that the frozen server costs no worker anything (the worker's
  // own budgets are another test's business).
  for (const server of [healthy, frozen]) {
    const worker = await createWorker({
      servers: [`${server.host}:${server.port}`],
      functions: [name],
      concurrency: 8,
    });
    cleanup.push(() => worker.destroy());
    void worker.process(ledgerHandler());
  }
  const client = await createClient({
    servers: [`${healthy.host}:${healthy.port}`, `${frozen.host}:${frozen.port}`],
  });
  cleanup.push(() => client.destroy());
  // Both sockets up and answering before the freeze.
  await client.echo('', { server: `${healthy.host}:${healthy.port}` });
  await client.echo('', { server: `${frozen.host}:${frozen.port}` });

  // An open stream (a closed loop of callers would itself stall on the frozen server's jobs):
  // RATE jobs a second, and the second server freezes a third of the way in.
  const ledger = new Ledger();
  const completions: number[] = [];
  const all: Promise<void>[] = [];
  const started = Date.now();
  let frozenAt = 0;
  for (let batch = 0; batch * BATCH < JOBS; batch++) {
    const due = started + (batch * BATCH * 1000) / RATE;
    if (due > Date.now()) await sleep(due - Date.now());
    if (frozenAt === 0 && batch * BATCH >= JOBS / 3) {
      freeze(frozen);
      frozenAt = Date.now();
    }
    for (let i = 0; i < BATCH; i++) {
      const { id, payload } = ledger.next();
      const result = client.submit(name, payload);
      void result.then(
        () => completions.push(Date.now()),
        () => {},
      );
      all.push(ledger.track(id, result));
    }
  }
  // The submits written to the frozen server fail once their reply is overdue (requestTimeout,
  // 10 s by default); everything else completes on the healthy server.
  await ledger.settled(60_000);
  await Promise.all(all);
  const figures = ledger.figures();
  thaw(frozen);

  // The longest pause between completions (all on the healthy server) from the freeze on.
  let longestGap = 0;
  let previous = frozenAt;
  for (const at of completions) {
    if (at < frozenAt) continue;
    longestGap = Math.max(longestGap, at - previous);
    previous = at;
  }
  const stats = client.stats();
  report('frozen-server', {
    ...figures,
    longestGapMs: longestGap,
    frozenAtMs: frozenAt - started,
    lastCompletionMs: (completions.at(-1) ?? started) - started,
    totalMs: Date.now() - started,
  });

  expect(figures.pending).toBe(0);
  expect(figures.untyped).toBe(0);
  expect(figures.wrongResults).toBe(0);
  expect(figures.duplicateExecutions).toBe(0);
  expect(figures.resolved + Object.values(figures.rejected).reduce((a, b) => a + b, 0)).toBe(JOBS);
  // Only submits that were written to the frozen server may fail, and they may have run.
  expect(Object.keys(figures.rejected).filter((code) => code !== 'ERR_CONNECTION')).toEqual([]);
  // The frozen server took half the stream until it was frozen, and a part after at most.
  expect(figures.resolved).toBeGreaterThan(JOBS / 2);
  expect(stats.inFlight).toBe(0);
});

/** The longest pause between `completions` (ms since the epoch, ascending) from `from` on. */
function longestGapFrom(completions: readonly number[], from: number): number {
  let longest = 0;
  let previous = from;
  for (const at of completions) {
    if (at < from) continue;
    longest = Math.max(longest, at - previous);
    previous = at;
  }
  return longest;
}

const WORKER_RATE = 500; // jobs a second to the healthy server
const BACKLOG = 4_000; // jobs queued on the other: more than the worker gets done before the freeze
const BEFORE_FREEZE_MS = 1_000;
// Longer than requestTimeout (10 s): a worker whose slots all wait on the frozen server takes
// nothing until then.
const FROZEN_MS = 12_000;

test("a worker on two servers keeps taking the healthy one's jobs while the other is frozen", async () => {
  const healthy = await startGearmand();
  cleanup.push(() => healthy.stop());
  const frozen = await startGearmand();
  cleanup.push(() => frozen.stop());
  const address = (server: GearmandInstance) => `${server.host}:${server.port}`;
  const name = uniqueName('chaos-frozen-worker');
  const worker = await createWorker({
    servers: [address(healthy), address(frozen)],
    functions: [name],
    concurrency: 16,
  });
  cleanup.push(() => worker.destroy());
  void worker.process(ledgerHandler());
  // One client per server, so that the frozen server costs no client anything here.
  const clients = [];
  for (const server of [healthy, frozen]) {
    const client = await createClient({ servers: [address(server)] });
    cleanup.push(() => client.destroy());
    clients.push(client);
  }
  const [toHealthy, toFrozen] = clients as [Client, Client];

  // A backlog on the frozen server keeps the worker busy there (its pipelining window wide
  // open) when it freezes; the healthy server gets a steady stream throughout.
  const ledgers = { healthy: new Ledger(), frozen: new Ledger() };
  const all: Promise<void>[] = [];
  let frozenDone = 0;
  for (let i = 0; i < BACKLOG; i++) {
    const { id, payload } = ledgers.frozen.next();
    const result = toFrozen.submit(name, payload);
    void result.then(
      () => frozenDone++,
      () => {},
    );
    all.push(ledgers.frozen.track(id, result));
  }
  const completions: number[] = [];
  const started = Date.now();
  let frozenAt = 0;
  for (let batch = 0; ; batch++) {
    const due = started + (batch * BATCH * 1000) / WORKER_RATE;
    if (due > Date.now()) await sleep(due - Date.now());
    if (frozenAt === 0 && Date.now() - started >= BEFORE_FREEZE_MS && frozenDone > 0) {
      freeze(frozen);
      frozenAt = Date.now();
    }
    if (frozenAt !== 0 && Date.now() - frozenAt >= FROZEN_MS) break;
    for (let i = 0; i < BATCH; i++) {
      const { id, payload } = ledgers.healthy.next();
      const result = toHealthy.submit(name, payload);
      void result.then(
        () => completions.push(Date.now()),
        () => {},
      );
      all.push(ledgers.healthy.track(id, result));
    }
  }
  await ledgers.healthy.settled(30_000);
  const longestGap = longestGapFrom(completions, frozenAt);
  // Thawed, the frozen server's jobs end too: completed, or failed as their sockets were
  // replaced while it was frozen.
  thaw(frozen);
  await ledgers.frozen.settled(30_000);
  await Promise.all(all);
  const figures = { healthy: ledgers.healthy.figures(), frozen: ledgers.frozen.figures() };
  const stats = worker.stats();
  report('frozen-server-worker', {
    healthy: figures.healthy,
    frozen: figures.frozen,
    longestGapMs: longestGap,
    frozenForMs: FROZEN_MS,
    grabs: stats.grabs,
    servers: stats.servers,
  });

  for (const ledger of Object.values(figures)) {
    expect(ledger.pending).toBe(0);
    expect(ledger.untyped).toBe(0);
    expect(ledger.wrongResults).toBe(0);
  }
  // Every job on the healthy server completed, once.
  expect(figures.healthy.resolved).toBe(figures.healthy.submitted);
  expect(figures.healthy.duplicateExecutions).toBe(0);
  // The frozen server's jobs may have failed with their sockets, nothing else.
  expect(Object.keys(figures.frozen.rejected).filter((code) => code !== 'ERR_CONNECTION')).toEqual(
    [],
  );
  expect(figures.frozen.resolved + ledgers.frozen.rejectedTotal).toBe(figures.frozen.submitted);
  expect(stats.inFlight).toBe(0);
});
