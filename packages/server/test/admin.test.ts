import { describe, expect, test } from 'vitest';
import { type AdminContext, runAdminLine } from '../src/admin.js';
import { JobStore } from '../src/job-store.js';
import { HIGH, LOW, NORMAL, type QueueLimits } from '../src/model.js';
import { TestPeer } from './test-peer.js';

/** A context with nothing in it that records the commands reaching it. */
function context(overrides: Partial<AdminContext> = {}): AdminContext & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    functions: () => [],
    peers: () => [],
    jobs: () => [],
    persisted: (job) => job.background,
    cancelJob: (handle) => {
      calls.push(`cancel ${handle}`);
      return handle === 'H:known';
    },
    createFunction: (name) => void calls.push(`create ${name}`),
    dropFunction: (name) => {
      calls.push(`drop ${name}`);
      return name === 'busy' ? 'busy' : name === 'gone' ? 'dropped' : 'missing';
    },
    setMaxQueue: (name: string, limits: QueueLimits) =>
      void calls.push(`maxqueue ${name} ${limits.join(' ')}`),
    shutdown: (graceful) => void calls.push(`shutdown ${graceful}`),
    pid: 1234,
    version: { raw: '1.1.20+gearmanode.0.1.0', version: '1.1.20' },
    verbose: 'ERROR',
    ...overrides,
  };
}

const run = (line: string, ctx: AdminContext = context()) => runAdminLine(line, ctx);

// Observed from gearmand 1.1.20 (protocol.md 9.2 and the probes behind it).
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
  // gearmand before 1.1.15, which still had `shutdown`: libgearman-server/text.cc, TEXT_ERROR_ARGS.
  [
    'shutdown now',
    'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+shutdown\r\n',
  ],
];

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
  const ctx = context({
    functions: () => store.functions.values(),
    peers: () => [worker, client],
    jobs: () => store.jobs.values(),
  });
  return { store, client, worker, ctx };
}

describe('list replies', () => {
  test('status: function, total, running, workers', () => {
    const { ctx } = fixture();
    expect(run('status', ctx)).toBe('resize\t3\t1\t1\nmail\t1\t0\t1\n.\n');
  });

  test('prioritystatus: queued jobs per priority, then workers', () => {
    const { ctx } = fixture();
    expect(run('prioritystatus', ctx)).toBe('resize\t0\t1\t1\t1\nmail\t0\t1\t0\t1\n.\n');
  });

  test('workers: id address client-id : functions newest first', () => {
    const { client, worker, ctx } = fixture();
    expect(run('workers', ctx)).toBe(
      `${worker.id} 10.0.0.2 worker-1 : mail resize\n${client.id} 127.0.0.1 - :\n.\n`,
    );
  });

  test('show jobs: handle, retries, ignored, persisted', () => {
    const { store, ctx } = fixture();
    const [first] = store.jobs.values();
    if (first) first.retries = 2;
    expect(run('show jobs', ctx)).toBe(
      'H:box:1\t2\t0\t0\nH:box:2\t0\t0\t1\nH:box:3\t0\t0\t0\nH:box:4\t0\t0\t1\n.\n',
    );
  });

  test('show jobs: with a store, only jobs whose row is committed are persisted', () => {
    const { store, ctx } = fixture();
    const handles = [...store.jobs.values()].map((job) => job.handle);
    const stored = context({ ...ctx, persisted: (job) => job.handle === handles[2] });
    expect(run('show jobs', stored)).toBe(
      'H:box:1\t0\t0\t0\nH:box:2\t0\t0\t0\nH:box:3\t0\t0\t1\nH:box:4\t0\t0\t0\n.\n',
    );
  });

  test('show unique jobs: one unique a line, empty ones included', () => {
    const { ctx } = fixture();
    expect(run('show unique jobs', ctx)).toBe('a\n\nc\nm\n.\n');
  });

  test('empty lists are a lone dot', () => {
    expect(run('status')).toBe('.\n');
    expect(run('workers')).toBe('.\n');
  });

  // Case, extra words after a list command and runs of spaces change nothing.
  test.each([
    ['STATUS', 'status'],
    ['status extra words', 'status'],
    ['Show Jobs', 'show jobs'],
    ['show  jobs ', 'show jobs'],
    ['SHOW UNIQUE JOBS', 'show unique jobs'],
  ])('%j answers as %j does', (line, canonical) => {
    const { ctx } = fixture();
    expect(run(line, ctx)).toBe(run(canonical, ctx));
  });
});

describe('runAdminLine', () => {
  test('value commands answer OK <value>\\n', () => {
    expect(run('getpid')).toBe('OK 1234\n');
    expect(run('getpid x y')).toBe('OK 1234\n');
    expect(run('version')).toBe('OK 1.1.20+gearmanode.0.1.0\n');
    expect(run('verbose')).toBe('OK ERROR\n');
  });

  test('cancel job answers OK or ERR UNKNOWN_JOB', () => {
    const ctx = context();
    expect(run('cancel job H:known', ctx)).toBe('OK\r\n');
    expect(run('CANCEL JOB H:other', ctx)).toBe('ERR UNKNOWN_JOB\r\n');
    expect(ctx.calls).toEqual(['cancel H:known', 'cancel H:other']);
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

  test.each([
    ['maxqueue f', '0 0 0'],
    ['maxqueue f 5', '5 5 5'],
    ['maxqueue f 3 2', '3 2 0'],
    ['maxqueue f 3 2 1', '3 2 1'],
    ['maxqueue f -1 x 7z', '0 0 7'],
  ])('%j sets the limits %s (high normal low)', (line, limits) => {
    const ctx = context();
    expect(run(line, ctx)).toBe('OK\r\n');
    expect(ctx.calls).toEqual([`maxqueue f ${limits}`]);
  });

  test('shutdown answers OK and asks the context to shut down', () => {
    const ctx = context();
    expect(run('shutdown', ctx)).toBe('OK\r\n');
    expect(run('shutdown graceful', ctx)).toBe('OK\r\n');
    expect(run('SHUTDOWN GRACEFUL', ctx)).toBe('OK\r\n');
    expect(ctx.calls).toEqual(['shutdown false', 'shutdown true', 'shutdown true']);
  });

  test.each(errors)('answers %j with %j and runs nothing', (line, response) => {
    const ctx = context();
    expect(run(line, ctx)).toBe(response);
    expect(ctx.calls).toEqual([]);
  });

  test('drops the connection on six words or more, as gearmand does', () => {
    expect(run('a b c d e f')).toBeUndefined();
    const ctx = context();
    expect(run('maxqueue f 1 2 3 4', ctx)).toBeUndefined();
    expect(ctx.calls).toEqual([]);
    expect(run('a b c d e')).toBe('ERR UNKNOWN_COMMAND Unknown+server+commanda\r\n');
  });
});
