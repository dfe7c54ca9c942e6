import { describe, expect, test } from 'vitest';
import {
  expectPositionals,
  parseAt,
  parseCommandArgs,
  parseDuration,
  parseInteger,
  parsePriority,
  parseSize,
  splitCommand,
} from '../src/args.js';
import { EXIT, UsageError } from '../src/errors.js';
import { COMMANDS } from '../src/help.js';

describe('splitCommand', () => {
  test('takes the first word that is not an option as the command', () => {
    expect(splitCommand(['status', '--json'])).toEqual({ command: 'status', args: ['--json'] });
  });

  test('skips the value of a global option placed before the command', () => {
    expect(splitCommand(['--servers', 'h:1', 'status'])).toEqual({
      command: 'status',
      args: ['--servers', 'h:1'],
    });
    expect(splitCommand(['-s', 'h:1', '--json', 'jobs'])).toEqual({
      command: 'jobs',
      args: ['-s', 'h:1', '--json'],
    });
    expect(splitCommand(['--servers=h:1', 'jobs'])).toEqual({
      command: 'jobs',
      args: ['--servers=h:1'],
    });
  });

  test('finds no command in options alone or after --', () => {
    expect(splitCommand(['--help'])).toEqual({ args: ['--help'] });
    expect(splitCommand(['--', 'status'])).toEqual({ args: ['--', 'status'] });
    expect(splitCommand([])).toEqual({ args: [] });
  });
});

describe('parseCommandArgs', () => {
  test('parses the command options and the global ones, short and long', () => {
    const parsed = parseCommandArgs('submit', COMMANDS.submit.options, [
      '-b',
      '--priority',
      'high',
      '-u',
      'key',
      '--servers=a:1,b:2',
      'resize',
      'payload',
    ]);
    expect(parsed.values).toMatchObject({
      background: true,
      priority: 'high',
      unique: 'key',
      servers: 'a:1,b:2',
    });
    expect(parsed.positionals).toEqual(['resize', 'payload']);
    expect(parsed.rest).toBeNull();
  });

  test('keeps everything after -- untouched, options included', () => {
    const parsed = parseCommandArgs('work', COMMANDS.work.options, [
      '-c',
      '2',
      'resize',
      '--',
      'convert',
      '-resize',
      '50%',
      '--help',
    ]);
    expect(parsed.values.concurrency).toBe('2');
    expect(parsed.values.help).toBeUndefined();
    expect(parsed.positionals).toEqual(['resize']);
    expect(parsed.rest).toEqual(['convert', '-resize', '50%', '--help']);
  });

  test('rejects an unknown option with a UsageError naming it and the command', () => {
    const error = catchError(() =>
      parseCommandArgs('status', COMMANDS.status.options, ['--bogus']),
    );
    expect(error).toBeInstanceOf(UsageError);
    expect(error).toMatchObject({ message: 'unknown option --bogus', command: 'status' });
    expect((error as UsageError).exitCode).toBe(EXIT.USAGE);
  });

  test('rejects an option without its value', () => {
    const error = catchError(() =>
      parseCommandArgs('submit', COMMANDS.submit.options, ['--timeout']),
    );
    expect(error).toMatchObject({ message: 'option --timeout needs a value' });
  });

  test("rejects another command's option", () => {
    expect(() => parseCommandArgs('status', COMMANDS.status.options, ['--background'])).toThrow(
      UsageError,
    );
  });
});

describe('expectPositionals', () => {
  test('returns the positionals when their number fits', () => {
    expect(expectPositionals('x', ['a'], ['function'], ['payload'])).toEqual(['a']);
    expect(expectPositionals('x', ['a', 'b'], ['function'], ['payload'])).toEqual(['a', 'b']);
  });

  test('names what is missing and what is extra', () => {
    expect(() => expectPositionals('cancel', [], ['handle'])).toThrow('missing <handle>');
    expect(() => expectPositionals('status', ['x'], [])).toThrow('unexpected argument "x"');
  });
});

