import { describe, expect, test } from 'vitest';
import { formatJson } from '../src/format/json.js';
import { formatTable } from '../src/format/table.js';
import { printable, stripAnsi, truncate, visibleWidth } from '../src/format/text.js';

const columns = [
  { header: 'FUNCTION' },
  { header: 'QUEUED', align: 'right' as const },
  { header: 'ID' },
];

describe('formatTable', () => {
  test('aligns columns, numbers on the right, with two spaces between', () => {
    const text = formatTable(columns, [
      ['resize', '3', 'w1'],
      ['transcode-video', '12345', 'worker-two'],
    ]);
    expect(text).toBe(
      [
        'FUNCTION         QUEUED  ID',
        'resize                3  w1',
        'transcode-video   12345  worker-two',
        '',
      ].join('\n'),
    );
  });

  test('leaves no trailing spaces on any line', () => {
    const text = formatTable(columns, [
      ['a', '1', ''],
      ['bb', '22', 'x'],
    ]);
    for (const line of text.split('\n')) expect(line).toBe(line.trimEnd());
  });

  test('prints just the header for no rows', () => {
    expect(formatTable(columns, [])).toBe('FUNCTION  QUEUED  ID\n');
  });

  test('escapes control characters in cells so that a row stays one line', () => {
    const text = formatTable([{ header: 'F' }], [['tab\there\nnew\x1b[31m']]);
    expect(text).toBe('F\ntab\\there\\nnew\\x1b[31m\n');
  });

  test('bolds headers when colour is on, without changing the alignment', () => {
    const text = formatTable(columns, [['resize', '3', 'w1']], { color: true });
    const [header, row] = text.split('\n');
    expect(header).toContain('\x1b[1mFUNCTION\x1b[22m');
    expect(stripAnsi(header ?? '')).toBe('FUNCTION  QUEUED  ID');
    expect(row).toBe('resize         3  w1');
  });

  test('measures styled cells by what they show', () => {
    const text = formatTable(
      [{ header: 'N', align: 'right' }, { header: 'D' }],
      [
        ['1', '\x1b[32m+1\x1b[39m'],
        ['100', ''],
      ],
      { styled: true },
    );
    expect(stripAnsi(text)).toBe('  N  D\n  1  +1\n100\n');
  });

  test('cuts lines to the width, ending them in an ellipsis', () => {
    const text = formatTable([{ header: 'NAME' }], [['a-very-long-function-name']], { width: 10 });
    expect(text).toBe('NAME\na-very-lo…\n');
  });
});

describe('text helpers', () => {
  test('visibleWidth ignores escape sequences and counts code points', () => {
    expect(visibleWidth('\x1b[1mabc\x1b[22m')).toBe(3);
    expect(visibleWidth('█░±')).toBe(3);
  });

  test('truncate keeps styles and resets them after a cut', () => {
    expect(truncate('\x1b[31mabcdef\x1b[39m', 4)).toBe('\x1b[31mabc\x1b[39m…\x1b[0m');
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('abc', 0)).toBe('');
  });

  test('printable escapes every control character', () => {
    expect(printable('a\tb\r\n\x00\x7f')).toBe('a\\tb\\r\\n\\x00\\x7f');
  });
});

describe('formatJson', () => {
  test('pretty-prints one document with a final newline', () => {
    expect(formatJson([{ a: 1 }])).toBe('[\n  {\n    "a": 1\n  }\n]\n');
  });
});
