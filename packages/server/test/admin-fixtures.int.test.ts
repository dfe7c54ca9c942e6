import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodePacket } from '@gearmanode/protocol';
import { describe, expect, inject, test } from 'vitest';
import { ownTarget, type TargetKind } from './target.js';
import { Wire } from './wire.js';

/**
 * Replays the scenario of packages/protocol/test/fixtures/admin/capture.mjs, which recorded
 * gearmand 1.1.20's raw admin replies, against a fresh server and compares reply for reply.
 * Normalised: the order of list lines (gearmand prints from hash tables), host names in
 * handles, the `workers` fd column, the pid and the version suffix.
 */
const fixtures = new URL('../../protocol/test/fixtures/admin/', import.meta.url);
const fixture = (file: string) => readFileSync(new URL(file, fixtures), 'latin1');

// Deliberate differences, not normalisation: see the README's "Differences from gearmand".
const EMBEDDED_DIFFERENCES: Record<string, string> = {
  // Section 11, item 35: gearmand 1.1.20 does not know `shutdown`; here it would close the server.
  'shutdown.txt': 'skip',
  'shutdown-graceful.txt': 'skip',
  // Section 11, item 31: `create function x` ending in a bare \n creates "" on gearmand, "x" here.
  'status-empty-function-name.txt':
    'x\t0\t0\t0\ncancelme\t1\t0\t0\nthumb\t0\t0\t1\nslow\t1\t1\t1\nresize\t4\t0\t1\n.\n',
  'pipeline-status-bogus-version.txt':
    'x\t0\t0\t0\ncancelme\t1\t0\t0\nthumb\t0\t0\t1\nslow\t1\t1\t1\nresize\t4\t0\t1\n.\nERR UNKNOWN_COMMAND Unknown+server+commandbogus\r\nOK 1.1.20+ds\n',
};

/** Masks what legitimately differs between servers, then sorts the lines of each list. */
function normalise(reply: string): string {
  const units: string[] = [];
  let list: string[] = [];
  for (const raw of reply.split(/(?<=\n)/)) {
    const line = raw
      .replace(/H:[^:\t\n]+:(\d+)/g, 'H:*:$1')
      .replace(/^\d+ (\S+ \S+ :)/, 'N $1')
      .replace(/^OK \d+\n$/, 'OK <pid>\n')
      .replace(/^OK (\d+\.\d+\.\d+)\S*\n$/, 'OK $1\n');
    if (line.startsWith('ERR ') || line.startsWith('OK')) {
      units.push(line);
    } else if (line === '.\n') {
      units.push(...list.sort(), line);
      list = [];
    } else {
      list.push(line);
    }
  }
  return [...units, ...list].join('');
}

const kinds: TargetKind[] = ['embedded'];
if (process.env.GEARMANODE_TARGET === 'gearmand' || inject('gearman')?.kind === 'gearmand') {
  kinds.push('gearmand');
}

describe.each(kinds)('admin replies against gearmand’s captured fixtures (%s)', (kind) => {
  test('every reply matches the capture', async () => {
    const server = await ownTarget(kind);
    const wires: Wire[] = [];
    const open = async () => {
      const wire = await Wire.open(server);
      wires.push(wire);
      return wire;
    };
    try {
      const replies: { file: string; actual: string }[] = [];
      const capture = async (file: string, request: string) => {
        const expected = EMBEDDED_DIFFERENCES[file];
        if (kind === 'embedded' && expected === 'skip') return;
        const lines =
          (kind === 'embedded' && expected !== undefined ? expected : fixture(file)).split('\n')
            .length - 1;
        await sleep(20); // let the server see earlier admin connections close (for `workers`)
        const admin = await open();
        await admin.send(request);
        const received = await admin.raw.readUntil(
          (buffer) => buffer.toString('latin1').split('\n').length - 1 >= lines,
        );
        await admin.silence(20);
        await admin.close();
        replies.push({ file, actual: received.toString('latin1') });
      };

      const captured = (
        JSON.parse(fixture('index.json')) as { fixtures: { file: string; request: string }[] }
      ).fixtures;
      // The first two were captured on a fresh server, before any state was made.
      for (const { file, request } of captured.slice(0, 2)) await capture(file, request);
      const worker1 = await open();
      await worker1.send(
        { type: 'SET_CLIENT_ID', clientId: 'fx-worker-1' },
        { type: 'CAN_DO', functionName: 'resize' },
        { type: 'CAN_DO', functionName: 'thumb' },
      );
      const worker2 = await open();
      await worker2.send({ type: 'CAN_DO', functionName: 'slow' });
      const client = await open();
      const handles: string[] = [];
      const submits = [
        ['SUBMIT_JOB_HIGH_BG', 'resize', 'u-high', 'a'],
        ['SUBMIT_JOB_BG', 'resize', 'u-normal-1', 'b'],
        ['SUBMIT_JOB_BG', 'resize', 'u-normal-2', 'c'],
        ['SUBMIT_JOB_LOW_BG', 'resize', 'u-low', 'd'],
        ['SUBMIT_JOB_BG', 'slow', 'u-slow', 'e'],
        ['SUBMIT_JOB_BG', 'cancelme', 'u-cancel', 'f'],
      ] as const;
      for (const [type, functionName, unique, payload] of submits) {
        await client.send(encodePacket({ type, functionName, unique, payload }));
        const created = await client.packet();
        if (created.type === 'JOB_CREATED') handles.push(created.handle);
      }
      await worker2.send({ type: 'GRAB_JOB' });
      await worker2.packet();

      // The rest in the capture's own order (index.json), with this run's cancelme handle.
      for (const { file, request } of captured.slice(2)) {
        await capture(file, file === 'cancel-job.txt' ? `cancel job ${handles[5]}\r\n` : request);
      }

      for (const { file, actual } of replies) {
        const difference = kind === 'embedded' ? EMBEDDED_DIFFERENCES[file] : undefined;
        const expected = difference ?? fixture(file);
        expect({ file, reply: normalise(actual) }).toEqual({ file, reply: normalise(expected) });
      }
      // Every capture in the index was replayed (but the skipped ones).
      const files = captured.map((entry) => entry.file);
      const skipped = kind === 'embedded' ? ['shutdown.txt', 'shutdown-graceful.txt'] : [];
      expect(replies.map((reply) => reply.file).sort()).toEqual(
        files.filter((file) => !skipped.includes(file)).sort(),
      );
    } finally {
      await Promise.all(wires.map((wire) => wire.close()));
      await server.close();
    }
  }, 30_000);
});
