import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { GrabLoop } from '../src/grab-loop.js';

const POLL = 1000;

function awakeLoop(maxWindow = 8): GrabLoop {
  const loop = new GrabLoop({ pollInterval: POLL, maxWindow });
  loop.connect();
  return loop;
}

/** Grabs once and gets NO_JOB, so the loop sleeps at `now`. */
function sleepAt(loop: GrabLoop, now: number): void {
  loop.grabSent();
  expect(loop.noJob(now)).toBe('pre-sleep');
}

describe('GrabLoop', () => {
  test('starts offline and grabs nothing until connected', () => {
    const loop = new GrabLoop({ pollInterval: POLL, maxWindow: 8 });
    expect(loop.state).toBe('offline');
    expect(loop.capacity()).toBe(0);
    expect(loop.noop(0)).toBe(false);
    expect(loop.tick(10 * POLL)).toBe(false);
    loop.connect();
    expect(loop.state).toBe('awake');
    expect(loop.capacity()).toBe(1);
  });

  test('allows one GRAB at first and doubles the window with every job up to maxWindow', () => {
    const loop = awakeLoop(8);
    loop.grabSent();
    expect(loop.capacity()).toBe(0);
    loop.assigned();
    expect(loop.window).toBe(2);
    expect(loop.capacity()).toBe(2);
    loop.grabSent();
    loop.grabSent();
    loop.assigned();
    loop.assigned();
    expect(loop.window).toBe(8);
    loop.assigned();
    expect(loop.window).toBe(8);
  });

  test('sends PRE_SLEEP after NO_JOB only once no GRAB is left in flight', () => {
    const loop = awakeLoop();
    loop.grabSent();
    loop.assigned();
    loop.grabSent();
    loop.grabSent();
    expect(loop.noJob(5)).toBe('none');
    expect(loop.state).toBe('awake');
    expect(loop.capacity()).toBe(0); // no more GRABs after a NO_JOB
    expect(loop.noJob(6)).toBe('pre-sleep');
    expect(loop.state).toBe('sleeping');
    expect(loop.outstanding).toBe(0);
    expect(loop.window).toBe(1);
  });

  test('a job after a NO_JOB in the same burst lets it grab again instead of sleeping', () => {
    const loop = awakeLoop();
    loop.grabSent();
    loop.assigned();
    loop.grabSent();
    loop.grabSent();
    expect(loop.noJob(5)).toBe('none');
    loop.assigned();
    expect(loop.state).toBe('awake');
    expect(loop.capacity()).toBe(2);
  });

  test('wakes on NOOP while sleeping, with a window of 1', () => {
    const loop = awakeLoop();
    sleepAt(loop, 0);
    expect(loop.capacity()).toBe(0);
    expect(loop.noop(5)).toBe(true);
    expect(loop.state).toBe('awake');
    expect(loop.capacity()).toBe(1);
  });

  test('ignores a stray NOOP while awake or grabbing', () => {
    const loop = awakeLoop();
    expect(loop.noop(0)).toBe(false);
    loop.grabSent();
    expect(loop.noop(1)).toBe(false);
    expect(loop.outstanding).toBe(1);
    loop.assigned();
    expect(loop.noop(2)).toBe(false);
    expect(loop.state).toBe('awake');
    expect(loop.capacity()).toBe(2);
  });

  test('polls: a sleeping loop wakes after pollInterval without a NOOP', () => {
    const loop = awakeLoop();
    sleepAt(loop, 100);
    expect(loop.tick(100 + POLL - 1)).toBe(false);
    expect(loop.tick(100 + POLL)).toBe(true);
    expect(loop.capacity()).toBe(1);
    expect(loop.tick(100 + 2 * POLL)).toBe(false); // awake: nothing to do
  });

  test('backs off when NOOP is answered by NO_JOB again and again, instead of spinning', () => {
    const loop = awakeLoop();
    let now = 0;
    sleepAt(loop, now);
    const grabTimes: number[] = [];
    // A server that answers every PRE_SLEEP with NOOP and every GRAB with NO_JOB (item 26).
    let noopPending = true;
    while (now < 3 * POLL) {
      now += 1;
      if (noopPending) {
        loop.noop(now);
        noopPending = false;
      }
      loop.tick(now);
      if (loop.capacity() > 0) {
        grabTimes.push(now);
        loop.grabSent();
        if (loop.noJob(now) === 'pre-sleep') noopPending = true;
      }
    }
    // Unbounded this would be ~3000 GRABs; with the backoff (10, 20, 40, … ms up to 1000 ms)
    // it is a handful per second.
    expect(grabTimes.length).toBeLessThan(20);
    const gaps = grabTimes.slice(1).map((t, i) => t - (grabTimes[i] as number));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(POLL);
    expect(gaps.at(-1)).toBe(POLL);
  });

  test('the first empty wake is not penalised; a job resets the backoff', () => {
    const loop = awakeLoop();
    sleepAt(loop, 0);
    expect(loop.noop(1)).toBe(true); // wake 1
    loop.grabSent();
    loop.noJob(1);
    expect(loop.noop(2)).toBe(true); // wake 2: not deferred yet
    loop.grabSent();
    loop.noJob(2); // second empty wake in a row: back off 10 ms
    expect(loop.noop(3)).toBe(false);
    expect(loop.backingOff).toBe(true);
    expect(loop.tick(11)).toBe(false);
    expect(loop.tick(12)).toBe(true);
    loop.grabSent();
    loop.assigned(); // a job: the spin is over
    loop.grabSent();
    loop.noJob(13);
    expect(loop.noop(14)).toBe(true);
  });

  test('a poll answered by NO_JOB does not count as an empty wake', () => {
    const loop = awakeLoop();
    sleepAt(loop, 0);
    for (let i = 1; i <= 5; i++) {
      expect(loop.tick(i * POLL)).toBe(true);
      loop.grabSent();
      loop.noJob(i * POLL);
    }
    expect(loop.noop(5 * POLL + 1)).toBe(true);
  });

  test('poke wakes a sleeping loop at once (a new registration)', () => {
    const loop = awakeLoop();
    expect(loop.poke()).toBe(false);
    sleepAt(loop, 0);
    expect(loop.poke()).toBe(true);
    expect(loop.capacity()).toBe(1);
  });

  test('disconnect forgets GRABs in flight; reconnect starts over', () => {
    const loop = awakeLoop();
    loop.grabSent();
    loop.assigned();
    loop.grabSent();
    loop.grabSent();
    loop.disconnect();
    expect(loop.state).toBe('offline');
    expect(loop.outstanding).toBe(0);
    expect(loop.capacity()).toBe(0);
    expect(loop.noop(1)).toBe(false);
    loop.connect();
    expect(loop.window).toBe(1);
    expect(loop.capacity()).toBe(1);
  });

  test('grabFailed releases the GRAB without changing state', () => {
    const loop = awakeLoop();
    loop.grabSent();
    loop.grabFailed(0);
    expect(loop.outstanding).toBe(0);
    expect(loop.capacity()).toBe(1);
  });

  test('keeps its invariants under any sequence of events', () => {
    type Event =
      | { kind: 'grab' }
      | { kind: 'assign' }
      | { kind: 'noJob' }
      | { kind: 'noop' }
      | { kind: 'tick'; advance: number }
      | { kind: 'poke' }
      | { kind: 'fail' }
      | { kind: 'disconnect' }
      | { kind: 'connect' };
    const event: fc.Arbitrary<Event> = fc.oneof(
      fc.constant({ kind: 'grab' as const }),
      fc.constant({ kind: 'assign' as const }),
      fc.constant({ kind: 'noJob' as const }),
      fc.constant({ kind: 'noop' as const }),
      fc.integer({ min: 0, max: 2 * POLL }).map((advance) => ({ kind: 'tick' as const, advance })),
      fc.constant({ kind: 'poke' as const }),
      fc.constant({ kind: 'fail' as const }),
      fc.constant({ kind: 'disconnect' as const }),
      fc.constant({ kind: 'connect' as const }),
    );
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 200 }),
        fc.integer({ min: 1, max: 16 }),
        (events, max) => {
          const loop = new GrabLoop({ pollInterval: POLL, maxWindow: max });
          let now = 0;
          for (const e of events) {
            switch (e.kind) {
              case 'grab':
                // The worker only grabs within capacity().
                if (loop.capacity() > 0) loop.grabSent();
                break;
              case 'assign':
                // A reply needs a GRAB in flight (the connection matches them).
                if (loop.outstanding > 0) loop.assigned();
                break;
              case 'noJob':
                if (loop.outstanding > 0) {
                  const before = loop.outstanding;
                  const action = loop.noJob(now);
                  expect(action === 'pre-sleep').toBe(before === 1);
                }
                break;
              case 'noop':
                loop.noop(now);
                break;
              case 'tick':
                now += e.advance;
                loop.tick(now);
                break;
              case 'poke':
                loop.poke();
                break;
              case 'fail':
                if (loop.outstanding > 0) loop.grabFailed(now);
                break;
              case 'disconnect':
                loop.disconnect();
                break;
              case 'connect':
                loop.disconnect();
                loop.connect();
                break;
            }
            expect(loop.outstanding).toBeGreaterThanOrEqual(0);
            expect(loop.window).toBeGreaterThanOrEqual(1);
            expect(loop.window).toBeLessThanOrEqual(max);
            expect(loop.capacity()).toBeGreaterThanOrEqual(0);
            if (loop.state !== 'awake') expect(loop.capacity()).toBe(0);
            if (loop.state === 'sleeping') expect(loop.outstanding).toBe(0);
            // Never stuck awake with nothing in flight and no permission to grab.
            if (loop.state === 'awake' && loop.outstanding === 0) {
              expect(loop.capacity()).toBeGreaterThan(0);
            }
          }
          // Never stuck asleep: a poll ends any sleep.
          if (loop.state === 'sleeping') expect(loop.tick(now + POLL)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
