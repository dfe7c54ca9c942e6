import { Buffer } from 'node:buffer';
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  type AdminCommand,
  type AdminCommandName,
  type AdminParserOptions,
  type AdminReply,
  AdminResponseParser,
  encodeAdminCommand,
  encodeAdminError,
  encodeAdminReply,
  type FunctionStatus,
  type JobInfo,
  MAX_ADMIN_LINE_BYTES,
  parseAdminRequest,
  type WorkerInfo,
} from '../src/admin.js';
import {
  AdminError,
  ConnectionError,
  type GearmanError,
  InvalidArgumentError,
  ProtocolError,
} from '../src/errors.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** A reply as plain data, so that `toEqual` compares error fields rather than Error identity. */
type Summary =
  | { command: AdminCommandName; value: unknown }
  | { command: AdminCommandName; error: ErrorSummary };

interface ErrorSummary {
  name: string;
  code: string;
  message: string;
  adminCode?: string;
  reason?: string;
}

function summarizeError(error: GearmanError): ErrorSummary {
  const summary: ErrorSummary = { name: error.name, code: error.code, message: error.message };
  if (error instanceof AdminError) summary.adminCode = error.adminCode;
  if (error instanceof ProtocolError) summary.reason = error.reason;
  return summary;
}

function summarize(reply: AdminReply): Summary {
  return reply.ok
    ? { command: reply.command, value: reply.value }
    : { command: reply.command, error: summarizeError(reply.error) };
}

function adminError(command: AdminCommandName, adminCode: string, message: string): Summary {
  return { command, error: { name: 'AdminError', code: 'ERR_ADMIN', message, adminCode } };
}

/** Parses `chunks` as the replies to `commands`; checks that nothing is left over. */
function parse(
  commands: readonly AdminCommandName[],
  chunks: readonly Buffer[],
  options?: AdminParserOptions,
): Summary[] {
  const parser = new AdminResponseParser(options);
  const replies: Summary[] = [];
  for (const command of commands) parser.expect(command, (reply) => replies.push(summarize(reply)));
  for (const chunk of chunks) parser.push(chunk);
  expect(parser.pending).toBe(0);
  expect(parser.bufferedBytes).toBe(0);
  return replies;
}

function everyByte(bytes: Buffer): Buffer[] {
  return Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
}

function splitAt(bytes: Buffer, at: number): Buffer[] {
  return [bytes.subarray(0, at), bytes.subarray(at)];
}

/** Runs `fn` and returns what it threw; fails the test if it did not throw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  expect.unreachable('expected a throw');
}

// ---------------------------------------------------------------------------------------------
// Fixtures captured from gearmand 1.1.20 (see fixtures/admin/capture.mjs and index.json)

const fixtureDir = new URL('./fixtures/admin/', import.meta.url);
const readFixture = (file: string): Buffer => readFileSync(new URL(file, fixtureDir));
const index = JSON.parse(readFileSync(new URL('index.json', fixtureDir), 'utf8')) as {
  fixtures: { file: string; request: string }[];
};
const requests = new Map(index.fixtures.map(({ file, request }) => [file, request]));

interface FixtureCase {
  file: string;
  /** The command the reply answers, as the parser is told. */
  command: AdminCommand;
  /** Whether `encodeAdminCommand(command)` is exactly the request gearmand received. */
  encodesRequest: boolean;
  expected: Summary;
}

function okCase(file: string, command: AdminCommand, value: unknown, encodesRequest = true) {
  return { file, command, encodesRequest, expected: { command: command.command, value } };
}

function errCase(
  file: string,
  command: AdminCommand,
  adminCode: string,
  message: string,
  encodesRequest = true,
): FixtureCase {
  return {
    file,
    command,
    encodesRequest,
    expected: adminError(command.command, adminCode, message),
  };
}

const statusRows: FunctionStatus[] = [
  { functionName: 'cancelme', queued: 1, running: 0, total: 1, availableWorkers: 0 },
  { functionName: 'thumb', queued: 0, running: 0, total: 0, availableWorkers: 1 },
  { functionName: 'slow', queued: 0, running: 1, total: 1, availableWorkers: 1 },
  { functionName: 'resize', queued: 4, running: 0, total: 4, availableWorkers: 1 },
];
const emptyNameRow: FunctionStatus = {
  functionName: '',
  queued: 0,
  running: 0,
  total: 0,
  availableWorkers: 0,
};
const persisted = (handle: string): JobInfo => ({
  handle,
  retries: 0,
  ignored: false,
  persisted: true,
});
const unknownCommand = (word: string) => `UNKNOWN_COMMAND: Unknown server command${word}`;
const incomplete = (word: string) =>
  `INVALID_ARGUMENTS: An incomplete set of arguments was sent to this command ${word}`;

