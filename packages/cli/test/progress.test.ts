import { describe, expect, test } from 'vitest';
import { formatElapsed, ProgressBar, renderProgress } from '../src/format/progress.js';
import { visibleWidth } from '../src/format/text.js';
import { MemoryOutput } from './support/memory-io.js';

describe('renderProgress', () => {
  test('shows a bar, the percentage, the counts and the time', () => {
    const line = renderProgress({ numerator: 5, denominator: 10, elapsedMs: 3200 }, 29);
    expect(line).toBe('[█████░░░░░]  50%  5/10  0:03');
    expect(visibleWidth(line)).toBe(29);
  });

  test('uses the room it has, up to 40 cells of bar', () => {
    const line = renderProgress(
      { numerator: 1, denominator: 4, elapsedMs: 0, label: 'resize' },
      80,
    );
    expect(line).toBe(`resize [${'█'.repeat(10)}${'░'.repeat(30)}]  25%  1/4  0:00`);
    expect(visibleWidth(line)).toBeLessThanOrEqual(80);
  });

  test('never exceeds the width', () => {
    for (const width of [10, 20, 33, 50]) {
      const line = renderProgress(
        { numerator: 7, denominator: 9, elapsedMs: 61_000, label: 'a-long-label' },
        width,
      );
      expect(visibleWidth(line)).toBeLessThanOrEqual(width);
    }
  });

  test('caps a numerator past the denominator at 100%', () => {
    expect(renderProgress({ numerator: 12, denominator: 10, elapsedMs: 0 }, 30)).toContain(
      '[██████████] 100%  12/10',
    );
  });

  test('shows only the counts when the denominator is 0', () => {
    expect(renderProgress({ numerator: 3, denominator: 0, elapsedMs: 5000 }, 40)).toBe('3/0  0:05');
  });
});

describe('formatElapsed', () => {
  test.each([
    [0, '0:00'],
    [59_999, '0:59'],
    [61_000, '1:01'],
    [3_600_000, '1:00:00'],
    [3_725_000, '1:02:05'],
  ])('%i ms is %s', (ms, text) => {
    expect(formatElapsed(ms)).toBe(text);
  });
});

describe('ProgressBar', () => {
  test('draws in place with a carriage return and erase-to-end-of-line', () => {
    let now = 0;
    const stream = new MemoryOutput({ isTTY: true, columns: 29 });
    const bar = new ProgressBar(stream, { now: () => now });
    now = 1000;
    bar.update(1, 2);
    // One column short of the terminal's 29: writing the last column can wrap.
    expect(stream.text()).toBe('\r[█████░░░░░]  50%  1/2  0:01\x1b[K');
  });

  test('throttles redraws but always draws the final state', () => {
    let now = 0;
    const stream = new MemoryOutput({ isTTY: true, columns: 80 });
    const bar = new ProgressBar(stream, { now: () => now, throttle: 50 });
    bar.update(1, 4);
    now = 10;
    bar.update(2, 4); // within 50 ms: skipped
    now = 20;
    bar.update(4, 4); // final: drawn
    const draws = stream.text().split('\r').filter(Boolean);
    expect(draws).toHaveLength(2);
    expect(draws[1]).toContain('4/4');
  });

  test('clear() erases only a drawn line, redraw() draws the last state again', () => {
    const stream = new MemoryOutput({ isTTY: true, columns: 80 });
    const bar = new ProgressBar(stream, { now: () => 0 });
    bar.clear();
    bar.redraw();
    expect(stream.text()).toBe('');
    bar.update(1, 1);
    bar.clear();
    expect(stream.text().endsWith('\r\x1b[K')).toBe(true);
    bar.redraw();
    expect(stream.text().endsWith('1/1  0:00\x1b[K')).toBe(true);
  });
});
