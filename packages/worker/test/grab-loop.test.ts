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

  describe('eagerPreSleep', () => {
    function eagerLoop(maxWindow = 1): GrabLoop {
      const loop = new GrabLoop({ pollInterval: POLL, maxWindow, eagerPreSleep: true });
      loop.connect();
      return loop;
    }

    test('is off by default: the GRAB after a job goes out alone', () => {
      const loop = awakeLoop(1);
      expect(loop.grabSent()).toBe('none');
      loop.assigned();
      expect(loop.grabSent()).toBe('none');
      expect(loop.noJob(1)).toBe('pre-sleep');
    });

    test("sends PRE_SLEEP with the GRAB after a wake's first job; its NO_JOB needs none", () => {
      const loop = eagerLoop();
      // The GRAB that follows a wake (here: the connect) goes out alone: a job is expected.
      expect(loop.grabSent()).toBe('none');
      loop.assigned();
      expect(loop.grabSent()).toBe('pre-sleep');
      expect(loop.noJob(5)).toBe('none');
      expect(loop.state).toBe('sleeping');
      expect(loop.capacity()).toBe(0);
      // Still asleep only until the poll.
      expect(loop.tick(5 + POLL)).toBe(true);
    });

    test('one job per wake: PRE_SLEEP alone after every other job, GRAB + PRE_SLEEP between', () => {
      const loop = eagerLoop();
      expect(loop.sleepInstead(0)).toBe(false);
      loop.grabSent();
      loop.assigned();
      expect(loop.sleepInstead(0)).toBe(false); // nothing known of the queue yet: probe
      expect(loop.grabSent()).toBe('pre-sleep');
      expect(loop.noJob(0)).toBe('none');
      for (let i = 1; i <= 6; i++) {
        expect(loop.noop(i)).toBe(true);
        expect(loop.sleepInstead(i)).toBe(false); // the wake's GRAB
        expect(loop.grabSent()).toBe('none');
        loop.assigned();
        if (i % 2 === 1) {
          // The last probe found the queue empty: sleep without a GRAB, so no NO_JOB comes.
          expect(loop.sleepInstead(i)).toBe(true);
          expect(loop.state).toBe('sleeping');
          expect(loop.outstanding).toBe(0);
          expect(loop.capacity()).toBe(0);
        } else {
          expect(loop.sleepInstead(i)).toBe(false);
          expect(loop.grabSent()).toBe('pre-sleep');
          expect(loop.noJob(i)).toBe('none');
          expect(loop.state).toBe('sleeping');
        }
      }
      expect(loop.tick(6 + POLL)).toBe(true);
    });

    test('work queued meanwhile: the PRE_SLEEP alone costs one NOOP, then the drain runs on GRABs', () => {
      const loop = eagerLoop();
      loop.grabSent();
      loop.assigned();
      loop.grabSent();
      loop.noJob(0); // the probe found the queue empty
      loop.noop(1);
      loop.grabSent();
      loop.assigned();
      expect(loop.sleepInstead(1)).toBe(true);
      // A burst arrived: the server answers the PRE_SLEEP with NOOP at once.
      expect(loop.noop(2)).toBe(true);
      expect(loop.sleepInstead(2)).toBe(false);
      loop.grabSent();
      loop.assigned();
      expect(loop.sleepInstead(2)).toBe(false); // probe: GRAB + PRE_SLEEP
      expect(loop.grabSent()).toBe('pre-sleep');
      loop.assigned(); // a job: the queue is not empty
      expect(loop.noop(2)).toBe(false); // the PRE_SLEEP's NOOP, stray now
      for (let i = 0; i < 5; i++) {
        expect(loop.sleepInstead(3)).toBe(false);
        expect(loop.grabSent()).toBe('none');
        loop.assigned();
      }
    });

    test('when that GRAB gets a job the loop stays awake, ignores the NOOP, and stops being eager', () => {
      const loop = eagerLoop();
      loop.grabSent();
      loop.assigned();
      expect(loop.grabSent()).toBe('pre-sleep');
      loop.assigned(); // more work queued: the server answers the PRE_SLEEP with NOOP
      expect(loop.state).toBe('awake');
      expect(loop.noop(1)).toBe(false);
      expect(loop.capacity()).toBe(1);
      // A drain: later GRABs go out alone, and the NO_JOB at the end asks for PRE_SLEEP.
      for (let i = 0; i < 5; i++) {
        expect(loop.grabSent()).toBe('none');
        loop.assigned();
      }
      expect(loop.grabSent()).toBe('none');
      expect(loop.noJob(2)).toBe('pre-sleep');
      expect(loop.state).toBe('sleeping');
    });

    test('a GRAB sent after the early PRE_SLEEP cancels it, for the loop as for the server', () => {
      const loop = eagerLoop(4);
      loop.grabSent();
      loop.assigned();
      expect(loop.grabSent()).toBe('pre-sleep');
      expect(loop.grabSent()).toBe('none');
      expect(loop.noJob(1)).toBe('none');
      expect(loop.state).toBe('awake');
      expect(loop.noJob(2)).toBe('pre-sleep');
      expect(loop.state).toBe('sleeping');
    });

    test('a disconnect forgets the early PRE_SLEEP', () => {
      const loop = eagerLoop();
      loop.grabSent();
      loop.assigned();
      expect(loop.grabSent()).toBe('pre-sleep');
      loop.disconnect();
      loop.connect();
      expect(loop.grabSent()).toBe('none');
      expect(loop.noJob(1)).toBe('pre-sleep');
    });

    test('still backs off when NOOPs keep leading to NO_JOB', () => {
      const loop = eagerLoop();
      loop.grabSent();
      loop.assigned();
      expect(loop.grabSent()).toBe('pre-sleep');
      expect(loop.noJob(0)).toBe('none');
      // The spin of section 11, item 26: NOOP, GRAB, NO_JOB, PRE_SLEEP, NOOP ...
      expect(loop.noop(0)).toBe(true);
      expect(loop.grabSent()).toBe('none');
      expect(loop.noJob(0)).toBe('pre-sleep');
      expect(loop.noop(0)).toBe(true);
      expect(loop.grabSent()).toBe('none');
      expect(loop.noJob(0)).toBe('pre-sleep');
      expect(loop.noop(1)).toBe(false);
      expect(loop.backingOff).toBe(true);
    });
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
        fc.boolean(),
        (events, max, eagerPreSleep) => {
          const loop = new GrabLoop({ pollInterval: POLL, maxWindow: max, eagerPreSleep });
          let now = 0;
          // The server's view: whether the last of GRAB and PRE_SLEEP it got was PRE_SLEEP, so
          // that it will NOOP the worker. `lost` once a GRAB failed: that socket is gone.
          let told = false;
          let lost = false;
          for (const e of events) {
            switch (e.kind) {
              case 'grab':
                // The worker only grabs within capacity(), and asks sleepInstead() first.
                if (loop.capacity() > 0 && loop.sleepInstead(now)) {
                  expect(eagerPreSleep).toBe(true);
                  told = true;
                } else if (loop.capacity() > 0) {
                  const action = loop.grabSent();
                  if (!eagerPreSleep) expect(action).toBe('none');
                  told = action === 'pre-sleep';
                }
                break;
              case 'assign':
                // A reply needs a GRAB in flight (the connection matches them).
                if (loop.outstanding > 0) loop.assigned();
                break;
              case 'noJob':
                if (loop.outstanding > 0) {
                  const before = loop.outstanding;
                  const action = loop.noJob(now);
                  // PRE_SLEEP once the last GRAB is answered, unless it went out already.
                  expect(action === 'pre-sleep').toBe(before === 1 && !told);
                  if (action === 'pre-sleep') told = true;
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
                if (loop.outstanding > 0) {
                  loop.grabFailed(now);
                  lost = true;
                }
                break;
              case 'disconnect':
                loop.disconnect();
                break;
              case 'connect':
                loop.disconnect();
                loop.connect();
                told = false;
                lost = false;
                break;
            }
            // Asleep only where the server will NOOP: no job waits unnoticed until the poll.
            if (loop.state === 'sleeping' && !lost) expect(told).toBe(true);
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