const fixtureCases: FixtureCase[] = [
  okCase('status-empty.txt', { command: 'status' }, []),
  okCase('show-jobs-empty.txt', { command: 'show jobs' }, []),
  okCase('status.txt', { command: 'status' }, statusRows),
  okCase('status-empty-function-name.txt', { command: 'status' }, [emptyNameRow, ...statusRows]),
  okCase('prioritystatus.txt', { command: 'prioritystatus' }, [
    { functionName: 'cancelme', high: 0, normal: 1, low: 0, availableWorkers: 0 },
    { functionName: 'thumb', high: 0, normal: 0, low: 0, availableWorkers: 1 },
    { functionName: 'slow', high: 0, normal: 0, low: 0, availableWorkers: 1 },
    { functionName: 'resize', high: 1, normal: 2, low: 1, availableWorkers: 1 },
  ]),
  okCase('workers.txt', { command: 'workers' }, [
    { fd: 19, ip: '127.0.0.1', clientId: null, functions: [] },
    { fd: 20, ip: '127.0.0.1', clientId: 'fx-worker-1', functions: ['thumb', 'resize'] },
    { fd: 21, ip: '127.0.0.1', clientId: null, functions: ['slow'] },
    { fd: 22, ip: '127.0.0.1', clientId: null, functions: [] },
  ] satisfies WorkerInfo[]),
  okCase('show-jobs.txt', { command: 'show jobs' }, [
    persisted('H:vm:1'),
    persisted('H:vm:5'),
    persisted('H:vm:2'),
    persisted('H:vm:4'),
    { handle: 'H:vm:6', retries: 0, ignored: true, persisted: false },
    persisted('H:vm:3'),
  ]),
  okCase('show-unique-jobs.txt', { command: 'show unique jobs' }, [
    'u-normal-2',
    'u-cancel',
    'u-low',
    'u-slow',
    'u-high',
    'u-normal-1',
  ]),
  okCase('cancel-job.txt', { command: 'cancel job', handle: 'H:vm:6' }, undefined),
  errCase(
    'cancel-job-unknown.txt',
    { command: 'cancel job', handle: 'H:nowhere:1' },
    'UNKNOWN_JOB',
    'UNKNOWN_JOB',
  ),
  errCase(
    'cancel-job-extra-word.txt',
    { command: 'cancel job', handle: 'a' },
    'UNKNOWN_ERROR',
    'UNKNOWN_ERROR',
    false,
  ),
  errCase(
    'cancel-job-incomplete.txt',
    { command: 'cancel job', handle: '-' },
    'UNKNOWN_COMMAND',
    unknownCommand('cancel'),
    false,
  ),
  okCase(
    'create-function.txt',
    { command: 'create function', functionName: 'fx-empty' },
    undefined,
  ),
  okCase(
    'create-function-bare-lf.txt',
    { command: 'create function', functionName: 'x' },
    undefined,
    false, // sent with a bare \n, which the encoder never does
  ),
  okCase('drop-function.txt', { command: 'drop function', functionName: 'fx-empty' }, undefined),
  errCase(
    'drop-function-with-workers.txt',
    { command: 'drop function', functionName: 'resize' },
    'FUNCTION_HAS_WORKERS',
    'there are still connected workers or executing clients',
  ),
  errCase(
    'drop-function-unknown.txt',
    { command: 'drop function', functionName: 'fx-nope' },
    'FUNCTION_NOT_FOUND',
    'function not found',
  ),
  errCase(
    'drop-function-incomplete.txt',
    { command: 'drop function', functionName: '-' },
    'INVALID_ARGUMENTS',
    incomplete('drop'),
    false,
  ),
  okCase('maxqueue-reset.txt', { command: 'maxqueue', functionName: 'resize' }, undefined),
  okCase(
    'maxqueue-one.txt',
    { command: 'maxqueue', functionName: 'resize', limits: 10 },
    undefined,
  ),
  okCase(
    'maxqueue-three.txt',
    { command: 'maxqueue', functionName: 'resize', limits: { high: 10, normal: 20, low: 30 } },
    undefined,
  ),
  errCase(
    'maxqueue-incomplete.txt',
    { command: 'maxqueue', functionName: '-' },
    'INVALID_ARGUMENTS',
    incomplete('maxqueue'),
    false,
  ),
  okCase('getpid.txt', { command: 'getpid' }, 11325),
  okCase('version.txt', { command: 'version' }, { raw: '1.1.20+ds', version: '1.1.20' }),
  okCase('verbose.txt', { command: 'verbose' }, 'ERROR'),
  errCase('shutdown.txt', { command: 'shutdown' }, 'UNKNOWN_COMMAND', unknownCommand('shutdown')),
  errCase(
    'shutdown-graceful.txt',
    { command: 'shutdown', graceful: true },
    'UNKNOWN_COMMAND',
    unknownCommand('shutdown'),
  ),
  // "bogus" and "show xyz" have no AdminCommand; a list command stands in for them.
  errCase(
    'unknown-command.txt',
    { command: 'workers' },
    'UNKNOWN_COMMAND',
    unknownCommand('bogus'),
    false,
  ),
  errCase(
    'show-unknown.txt',
    { command: 'show jobs' },
    'UNKNOWN_SHOW_ARGUMENTS',
    'UNKNOWN_SHOW_ARGUMENTS',
    false,
  ),
];

const pipelineFile = 'pipeline-status-bogus-version.txt';
const pipelineCommands: AdminCommandName[] = ['status', 'getpid', 'version'];
const pipelineReplies: Summary[] = [
  { command: 'status', value: [emptyNameRow, ...statusRows] },
  adminError('getpid', 'UNKNOWN_COMMAND', unknownCommand('bogus')),
  { command: 'version', value: { raw: '1.1.20+ds', version: '1.1.20' } },
];

