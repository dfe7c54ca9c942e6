import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@gearmanode/client';
import { createWorker } from '@gearmanode/worker';
import { afterEach, expect, test } from 'vitest';
import { type GearmandInstance, startGearmand } from '../gearmand.js';
import { uniqueName } from '../helpers.js';
import { Ledger, ledgerHandler, report } from './support.js';

// One of a client's two servers freezes (SIGSTOP: its sockets stay open and nothing answers, as
// a hung host or a partition without RST would). The client, with default options, should
// keep the other server busy: this test accounts for every job and prints the longest pause
// between completions on the healthy server (a speed figure, so printed, not asserted).

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
