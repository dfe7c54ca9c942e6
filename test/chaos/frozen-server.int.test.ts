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

const JOBS = 3_000;

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

  freeze(frozen);
  const ledger = new Ledger();
  const completions: number[] = [];
  const started = Date.now();
  const all: Promise<void>[] = [];
  for (let i = 0; i < JOBS; i++) {
    const { id, payload } = ledger.next();
    const result = client.submit(name, payload);
    void result.then(
      () => completions.push(Date.now()),
      () => {},
    );
    all.push(ledger.track(id, result));
  }
  // The submits written to the frozen server fail once their reply is overdue (requestTimeout,
  // 10 s by default); everything else completes on the healthy server.
  await ledger.settled(60_000);
  await Promise.all(all);
  const figures = ledger.figures();
  thaw(frozen);

  let longestGap = completions.length > 0 ? (completions[0] as number) - started : 0;
  for (let i = 1; i < completions.length; i++) {
    longestGap = Math.max(longestGap, (completions[i] as number) - (completions[i - 1] as number));
  }
  const stats = client.stats();
  report('frozen-server', {
    ...figures,
    longestGapMs: longestGap,
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
  // Most of the stream went to the healthy server: the frozen one took a share at most.
  expect(figures.resolved).toBeGreaterThan(JOBS / 2);
  expect(stats.inFlight).toBe(0);
});