test('every captured fixture has a case and keeps its raw line ends', () => {
  const files = readdirSync(fixtureDir).filter((file) => file.endsWith('.txt'));
  expect(files.sort()).toEqual([...fixtureCases.map((c) => c.file), pipelineFile].sort());
  expect([...requests.keys()].sort()).toEqual(files.sort());
  // gearmand ends status lines in \r\n and list and value lines in a bare \n; an editor or git
  // normalising line ends would make these fixtures lie.
  expect(readFixture('cancel-job.txt').toString()).toBe('OK\r\n');
  expect(readFixture('version.txt').toString()).toBe('OK 1.1.20+ds\n');
  expect(readFixture('status.txt').toString().endsWith('\t1\n.\n')).toBe(true);
});

describe.each(fixtureCases)('$file', ({ file, command, encodesRequest, expected }) => {
  const bytes = readFixture(file);
  const request = requests.get(file) ?? '';

  test('parses whole', () => {
    expect(parse([command.command], [bytes])).toEqual([expected]);
  });

  test('parses byte by byte', () => {
    expect(parse([command.command], everyByte(bytes))).toEqual([expected]);
  });

  test('parses at every split point', () => {
    for (let at = 1; at < bytes.length; at++) {
      expect(parse([command.command], splitAt(bytes, at))).toEqual([expected]);
    }
  });

  test('encodes back to the same bytes', () => {
    const parser = new AdminResponseParser();
    let reply: AdminReply | undefined;
    parser.expect(command.command, (r) => {
      reply = r;
    });
    parser.push(bytes);
    if (reply === undefined) return expect.unreachable('no reply');
    const encoded = reply.ok
      ? encodeAdminReply(reply.command, reply.value)
      : encodeAdminError(reply.error as AdminError);
    expect(encoded).toBe(bytes.toString('utf8'));
  });

  if (encodesRequest) {
    test('its command encodes to the captured request', () => {
      expect(encodeAdminCommand(command)).toBe(request);
    });
  }

  // A server parsing the captured request must reach the same command, or gearmand's error.
  test('the captured request parses as gearmand parsed it', () => {
    const parsed = parseAdminRequest(request.replace(/\r?\n$/, ''));
    if ('error' in expected && !encodesRequest) {
      if (parsed.ok) return expect.unreachable(`parsed as ${parsed.command.command}`);
      expect(encodeAdminError(parsed.error)).toBe(bytes.toString('utf8'));
    } else {
      expect(parsed).toEqual({ ok: true, command });
    }
  });
});

describe(pipelineFile, () => {
  const bytes = readFixture(pipelineFile);

  test('delivers the three replies in order, the ERR in the middle included', () => {
    expect(parse(pipelineCommands, [bytes])).toEqual(pipelineReplies);
  });

  test('parses byte by byte', () => {
    expect(parse(pipelineCommands, everyByte(bytes))).toEqual(pipelineReplies);
  });

  test('parses at every split point', () => {
    for (let at = 1; at < bytes.length; at++) {
      expect(parse(pipelineCommands, splitAt(bytes, at))).toEqual(pipelineReplies);
    }
  });
});