describe('parseDuration', () => {
  test.each([
    ['30', 30_000],
    ['1.5', 1500],
    ['500ms', 500],
    ['2s', 2000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['0', 0],
  ])('reads %s as %i ms', (text, ms) => {
    expect(parseDuration(text, '--timeout')).toBe(ms);
  });

  test.each(['', 'abc', '-1', '10 s', '1d', 's'])('rejects %j', (text) => {
    expect(() => parseDuration(text, '--timeout')).toThrow(/--timeout must be a duration/);
  });
});

describe('parseAt', () => {
  const now = Date.UTC(2030, 0, 1, 12, 0, 0);

  test('reads a delay from now', () => {
    expect(parseAt('+30s', now).getTime()).toBe(now + 30_000);
    expect(parseAt('+5m', now).getTime()).toBe(now + 300_000);
  });

  test('reads Unix seconds', () => {
    expect(parseAt('1893488400', now).getTime()).toBe(1_893_488_400_000);
  });

  test('reads an ISO 8601 time', () => {
    expect(parseAt('2030-01-01T09:00:00Z', now).toISOString()).toBe('2030-01-01T09:00:00.000Z');
  });

  test.each(['tomorrow', 'Jan 1 2030', '2030-13-45', '+soon'])('rejects %j', (text) => {
    expect(() => parseAt(text, now)).toThrow(UsageError);
  });
});

describe('parseInteger and parsePriority', () => {
  test('reads integers within bounds', () => {
    expect(parseInteger('4', '--concurrency', { min: 1 })).toBe(4);
    expect(() => parseInteger('0', '--concurrency', { min: 1 })).toThrow(
      '--concurrency must be an integer from 1 to',
    );
    expect(() => parseInteger('1.5', '-n')).toThrow(UsageError);
    expect(() => parseInteger('99', '-n', { max: 10 })).toThrow('from 0 to 10');
  });

  test('reads priorities in any case', () => {
    expect(parsePriority('HIGH')).toBe('high');
    expect(parsePriority('low')).toBe('low');
    expect(() => parsePriority('urgent')).toThrow('--priority must be low, normal or high');
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('negative numbers', () => {
  test('reach the option as its value, for its own check to judge', () => {
    const server = parseCommandArgs('server', COMMANDS.server.options, ['--port', '-1']);
    expect(server.values.port).toBe('-1');
    const short = parseCommandArgs('server', COMMANDS.server.options, ['-p', '-1']);
    expect(short.values.port).toBe('-1');
    const submit = parseCommandArgs('submit', COMMANDS.submit.options, ['-t', '-.5', 'f']);
    expect(submit.values.timeout).toBe('-.5');
    expect(submit.positionals).toEqual(['f']);
  });

  test('another value starting with - says how to pass it', () => {
    const attempt = () => parseCommandArgs('submit', COMMANDS.submit.options, ['-u', '-key', 'f']);
    expect(attempt).toThrow(UsageError);
    expect(attempt).toThrow(
      'option -u needs a value; for one that starts with -, write --unique=<value>',
    );
    expect(
      parseCommandArgs('submit', COMMANDS.submit.options, ['--unique=-key', 'f']).values.unique,
    ).toBe('-key');
  });
});

describe('parseSize', () => {
  test('takes bytes and binary units', () => {
    expect(parseSize('67108864', '--max-packet-size')).toBe(64 * 1024 * 1024);
    expect(parseSize('128MiB', '--max-packet-size')).toBe(128 * 1024 * 1024);
    expect(parseSize('1g', '--max-packet-size')).toBe(1024 ** 3);
    expect(parseSize('512 K', '--max-packet-size')).toBe(512 * 1024);
  });

  test.each(['0', '-1', '4GiB', '1.5M', 'big', '10TB'])('rejects %j', (text) => {
    expect(() => parseSize(text, '--max-packet-size', 'submit')).toThrow(
      /^--max-packet-size must be a size from 1 byte to 4GiB-1/,
    );
  });
});
