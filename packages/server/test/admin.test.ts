import { describe, expect, test } from 'vitest';
import {
  type AdminCommand,
  type AdminContext,
  executeAdmin,
  formatJobs,
  formatPriorityStatus,
  formatStatus,
  formatUniqueJobs,
  formatWorkers,
  parseAdminLine,
  splitAdminLine,
} from '../src/admin.js';
import { HIGH, JobStore, LOW, NORMAL, type QueueLimits } from '../src/jobs.js';
import { TestPeer } from './test-peer.js';

describe('splitAdminLine', () => {
  test('splits on spaces, runs of spaces counting as one after the first word', () => {
    expect(splitAdminLine('cancel  job  H:x ')).toEqual(['cancel', 'job', 'H:x']);
    expect(splitAdminLine(' status')).toEqual(['', 'status']);
    expect(splitAdminLine('')).toEqual(['']);
    expect(splitAdminLine('create function a\tb')).toEqual(['create', 'function', 'a\tb']);
  });
});

// Observed from gearmand 1.1.20 (protocol.md 9.2 and the probes behind it).
const parses: [line: string, command: AdminCommand][] = [
  ['status', { name: 'status' }],
  ['STATUS', { name: 'status' }],
  ['status extra words', { name: 'status' }],
  ['prioritystatus', { name: 'prioritystatus' }],
  ['workers', { name: 'workers' }],
  ['show jobs', { name: 'show jobs' }],
  ['Show Jobs', { name: 'show jobs' }],
  ['show unique jobs', { name: 'show unique jobs' }],
  ['SHOW UNIQUE JOBS', { name: 'show unique jobs' }],
  ['cancel job H:box:1', { name: 'cancel job', handle: 'H:box:1' }],
  ['CANCEL JOB H:box:1', { name: 'cancel job', handle: 'H:box:1' }],
  ['create function resize', { name: 'create function', functionName: 'resize' }],
  ['drop function resize', { name: 'drop function', functionName: 'resize' }],
  ['maxqueue f', { name: 'maxqueue', functionName: 'f', limits: [0, 0, 0] }],
  ['maxqueue f 5', { name: 'maxqueue', functionName: 'f', limits: [5, 5, 5] }],
  ['maxqueue f 3 2', { name: 'maxqueue', functionName: 'f', limits: [3, 2, 0] }],
  ['maxqueue f 3 2 1', { name: 'maxqueue', functionName: 'f', limits: [3, 2, 1] }],
  ['maxqueue f -1 x 7z', { name: 'maxqueue', functionName: 'f', limits: [0, 0, 7] }],
  ['getpid', { name: 'getpid' }],
  ['getpid x y', { name: 'getpid' }],
  ['version', { name: 'version' }],
  ['verbose', { name: 'verbose' }],
  ['shutdown', { name: 'shutdown', graceful: false }],
  ['shutdown graceful', { name: 'shutdown', graceful: true }],
  ['SHUTDOWN GRACEFUL', { name: 'shutdown', graceful: true }],
];