describe('pipelining', () => {
  const all = Buffer.concat(fixtureCases.map(({ file }) => readFixture(file)));
  const commands = fixtureCases.map(({ command }) => command.command);
  const expected = fixtureCases.map(({ expected }) => expected);

  test('parses every fixture written back to back in one chunk', () => {
    expect(parse(commands, [all])).toEqual(expected);
  });

  test('parses them back to back at random split points', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: all.length - 1 })), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), all.length];
        const chunks = points.slice(1).map((end, i) => all.subarray(points[i], end));
        expect(parse(commands, chunks)).toEqual(expected);
      }),
      { seed: 4730, numRuns: 200 },
    );
  });

  test('an ERR between two lists does not disturb the second list', () => {
    const bytes = Buffer.from(
      'fn\t1\t0\t1\n.\nERR UNKNOWN_SHOW_ARGUMENTS\r\nH:x:1\t0\t0\t1\n.\nOK\r\n',
    );
    expect(parse(['status', 'show unique jobs', 'show jobs', 'cancel job'], [bytes])).toEqual([
      {
        command: 'status',
        value: [{ functionName: 'fn', queued: 1, running: 0, total: 1, availableWorkers: 1 }],
      },
      adminError('show unique jobs', 'UNKNOWN_SHOW_ARGUMENTS', 'UNKNOWN_SHOW_ARGUMENTS'),
      { command: 'show jobs', value: [persisted('H:x:1')] },
      { command: 'cancel job', value: undefined },
    ]);
  });

  test('a list answered by one ERR line is followed by the next reply', () => {
    const bytes = Buffer.from('ERR UNKNOWN_COMMAND Unknown+server+commandworkers\r\n.\n');
    expect(parse(['workers', 'status'], [bytes])).toEqual([
      adminError('workers', 'UNKNOWN_COMMAND', unknownCommand('workers')),
      { command: 'status', value: [] },
    ]);
  });

  test('a handler may expect the next command while replies are delivered', () => {
    const parser = new AdminResponseParser();
    const seen: unknown[] = [];
    parser.expect('getpid', (reply) => {
      seen.push(reply.ok && reply.value);
      parser.expect('verbose', (next) => seen.push(next.ok && next.value));
    });
    parser.push(Buffer.from('OK 7\n'));
    parser.push(Buffer.from('OK INFO\n'));
    expect(seen).toEqual([7, 'INFO']);
  });

  test('survives a caller that reuses its read buffer', () => {
    const parser = new AdminResponseParser();
    const values: unknown[] = [];
    for (let i = 0; i < 2; i++) parser.expect('version', (r) => values.push(r.ok && r.value.raw));
    const buffer = Buffer.alloc(8);
    for (const piece of ['OK 1.1.', '20\nOK 2', '.0\n']) {
      const length = buffer.write(piece);
      parser.push(buffer.subarray(0, length));
      buffer.fill(0x78); // the partial line kept from this chunk must not change
    }
    expect(values).toEqual(['1.1.20', '2.0']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('encodeAdminCommand', () => {
  test.each<[AdminCommand, string]>([
    [{ command: 'status' }, 'status\r\n'],
    [{ command: 'prioritystatus' }, 'prioritystatus\r\n'],
    [{ command: 'workers' }, 'workers\r\n'],
    [{ command: 'show jobs' }, 'show jobs\r\n'],
    [{ command: 'show unique jobs' }, 'show unique jobs\r\n'],
    [{ command: 'cancel job', handle: 'H:host:42' }, 'cancel job H:host:42\r\n'],
    [{ command: 'create function', functionName: 'resize' }, 'create function resize\r\n'],
    [{ command: 'drop function', functionName: 'resize' }, 'drop function resize\r\n'],
    [{ command: 'maxqueue', functionName: 'f' }, 'maxqueue f\r\n'],
    [{ command: 'maxqueue', functionName: 'f', limits: 0 }, 'maxqueue f 0\r\n'],
    [
      { command: 'maxqueue', functionName: 'f', limits: { high: 1, normal: 2 } },
      'maxqueue f 1 2\r\n',
    ],
    [
      { command: 'maxqueue', functionName: 'f', limits: { high: 1, normal: 2, low: 2147483647 } },
      'maxqueue f 1 2 2147483647\r\n',
    ],
    [{ command: 'getpid' }, 'getpid\r\n'],
    [{ command: 'version' }, 'version\r\n'],
    [{ command: 'verbose' }, 'verbose\r\n'],
    [{ command: 'shutdown' }, 'shutdown\r\n'],
    [{ command: 'shutdown', graceful: false }, 'shutdown\r\n'],
    [{ command: 'shutdown', graceful: true }, 'shutdown graceful\r\n'],
    [{ command: 'create function', functionName: 'résumé' }, 'create function résumé\r\n'],
  ])('%o → %j', (command, line) => {
    expect(encodeAdminCommand(command)).toBe(line);
  });

  test.each<[AdminCommand, string]>([
    [{ command: 'cancel job', handle: '' }, 'handle'],
    [{ command: 'cancel job', handle: 'H:a b' }, 'handle'],
    [{ command: 'cancel job', handle: 'H:a\r' }, 'handle'],
    [{ command: 'cancel job', handle: 'H:a\nstatus' }, 'handle'],
    [{ command: 'cancel job', handle: 'H:a\0' }, 'handle'],
    [{ command: 'cancel job', handle: 42 as unknown as string }, 'handle'],
    [{ command: 'create function', functionName: '' }, 'functionName'],
    [{ command: 'drop function', functionName: 'two words' }, 'functionName'],
    [{ command: 'maxqueue', functionName: 'f\n' }, 'functionName'],
    [{ command: 'maxqueue', functionName: 'f', limits: -1 }, 'limits'],
    [{ command: 'maxqueue', functionName: 'f', limits: 1.5 }, 'limits'],
    [{ command: 'maxqueue', functionName: 'f', limits: Number.NaN }, 'limits'],
    [{ command: 'maxqueue', functionName: 'f', limits: 2147483648 }, 'limits'],
    [{ command: 'maxqueue', functionName: 'f', limits: { high: -1, normal: 0 } }, 'limits.high'],
    [{ command: 'maxqueue', functionName: 'f', limits: { high: 0, normal: 0.5 } }, 'limits.normal'],
    [
      { command: 'maxqueue', functionName: 'f', limits: { high: 0, normal: 0, low: -3 } },
      'limits.low',
    ],
    [{ command: 'maxqueue', functionName: 'f', limits: null as unknown as number }, 'limits'],
    [{ command: 'reboot' } as unknown as AdminCommand, 'command'],
  ])('refuses %o, naming %s', (command, field) => {
    const error = thrown(() => encodeAdminCommand(command));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', field });
  });

  test('keeps the line, \\r\\n included, under 8 KiB counted in bytes', () => {
    const prefix = 'create function '.length + 2;
    const longest = 'x'.repeat(MAX_ADMIN_LINE_BYTES - prefix);
    expect(MAX_ADMIN_LINE_BYTES).toBe(8191);
    expect(encodeAdminCommand({ command: 'create function', functionName: longest })).toHaveLength(
      MAX_ADMIN_LINE_BYTES,
    );
    const error = thrown(() =>
      encodeAdminCommand({ command: 'create function', functionName: `${longest}x` }),
    );
    expect(error).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', field: 'functionName' });
    // Two bytes in UTF-8 but one UTF-16 unit: the limit is about bytes on the wire.
    const multibyte = `${'x'.repeat(MAX_ADMIN_LINE_BYTES - prefix - 1)}é`;
    expect(() =>
      encodeAdminCommand({ command: 'create function', functionName: multibyte }),
    ).toThrow(InvalidArgumentError);
  });
});

// ---------------------------------------------------------------------------------------------

describe('AdminResponseParser', () => {
  test.each<[AdminCommandName, string, unknown]>([
    // Our embedded server may end every line in \r\n; the \r is optional everywhere.
    [
      'status',
      'f\t2\t1\t3\r\n.\r\n',
      [{ functionName: 'f', queued: 1, running: 1, total: 2, availableWorkers: 3 }],
    ],
    ['getpid', 'OK 42\r\n', 42],
    ['cancel job', 'OK\n', undefined],
    // Counts are read from the right, so a tab in a function name survives.
    [
      'status',
      'a\tb\t0\t0\t0\n.\n',
      [{ functionName: 'a\tb', queued: 0, running: 0, total: 0, availableWorkers: 0 }],
    ],
    // gearmand 1.1.20 can show running as 4294967295 (section 11, item 25): queued stays >= 0.
    [
      'status',
      'f\t1\t4294967295\t1\n.\n',
      [{ functionName: 'f', queued: 0, running: 4294967295, total: 1, availableWorkers: 1 }],
    ],
    // A tab-separated row for a function named "ERR x" is a row, not an error.
    [
      'status',
      'ERR x\t1\t0\t1\n.\n',
      [{ functionName: 'ERR x', queued: 1, running: 0, total: 1, availableWorkers: 1 }],
    ],
    ['show unique jobs', '\nu-1\n.\n', ['', 'u-1']],
    ['version', 'OK gearmanode\n', { raw: 'gearmanode', version: '' }],
    ['version', 'OK 2.0\n', { raw: '2.0', version: '2.0' }],
    [
      'workers',
      '7 ::1 my id : a b\n.\n',
      [{ fd: 7, ip: '::1', clientId: 'my id', functions: ['a', 'b'] }],
    ],
    ['workers', '7 ::1 x :y : f\n.\n', [{ fd: 7, ip: '::1', clientId: 'x :y', functions: ['f'] }]],
    // Each function is printed as " name", so an empty name leaves a trailing space.
    ['workers', '7 ::1 - : \n.\n', [{ fd: 7, ip: '::1', clientId: null, functions: [''] }]],
    [
      'workers',
      '7 ::1 - : a  b\n.\n',
      [{ fd: 7, ip: '::1', clientId: null, functions: ['a', '', 'b'] }],
    ],
  ])('parses a %s reply %j', (command, text, value) => {
    expect(parse([command], [Buffer.from(text)])).toEqual([{ command, value }]);
  });

  test.each([
    ['ERR UNKNOWN_JOB', 'UNKNOWN_JOB', 'UNKNOWN_JOB'],
    ['ERR QUEUE_ERROR a+b+c', 'QUEUE_ERROR', 'QUEUE_ERROR: a b c'],
    ['ERR function not found', 'FUNCTION_NOT_FOUND', 'function not found'],
    // An unknown sentence is its own code (errors.ts, AdminError.adminCode).
    ['ERR something odd happened', 'something odd happened', 'something odd happened'],
    // A lookup by sentence must not find Object.prototype's members.
    ['ERR constructor', 'constructor', 'constructor'],
  ])('turns %j into an AdminError with adminCode %j', (line, adminCode, message) => {
    expect(parse(['drop function'], [Buffer.from(`${line}\r\n`)])).toEqual([
      adminError('drop function', adminCode, message),
    ]);
  });

  test.each<[AdminCommandName, string]>([
    ['getpid', 'OK\n'], // a value command needs a value
    ['getpid', 'OK abc\n'],
    ['cancel job', 'OK 5\r\n'],
    ['cancel job', 'fn\t1\t0\t0\n'], // a list where a status line belongs: the FIFO is off
    ['version', 'ERR\r\n'],
    ['status', 'fn\t1\t0\n.\n'],
    ['status', 'fn\t1\tx\t0\n.\n'],
    ['prioritystatus', 'fn\t1\t2\t3\n.\n'],
    ['show jobs', 'H:1\t0\t-1\t0\n.\n'],
    ['workers', 'x 127.0.0.1 - :\n.\n'],
    ['workers', '7 127.0.0.1 -\n.\n'],
  ])('refuses a %s reply %j with BAD_RESPONSE', (command, text) => {
    const parser = new AdminResponseParser();
    const replies: AdminReply[] = [];
    parser.expect(command, (reply) => replies.push(reply));
    const error = thrown(() => parser.push(Buffer.from(text)));
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: 'ERR_PROTOCOL', reason: 'BAD_RESPONSE' });
    expect(replies).toEqual([{ ok: false, command, error }]);
  });

  test('refuses bytes that arrive with no command pending, even without a line end', () => {
    const parser = new AdminResponseParser();
    expect(() => parser.push(Buffer.from('O'))).toThrow(
      expect.objectContaining({ reason: 'BAD_RESPONSE' }),
    );
    const second = new AdminResponseParser();
    second.expect('getpid', () => {});
    expect(() => second.push(Buffer.from('OK 1\nOK 2\n'))).toThrow(/no command pending/);
  });

  test('accepts a line of exactly maxLineLength bytes', () => {
    const text = `OK ${'x'.repeat(97)}`;
    expect(parse(['verbose'], [Buffer.from(`${text}\n`)], { maxLineLength: 100 })).toEqual([
      { command: 'verbose', value: 'x'.repeat(97) },
    ]);
  });

  test('refuses a longer line with LINE_TOO_LONG, whole or in pieces, holding no more', () => {
    const line = Buffer.from(`OK ${'x'.repeat(98)}\n`);
    for (const chunks of [[line], everyByte(line), splitAt(line, 100), splitAt(line, 101)]) {
      const parser = new AdminResponseParser({ maxLineLength: 100 });
      parser.expect('verbose', () => {});
      let error: unknown;
      for (const chunk of chunks) {
        try {
          parser.push(chunk);
        } catch (caught) {
          error = caught;
          break;
        }
        expect(parser.bufferedBytes).toBeLessThanOrEqual(100);
      }
      expect(error).toBeInstanceOf(ProtocolError);
      expect(error).toMatchObject({ reason: 'LINE_TOO_LONG' });
      expect(parser.bufferedBytes).toBe(0);
    }
  });

  test('refuses an endless line at the limit, not at the end of the stream', () => {
    const parser = new AdminResponseParser();
    parser.expect('version', () => {});
    const chunk = Buffer.alloc(1024, 0x78);
    let pushed = 0;
    const error = thrown(() => {
      for (;;) {
        parser.push(chunk);
        pushed += chunk.length;
      }
    });
    expect(error).toMatchObject({ reason: 'LINE_TOO_LONG' });
    expect(pushed).toBe(64 * 1024); // default maxLineLength: the 65th KiB is refused
  });

  test('accepts a list of exactly maxListBytes and refuses one byte more with TOO_LARGE', () => {
    const list = 'a\nb\n.\n'; // 6 bytes
    expect(parse(['show unique jobs'], [Buffer.from(list)], { maxListBytes: 6 })).toEqual([
      { command: 'show unique jobs', value: ['a', 'b'] },
    ]);
    for (const chunks of [[Buffer.from(list)], everyByte(Buffer.from(list))]) {
      const parser = new AdminResponseParser({ maxListBytes: 5 });
      parser.expect('show unique jobs', () => {});
      const error = thrown(() => {
        for (const chunk of chunks) parser.push(chunk);
      });
      expect(error).toBeInstanceOf(ProtocolError);
      expect(error).toMatchObject({ reason: 'TOO_LARGE' });
    }
  });

  test('refuses a partial row that passes maxListBytes before its line end arrives', () => {
    const parser = new AdminResponseParser({ maxLineLength: 100, maxListBytes: 10 });
    parser.expect('show unique jobs', () => {});
    parser.push(Buffer.from('a\n'));
    const error = thrown(() => parser.push(Buffer.from('b'.repeat(9))));
    expect(error).toMatchObject({ reason: 'TOO_LARGE' });
  });

  test('refuses an endless list of short lines once it passes maxListBytes', () => {
    const parser = new AdminResponseParser({ maxListBytes: 10_000 });
    parser.expect('show unique jobs', () => {});
    const chunk = Buffer.from('unique-0123456789\n');
    let pushed = 0;
    const error = thrown(() => {
      for (;;) {
        parser.push(chunk);
        pushed += chunk.length;
        expect(parser.bufferedBytes).toBeLessThanOrEqual(10_000);
      }
    });
    expect(error).toMatchObject({ reason: 'TOO_LARGE' });
    expect(pushed).toBeLessThanOrEqual(10_000);
  });

  test('after a ProtocolError, delivers earlier replies, fails the rest and stays failed', () => {
    const parser = new AdminResponseParser();
    const replies: Summary[] = [];
    for (const command of ['getpid', 'version', 'verbose'] as const) {
      parser.expect(command, (reply) => replies.push(summarize(reply)));
    }
    const error = thrown(() => parser.push(Buffer.from('OK 1\nbogus\nOK INFO\n')));
    expect(error).toMatchObject({ reason: 'BAD_RESPONSE' });
    const failure = summarizeError(error as ProtocolError);
    expect(replies).toEqual([
      { command: 'getpid', value: 1 },
      { command: 'version', error: failure },
      { command: 'verbose', error: failure },
    ]);
    expect(parser.pending).toBe(0);
    expect(thrown(() => parser.push(Buffer.from('OK 2\n')))).toBe(error);
    expect(thrown(() => parser.expect('getpid', () => {}))).toBe(error);
  });

  test('abort() fails every pending command in order and ends the parser', () => {
    const parser = new AdminResponseParser();
    const order: string[] = [];
    const closed = new ConnectionError('socket closed', { maybeRan: true });
    parser.expect('status', (r) => order.push(`status:${!r.ok && r.error === closed}`));
    parser.expect('getpid', (r) => order.push(`getpid:${!r.ok && r.error === closed}`));
    parser.push(Buffer.from('fn\t1\t0')); // a partial list row
    parser.abort(closed);
    expect(order).toEqual(['status:true', 'getpid:true']);
    expect(parser.bufferedBytes).toBe(0);
    expect(thrown(() => parser.expect('getpid', () => {}))).toBe(closed);
    parser.abort(new ConnectionError('again', { maybeRan: false })); // no-op, no second delivery
    expect(order).toHaveLength(2);
  });

  test('a throwing handler does not keep later replies from their handlers', () => {
    const parser = new AdminResponseParser();
    const values: unknown[] = [];
    const boom = new Error('handler bug');
    parser.expect('getpid', () => {
      throw boom;
    });
    parser.expect('verbose', (r) => values.push(r.ok && r.value));
    expect(thrown(() => parser.push(Buffer.from('OK 1\nOK INFO\n')))).toBe(boom);
    expect(values).toEqual(['INFO']);
    parser.expect('getpid', (r) => values.push(r.ok && r.value)); // still usable
    parser.push(Buffer.from('OK 9\n'));
    expect(values).toEqual(['INFO', 9]);
  });

  test('refuses an unknown command name and bad limits', () => {
    const parser = new AdminResponseParser();
    const error = thrown(() => parser.expect('reboot' as AdminCommandName, () => {}));
    expect(error).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', field: 'command' });
    expect(thrown(() => parser.expect('toString' as AdminCommandName, () => {}))).toBeInstanceOf(
      InvalidArgumentError,
    );
    for (const options of [
      { maxLineLength: 0 },
      { maxListBytes: 1.5 },
      { maxLineLength: Number.NaN },
    ]) {
      expect(() => new AdminResponseParser(options)).toThrow(InvalidArgumentError);
    }
  });

  test('throws nothing but ProtocolError on arbitrary input', () => {
    const names: AdminCommandName[] = [
      'status',
      'prioritystatus',
      'workers',
      'show jobs',
      'show unique jobs',
      'cancel job',
      'maxqueue',
      'getpid',
      'version',
      'verbose',
    ];
    const text = fc.string({
      unit: fc.constantFrom(
        'O',
        'K',
        'E',
        'R',
        ' ',
        '\t',
        '\r',
        '\n',
        '.',
        '1',
        '-',
        ':',
        'x',
        '+',
      ),
    });
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...names), { maxLength: 8 }),
        fc.array(text, { maxLength: 6 }),
        (commands, chunks) => {
          const parser = new AdminResponseParser({ maxLineLength: 16, maxListBytes: 64 });
          const delivered = commands.map(() => 0);
          commands.forEach((command, i) => {
            parser.expect(command, () => {
              delivered[i] = (delivered[i] ?? 0) + 1;
            });
          });
          try {
            for (const chunk of chunks) parser.push(Buffer.from(chunk));
          } catch (error) {
            expect(error).toBeInstanceOf(ProtocolError);
            expect(delivered.every((n) => n === 1)).toBe(true); // everyone heard the outcome
            return;
          }
          expect(delivered.every((n) => n <= 1)).toBe(true);
          expect(delivered.filter((n) => n === 0)).toHaveLength(parser.pending);
        },
      ),
      { seed: 20, numRuns: 2000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('parseAdminRequest', () => {
  test.each<[string, AdminCommand]>([
    ['STATUS', { command: 'status' }],
    ['status  ', { command: 'status' }], // trailing spaces
    ['Version extra words', { command: 'version' }],
    ['cancel  job H:x:1', { command: 'cancel job', handle: 'H:x:1' }], // runs of spaces
    ['cancel  job  H:x ', { command: 'cancel job', handle: 'H:x' }],
    ['create function a\tb', { command: 'create function', functionName: 'a\tb' }], // no tabs
    ['Cancel JOB H:x:1\r', { command: 'cancel job', handle: 'H:x:1' }],
    ['show UNIQUE jobs', { command: 'show unique jobs' }],
    ['maxqueue f', { command: 'maxqueue', functionName: 'f' }],
    ['maxqueue f 5', { command: 'maxqueue', functionName: 'f', limits: 5 }],
    [
      'maxqueue f -5 abc',
      { command: 'maxqueue', functionName: 'f', limits: { high: 0, normal: 0 } },
    ],
    [
      'maxqueue f 1 2 3',
      { command: 'maxqueue', functionName: 'f', limits: { high: 1, normal: 2, low: 3 } },
    ],
    [
      'maxqueue f 7x 99999999999',
      { command: 'maxqueue', functionName: 'f', limits: { high: 7, normal: 2147483647 } },
    ],
    [
      'maxqueue f -1 x 7z',
      { command: 'maxqueue', functionName: 'f', limits: { high: 0, normal: 0, low: 7 } },
    ],
    // atoi skips leading whitespace; a tab is the only kind a word can start with.
    ['maxqueue f \t5', { command: 'maxqueue', functionName: 'f', limits: 5 }],
    ['shutdown', { command: 'shutdown' }],
    ['SHUTDOWN graceful', { command: 'shutdown', graceful: true }],
  ])('parses %j', (line, command) => {
    expect(parseAdminRequest(line)).toEqual({ ok: true, command });
  });

  test.each([
    ['', 'ERR UNKNOWN_COMMAND Unknown+server+command\r\n'],
    [' status', 'ERR UNKNOWN_COMMAND Unknown+server+command\r\n'], // leading space: empty word
    ['show', 'ERR UNKNOWN_COMMAND Unknown+server+commandshow\r\n'],
    ['Bogus', 'ERR UNKNOWN_COMMAND Unknown+server+commandBogus\r\n'],
    ['show jobs x', 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n'],
    ['cancel x y', 'ERR UNKNOWN_ERROR\r\n'],
    [
      'Create function',
      'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+Create\r\n',
    ],
    [
      'create function a b',
      'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n',
    ],
    [
      'shutdown now',
      'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+shutdown\r\n',
    ],
  ])('answers %j as gearmand does: %j', (line, reply) => {
    const parsed = parseAdminRequest(line);
    if (parsed.ok) return expect.unreachable(`parsed as ${parsed.command.command}`);
    expect(parsed.error).toBeInstanceOf(AdminError);
    expect(parsed.close).toBe(false);
    expect(encodeAdminError(parsed.error)).toBe(reply);
  });

  test.each(['a b c d e f', 'maxqueue f 1 2 3 4', 'status a b c d e'])(
    'asks to drop the connection on %j (six words or more), as gearmand does',
    (line) => {
      const parsed = parseAdminRequest(line);
      if (parsed.ok) return expect.unreachable(`parsed as ${parsed.command.command}`);
      expect(parsed.close).toBe(true);
      expect(parsed.error).toBeInstanceOf(AdminError);
      // What to send anyway, if a server answers instead of dropping the connection.
      expect(encodeAdminError(parsed.error)).toBe('ERR INVALID_ARGUMENTS more+than+5+words\r\n');
    },
  );

  test('accepts five words', () => {
    expect(parseAdminRequest('a b c d e')).toMatchObject({ ok: false, close: false });
    expect(parseAdminRequest('status a b c d')).toEqual({
      ok: true,
      command: { command: 'status' },
    });
  });

  test('parses back every command the encoder produces', () => {
    const word = fc.string({
      unit: fc.constantFrom('a', 'Z', '9', ':', '-', 'é', '\t'),
      minLength: 1,
      maxLength: 20,
    });
    const limit = fc.integer({ min: 0, max: 2147483647 });
    const command: fc.Arbitrary<AdminCommand> = fc.oneof(
      fc.constantFrom<AdminCommand>(
        { command: 'status' },
        { command: 'prioritystatus' },
        { command: 'workers' },
        { command: 'show jobs' },
        { command: 'show unique jobs' },
        { command: 'getpid' },
        { command: 'version' },
        { command: 'verbose' },
        { command: 'shutdown' },
        { command: 'shutdown', graceful: true },
      ),
      word.map((handle) => ({ command: 'cancel job', handle }) as const),
      word.map((functionName) => ({ command: 'create function', functionName }) as const),
      word.map((functionName) => ({ command: 'drop function', functionName }) as const),
      fc.record(
        {
          command: fc.constant('maxqueue' as const),
          functionName: word,
          limits: fc.option(
            fc.oneof(
              limit,
              fc.record({ high: limit, normal: limit }),
              fc.record({ high: limit, normal: limit, low: limit }),
            ),
            { nil: undefined },
          ),
        },
        { requiredKeys: ['command', 'functionName'] },
      ),
    );
    fc.assert(
      fc.property(command, (cmd) => {
        const line = encodeAdminCommand(cmd);
        const parsed = parseAdminRequest(line.slice(0, -2));
        const expected =
          cmd.command === 'maxqueue' && cmd.limits === undefined
            ? { command: 'maxqueue', functionName: cmd.functionName }
            : cmd;
        expect(parsed).toEqual({ ok: true, command: expected });
      }),
      { seed: 8, numRuns: 500 },
    );
  });
});

describe('encodeAdminReply and encodeAdminError', () => {
  test('encode what the parser reads back', () => {
    const name = fc.string({ unit: fc.constantFrom('a', 'b', '-', ' ', '\t', 'é'), maxLength: 12 });
    const count = fc.nat({ max: 0xffffffff });
    const status = fc
      .tuple(name, count, count, count)
      .map(([functionName, a, b, availableWorkers]): FunctionStatus => {
        const [running, total] = a <= b ? [a, b] : [b, a];
        return { functionName, queued: total - running, running, total, availableWorkers };
      });
    const worker = fc.record({
      fd: fc.nat(),
      ip: fc.constantFrom('127.0.0.1', '::1'),
      clientId: fc.option(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/), { nil: null }),
      functions: fc.array(fc.stringMatching(/^[a-z-]{0,6}$/), { maxLength: 4 }),
    });
    const job = fc.record({
      handle: fc.stringMatching(/^H:[a-z]+:\d{1,5}$/),
      retries: count,
      ignored: fc.boolean(),
      persisted: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(status, { maxLength: 5 }),
        fc.array(worker, { maxLength: 5 }),
        fc.array(job, { maxLength: 5 }),
        (statuses, workers, jobs) => {
          const text =
            encodeAdminReply('status', statuses) +
            encodeAdminReply('workers', workers) +
            encodeAdminReply('show jobs', jobs);
          expect(parse(['status', 'workers', 'show jobs'], [Buffer.from(text)])).toEqual([
            { command: 'status', value: statuses },
            { command: 'workers', value: workers },
            { command: 'show jobs', value: jobs },
          ]);
        },
      ),
      { seed: 30, numRuns: 300 },
    );
  });

  test('encode errors the way gearmand writes them', () => {
    expect(encodeAdminError('UNKNOWN_JOB')).toBe('ERR UNKNOWN_JOB\r\n');
    expect(encodeAdminError('QUEUE_ERROR', 'queue is full')).toBe(
      'ERR QUEUE_ERROR queue+is+full\r\n',
    );
    expect(encodeAdminError('FUNCTION_HAS_WORKERS')).toBe(
      'ERR there are still connected workers or executing clients\r\n',
    );
    expect(encodeAdminError('FUNCTION_NOT_FOUND')).toBe('ERR function not found\r\n');
    // A message must not end the line early.
    expect(encodeAdminError(new AdminError('X', 'two\r\nlines'))).toBe('ERR X two++lines\r\n');
    expect(
      encodeAdminReply('prioritystatus', [
        { functionName: 'f', high: 1, normal: 2, low: 3, availableWorkers: 4 },
      ]),
    ).toBe('f\t1\t2\t3\t4\n.\n');
    expect(encodeAdminReply('show unique jobs', ['a', ''])).toBe('a\n\n.\n');
    expect(encodeAdminReply('maxqueue', undefined)).toBe('OK\r\n');
    expect(encodeAdminReply('verbose', 'INFO')).toBe('OK INFO\n');
  });
});
