import {
  AdminError,
  ClosedError,
  ConnectionError,
  InvalidArgumentError,
  JobExceptionError,
  JobFailedError,
  ProtocolError,
  ServerError,
  TimeoutError,
} from '@gearmanode/protocol';
import { describe, expect, test } from 'vitest';
import { CliError, EXIT, exitCodeFor, formatError, messageFor, UsageError } from '../src/errors.js';
import { EXIT_DESCRIPTIONS } from '../src/help.js';

describe('exitCodeFor', () => {
  test.each([
    ['a usage error', new UsageError('bad'), EXIT.USAGE],
    ['a CliError', new CliError(EXIT.TIMEOUT, 'late'), EXIT.TIMEOUT],
    ['WORK_FAIL', new JobFailedError('H:x:1'), EXIT.JOB_FAILED],
    ['WORK_EXCEPTION', new JobExceptionError('H:x:1', Buffer.from('no')), EXIT.JOB_EXCEPTION],
    ['a timeout', new TimeoutError('timed out'), EXIT.TIMEOUT],
    ['a lost connection', new ConnectionError('lost', { maybeRan: true }), EXIT.CONNECTION],
    ['an ERROR packet', new ServerError('QUEUE_ERROR', 'Job queue is full'), EXIT.SERVER],
    ['an ERR admin reply', new AdminError('UNKNOWN_JOB', 'UNKNOWN_JOB'), EXIT.SERVER],
    ['a bad argument', new InvalidArgumentError('unique', 'too long'), EXIT.USAGE],
    ['a protocol violation', new ProtocolError('BAD_MAGIC', 'bad magic'), EXIT.ERROR],
    ['a closed client', new ClosedError('closed'), EXIT.ERROR],
    [
      'a refused socket',
      Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
      EXIT.CONNECTION,
    ],
    ['an unknown host', Object.assign(new Error('dns'), { code: 'ENOTFOUND' }), EXIT.CONNECTION],
    [
      'a parseArgs error',
      Object.assign(new TypeError('x'), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }),
      EXIT.USAGE,
    ],
    ['a plain Error', new Error('boom'), EXIT.ERROR],
    ['a thrown string', 'boom', EXIT.ERROR],
  ])('maps %s', (_, error, code) => {
    expect(exitCodeFor(error)).toBe(code);
  });

  test('gives every failure its own code, distinct from success and usage', () => {
    const codes = Object.values(EXIT);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(EXIT_DESCRIPTIONS[code]).toBeTruthy();
  });
});

describe('messageFor', () => {
  test('adds the cause when the message does not already say it', () => {
    const error = new Error('cannot submit', { cause: new Error('socket closed') });
    expect(messageFor(error)).toBe('cannot submit: socket closed');
  });

  test('boils a connection failure down to its first clause and the system code', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
      syscall: 'connect',
    });
    const error = new ConnectionError(
      'cannot connect to any job server: cannot connect to 127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1',
      { maybeRan: false },
      { cause: refused },
    );
    expect(messageFor(error)).toBe('cannot connect to any job server (ECONNREFUSED)');
  });

  test('keeps the message on one line', () => {
    expect(messageFor(new Error('line one\nline two\r\n'))).toBe('line one line two');
  });
});

describe('formatError', () => {
  test('is one line, without a stack', () => {
    const text = formatError(new TimeoutError('timed out after 5 ms'), false);
    expect(text).toBe('gearmanode: timed out after 5 ms\n');
  });

  test('points usage errors at the command help', () => {
    expect(formatError(new UsageError('missing <handle>', 'cancel'), false)).toBe(
      "gearmanode: missing <handle>\nRun 'gearmanode cancel --help' for usage.\n",
    );
    expect(formatError(new UsageError('unknown command "x"'), false)).toContain(
      "Run 'gearmanode --help' for usage.",
    );
  });

  test('shows a multi-line detail indented under the message', () => {
    const error = new CliError(EXIT.JOB_EXCEPTION, 'job H:x:1 failed with an exception:', {
      detail: 'command exited with code 3\nboom',
    });
    expect(formatError(error, false)).toBe(
      'gearmanode: job H:x:1 failed with an exception:\n  command exited with code 3\n  boom\n',
    );
  });

  test('adds the stack and its causes with --verbose', () => {
    const error = new CliError(EXIT.ERROR, 'outer', { cause: new Error('inner') });
    const text = formatError(error, true);
    expect(text.split('\n')[0]).toBe('gearmanode: outer');
    expect(text).toContain('CliError: outer\n    at ');
    expect(text).toContain('Caused by: Error: inner');
  });
});
