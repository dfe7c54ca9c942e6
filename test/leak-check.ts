import { createHook } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach } from 'vitest';

/**
 * Leak checks for tests: did every handle and timer a test opened get closed?
 *
 * Two views, both checked:
 *
 * - An async hook records every timer and handle created after the snapshot, with where it was
 *   created, until it is destroyed. It sees unref()ed resources too, which matters here:
 *   gearmanode unrefs its heartbeat and reconnect timers so that they never hold a process
 *   open. Resources that vitest creates for itself (a timeout per test and hook, its RPC
 *   timers) are told apart by the code that created them, and left out.
 * - `process.getActiveResourcesInfo()`, counted per type: everything that keeps the event loop
 *   alive, including what existed before the snapshot. It lists no unref()ed resources and
 *   cannot tell whose a resource is, so vitest's own timers coming and going can hide a leak
 *   from it, which is why it is the second view and not the only one.
 */

/** Options of {@link snapshotResources}. */
export interface LeakCheckOptions {
  /**
   * Resource types not to check, as the async hook or getActiveResourcesInfo() name them,
   * e.g. `['PROCESSWRAP', 'ProcessWrap']` around a test that leaves a server running.
   */
  ignore?: readonly string[];
  /** How long to wait for resources to close, in ms, before reporting them. @default 1000 */
  settle?: number;
}

/** Taken by {@link snapshotResources}; `assertNoNewResources()` compares against it. */
export interface ResourceSnapshot {
  /** getActiveResourcesInfo() counted per type at the snapshot. */
  readonly active: ReadonlyMap<string, number>;
  /** Timers and handles created since the snapshot and still open, vitest's own left out. */
  created(): { type: string; createdAt: string }[];
  /**
   * Waits up to `settle` ms until no timer or handle created since the snapshot is open and no
   * type counts more active resources than at the snapshot; rejects naming what is left open
   * and where it was created.
   */
  assertNoNewResources(options?: LeakCheckOptions): Promise<void>;
}

// The async hook types that are handles or timers, i.e. last until someone closes or clears
// them. Requests (connects, writes, DNS lookups), ticks and promises end on their own. TLSWRAP
// is left out: it is destroyed by the garbage collector, not by close(), and the TCPWRAP under
// every TLS socket is what holds the file descriptor.
const TRACKED_TYPES = new Set([
  'Timeout',
  'Immediate',
  'TCPWRAP',
  'TCPSERVERWRAP',
  'PIPEWRAP',
  'PIPESERVERWRAP',
  'UDPWRAP',
  'PROCESSWRAP',
  'SIGNALWRAP',
  'TTYWRAP',
  'FSEVENTWRAP',
  'STATWATCHER',
  'MESSAGEPORT',
  'WORKER',
]);

interface Tracked {
  type: string;
  /** Creation order, to tell what came after a snapshot. */
  seq: number;
  /** Holds the creation stack; V8 formats it only if `.stack` is read, i.e. for a leak. */
  origin: { stack?: string };
}

// Every tracked resource alive and created since tracking began (the first snapshot). The hook
// is never disabled, so the order numbers stay comparable across snapshots.
const live = new Map<number, Tracked>();
let seq = 0;
let tracking = false;
// Set while the check makes its own settle timer, which is not the test's to close.
let sleeping = false;