const errors: [line: string, response: string][] = [
  ['foo bar', 'ERR UNKNOWN_COMMAND Unknown+server+commandfoo\r\n'],
  ['', 'ERR UNKNOWN_COMMAND Unknown+server+command\r\n'],
  [' status', 'ERR UNKNOWN_COMMAND Unknown+server+command\r\n'],
  ['show', 'ERR UNKNOWN_COMMAND Unknown+server+commandshow\r\n'],
  ['show foo', 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n'],
  ['show jobs x', 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n'],
  ['show unique', 'ERR UNKNOWN_SHOW_ARGUMENTS\r\n'],
  ['cancel', 'ERR UNKNOWN_COMMAND Unknown+server+commandcancel\r\n'],
  ['cancel job', 'ERR UNKNOWN_COMMAND Unknown+server+commandcancel\r\n'],
  ['cancel foo bar', 'ERR UNKNOWN_ERROR\r\n'],
  ['cancel job a b', 'ERR UNKNOWN_ERROR\r\n'],
  [
    'create',
    'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n',
  ],
  [
    'create function',
    'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n',
  ],
  [
    'create x y',
    'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n',
  ],
  [
    'create function a b',
    'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+create\r\n',
  ],
  [
    'drop',
    'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+drop\r\n',
  ],
  [
    'maxqueue',
    'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\r\n',
  ],
  ['shutdown now', 'ERR UNKNOWN_ARGS Unknown+arguments+to+server+command\r\n'],
];

describe('parseAdminLine', () => {
  for (const [line, command] of parses) {
    test(`parses ${JSON.stringify(line)}`, () => expect(parseAdminLine(line)).toEqual(command));
  }
  for (const [line, response] of errors) {
    test(`answers ${JSON.stringify(line)} with ${JSON.stringify(response.trim())}`, () => {
      expect(parseAdminLine(line)).toEqual({ name: 'error', response });
    });
  }
  test('drops the connection on six words or more, as gearmand does', () => {
    expect(parseAdminLine('a b c d e f')).toEqual({ name: 'disconnect' });
    expect(parseAdminLine('maxqueue f 1 2 3 4')).toEqual({ name: 'disconnect' });
    expect(parseAdminLine('a b c d e')).not.toEqual({ name: 'disconnect' });
  });
});

function fixture() {
  const store = new JobStore('H:box');
  const client = new TestPeer('127.0.0.1');
  const worker = new TestPeer('10.0.0.2');
  const submit = (functionName: string, unique: string, priority = NORMAL, background = false) => {
    const result = store.submit(
      { functionName, unique, payload: Buffer.from('x'), priority, background },
      background ? undefined : client,
    );
    if (!result.ok || !result.created) throw new Error('not created');
    store.enqueue(result.job);
    return result.job;
  };
  const resize = store.function('resize');
  const mail = store.function('mail');
  worker.clientId = 'worker-1';
  worker.registrations.push({ fn: resize, timeout: 0 }, { fn: mail, timeout: 0 });
  resize.registrations = 1;
  mail.registrations = 1;
  submit('resize', 'a', HIGH);
  submit('resize', '', NORMAL, true);
  submit('resize', 'c', LOW);
  const running = store.take(resize);
  if (running) {
    running.state = 'running';
    running.worker = worker;
    resize.running++;
  }
  submit('mail', 'm', NORMAL, true);
  return { store, client, worker };
}

describe('formatters', () => {
  test('status: function, total, running, workers', () => {
    const { store } = fixture();
    expect(formatStatus(store.functions.values())).toBe('resize\t3\t1\t1\nmail\t1\t0\t1\n.\n');
  });

  test('prioritystatus: queued jobs per priority, then workers', () => {
    const { store } = fixture();
    expect(formatPriorityStatus(store.functions.values())).toBe(
      'resize\t0\t1\t1\t1\nmail\t0\t1\t0\t1\n.\n',
    );
  });

  test('workers: id address client-id : functions newest first', () => {
    const { client, worker } = fixture();
    expect(formatWorkers([worker, client])).toBe(
      `${worker.id} 10.0.0.2 worker-1 : mail resize\n${client.id} 127.0.0.1 - :\n.\n`,
    );
  });

  test('show jobs: handle, retries, ignored, persisted', () => {
    const { store } = fixture();
    const [first] = store.jobs.values();
    if (first) first.retries = 2;
    expect(formatJobs(store.jobs.values())).toBe(
      'H:box:1\t2\t0\t0\nH:box:2\t0\t0\t1\nH:box:3\t0\t0\t0\nH:box:4\t0\t0\t1\n.\n',
    );
  });

  test('show unique jobs: one unique a line, empty ones included', () => {
    const { store } = fixture();
    expect(formatUniqueJobs(store.jobs.values())).toBe('a\n\nc\nm\n.\n');
  });

  test('empty lists are a lone dot', () => {
    expect(formatStatus([])).toBe('.\n');
    expect(formatWorkers([])).toBe('.\n');
  });
});

describe('executeAdmin', () => {
  function context(overrides: Partial<AdminContext> = {}): AdminContext & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      functions: () => [],
      peers: () => [],
      jobs: () => [],
      cancelJob: (handle) => handle === 'H:known',
      createFunction: (name) => void calls.push(`create ${name}`),
      dropFunction: (name) => (name === 'busy' ? 'busy' : name === 'gone' ? 'dropped' : 'missing'),
      setMaxQueue: (name: string, limits: QueueLimits) =>
        void calls.push(`maxqueue ${name} ${limits.join(' ')}`),
      shutdown: (graceful) => void calls.push(`shutdown ${graceful}`),
      pid: 1234,
      version: '1.1.20+gearmanode.0.1.0',
      verbose: 'ERROR',
      ...overrides,
    };
  }
  const run = (line: string, ctx = context()) => executeAdmin(parseAdminLine(line), ctx);

  test('value commands answer OK <value>\\n', () => {
    expect(run('getpid')).toBe('OK 1234\n');
    expect(run('version')).toBe('OK 1.1.20+gearmanode.0.1.0\n');
    expect(run('verbose')).toBe('OK ERROR\n');
  });

  test('cancel job answers OK or ERR UNKNOWN_JOB', () => {
    expect(run('cancel job H:known')).toBe('OK\r\n');
    expect(run('cancel job H:other')).toBe('ERR UNKNOWN_JOB\r\n');
  });

  test('drop function answers with gearmand sentences', () => {
    expect(run('drop function gone')).toBe('OK\r\n');
    expect(run('drop function busy')).toBe(
      'ERR there are still connected workers or executing clients\r\n',
    );
    expect(run('drop function nope')).toBe('ERR function not found\r\n');
  });

  test('create function and maxqueue answer OK and reach the context', () => {
    const ctx = context();
    expect(run('create function f', ctx)).toBe('OK\r\n');
    expect(run('maxqueue f 3 2', ctx)).toBe('OK\r\n');
    expect(ctx.calls).toEqual(['create f', 'maxqueue f 3 2 0']);
  });

  test('shutdown answers OK and asks the context to shut down', () => {
    const ctx = context();
    expect(run('shutdown graceful', ctx)).toBe('OK\r\n');
    expect(ctx.calls).toEqual(['shutdown true']);
  });

  test('six words return undefined: drop the connection', () => {
    expect(run('a b c d e f')).toBeUndefined();
  });
});
