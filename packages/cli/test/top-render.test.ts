import { describe, expect, test } from 'vitest';
import { renderTop, type TopSnapshot } from '../src/commands/top.js';
import { stripAnsi } from '../src/format/text.js';

const at = new Date(2030, 0, 1, 9, 30, 5).getTime();

function snapshot(
  rows: [string, number, number, number][],
  extra: Partial<TopSnapshot['servers'][number]> = {},
): TopSnapshot {
  return {
    at,
    servers: [
      {
        server: '127.0.0.1:4730',
        status: rows.map(([functionName, queued, running, availableWorkers]) => ({
          functionName,
          queued,
          running,
          total: queued + running,
          availableWorkers,
        })),
        workers: [
          { fd: 7, ip: '10.0.0.2', clientId: 'w1', functions: ['resize', 'thumb'] },
          { fd: 8, ip: '10.0.0.3', clientId: null, functions: [] },
        ],
        ...extra,
      },
    ],
  };
}

const options = { width: 100, color: false, interval: 1000 };

describe('renderTop', () => {
  test('shows the title, totals, functions busiest first, and workers with functions', () => {
    const lines = renderTop(
      snapshot([
        ['idle', 0, 0, 1],
        ['resize', 5, 2, 3],
      ]),
      undefined,
      options,
    );
    expect(lines[0]).toBe('gearmanode top  127.0.0.1:4730  every 1s  09:30:05  q: quit');
    expect(lines[1]).toBe('2 functions  5 queued  2 running  1 worker');
    expect(lines.slice(3, 6)).toEqual([
      'FUNCTION  QUEUED  ±  RUNNING  ±  WORKERS',
      'resize         5           2           3',
      'idle           0           0           1',
    ]);
    expect(lines.slice(7)).toEqual([
      'FD  IP        ID  FUNCTIONS',
      ' 7  10.0.0.2  w1  resize thumb',
    ]);
  });

  test('shows the change of each count since the previous refresh', () => {
    const previous = snapshot([
      ['resize', 5, 2, 3],
      ['thumb', 1, 0, 1],
    ]);
    const current = snapshot([
      ['resize', 8, 1, 3],
      ['thumb', 1, 0, 1],
      ['new', 2, 0, 0],
    ]);
    const lines = renderTop(current, previous, options);
    expect(lines[1]).toBe('3 functions  11 queued (+5)  1 running (-1)  1 worker');
    const row = (name: string) => lines.find((line) => line.startsWith(`${name} `));
    expect(row('resize')).toBe('resize         8  +3        1  -1        3');
    expect(row('thumb')).toBe('thumb          1            0            1');
    expect(row('new')).toBe('new            2  +2        0            0');
  });

  test('colours increases green and decreases red', () => {
    const lines = renderTop(snapshot([['f', 3, 0, 0]]), snapshot([['f', 1, 2, 0]]), {
      ...options,
      color: true,
    });
    const row = lines.find((line) => stripAnsi(line).startsWith('f '));
    expect(row).toContain('\x1b[32m+2\x1b[39m');
    expect(row).toContain('\x1b[31m-2\x1b[39m');
  });

  test('reports a server that failed, in place of its rows', () => {
    const lines = renderTop(
      snapshot([], { status: [], workers: [], error: 'gave up (ECONNREFUSED)' }),
      undefined,
      options,
    );
    expect(lines[2]).toBe('127.0.0.1:4730: gave up (ECONNREFUSED)');
  });

  test('fits the width and the height of the terminal', () => {
    const rows: [string, number, number, number][] = Array.from({ length: 30 }, (_, i) => [
      `function-with-a-long-name-${i}`,
      i,
      0,
      0,
    ]);
    const lines = renderTop(snapshot(rows), undefined, { ...options, width: 30, height: 10 });
    expect(lines).toHaveLength(10);
    for (const line of lines) expect([...stripAnsi(line)].length).toBeLessThanOrEqual(30);
    expect(lines[9]).toMatch(/^… \d+ more lines$/);
  });

  test('adds a SERVER column with several servers', () => {
    const one = snapshot([['f', 1, 0, 0]]);
    const two: TopSnapshot = {
      at,
      servers: [one.servers[0]!, { ...one.servers[0]!, server: '127.0.0.1:4731' }],
    };
    const lines = renderTop(two, undefined, options);
    expect(lines[3]).toMatch(/^SERVER +FUNCTION/);
    expect(lines.filter((line) => line.includes(' f '))).toHaveLength(2);
  });
});