function startTracking(): void {
  if (tracking) return;
  tracking = true;
  createHook({
    init(asyncId, type) {
      if (!TRACKED_TYPES.has(type) || sleeping) return;
      const origin: { stack?: string } = {};
      // The frames of async_hooks and timers come first; keep enough to reach the caller.
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 30;
      Error.captureStackTrace(origin);
      Error.stackTraceLimit = limit;
      live.set(asyncId, { type, seq: ++seq, origin });
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  }).enable();
}

const THIS_FILE = fileURLToPath(import.meta.url);
const VITEST = /[\\/]node_modules[\\/](?:@vitest|vitest|tinypool|birpc|tinyspy)[\\/]/;

/** The first stack frame outside Node's internals and this file: the code that asked for it. */
function creator(origin: { stack?: string }): string {
  const frames = (origin.stack ?? '').split('\n').slice(1);
  for (const frame of frames) {
    const text = frame.trim().replace(/^at /, '');
    // `new Promise (<anonymous>)` and the like name no file: look further down.
    const hasFile = text.includes('/') || text.includes('\\');
    if (!hasFile || text.includes('node:') || text.includes(THIS_FILE)) continue;
    return text;
  }
  // E.g. a socket a server accepted, or a server whose listen() waited for a DNS lookup.
  return 'a callback inside Node (no caller in the stack)';
}

function countBy(types: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of types) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** `Timeout +1, TCPSocketWrap +2` for every type that counts more now than before. */
function growth(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  ignore: ReadonlySet<string>,
): string[] {
  const grown: string[] = [];
  for (const [type, count] of after) {
    const extra = count - (before.get(type) ?? 0);
    if (extra > 0 && !ignore.has(type)) grown.push(`${type} +${extra}`);
  }
  return grown;
}

/**
 * Records what is open now; `assertNoNewResources()` later checks that everything opened
 * since was closed again. The first call starts an async hook that stays on for the rest of
 * the process (it slows promise-heavy code somewhat; fine in tests).
 *
 * @example
 * const leaks = snapshotResources();
 * const connection = new Connection({ address });
 * await connection.connect();
 * await connection.close();
 * await leaks.assertNoNewResources();
 */
export function snapshotResources(defaults: LeakCheckOptions = {}): ResourceSnapshot {
  startTracking();
  const since = seq;
  const active = countBy(process.getActiveResourcesInfo());
  const created = (ignore: ReadonlySet<string> = new Set()) => {
    const found: { type: string; createdAt: string }[] = [];
    for (const resource of live.values()) {
      if (resource.seq <= since || ignore.has(resource.type)) continue;
      const createdAt = creator(resource.origin);
      if (!VITEST.test(createdAt)) found.push({ type: resource.type, createdAt });
    }
    return found;
  };
  return {
    active,
    created: () => created(),
    async assertNoNewResources(options: LeakCheckOptions = {}): Promise<void> {
      const settle = options.settle ?? defaults.settle ?? 1000;
      const ignore = new Set([...(defaults.ignore ?? []), ...(options.ignore ?? [])]);
      const deadline = Date.now() + settle;
      for (;;) {
        // Both looked at before the sleep below adds a timer of its own.
        const left = created(ignore).map(
          ({ type, createdAt }) => `${type} created at ${createdAt}`,
        );
        const grown = growth(active, countBy(process.getActiveResourcesInfo()), ignore);
        if (left.length === 0 && grown.length === 0) return;
        if (Date.now() >= deadline) {
          const lines = [...countBy(left)].map(([line, n]) => (n > 1 ? `${line} (${n}x)` : line));
          if (grown.length > 0) lines.push(`active: ${grown.join(', ')}`);
          throw new Error(`resources left open after ${settle} ms:\n  ${lines.join('\n  ')}`);
        }
        // Closing takes a few turns of the event loop: close callbacks, destroy hooks.
        sleeping = true;
        const pause = sleep(10);
        sleeping = false;
        await pause;
      }
    },
  };
}

/**
 * Registers a `beforeEach` that snapshots resources and an `afterEach` that asserts none were
 * left open. Call it at the top of a file or inside a `describe`, before registering the
 * `afterEach` hooks that close things: vitest runs after-hooks in reverse order, so this one
 * then runs last. A test that already failed is not checked: it stopped halfway, and its leak
 * would only hide the real error.
 */
export function checkLeaksAfterEach(options: LeakCheckOptions = {}): void {
  let snapshot: ResourceSnapshot | undefined;
  beforeEach(() => {
    snapshot = snapshotResources(options);
  });
  afterEach(async (context) => {
    const taken = snapshot;
    snapshot = undefined;
    if (taken === undefined || context.task.result?.state === 'fail') return;
    await taken.assertNoNewResources();
  });
}
