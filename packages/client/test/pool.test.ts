import { describe, expect, test } from 'vitest';
import { fnv1a, ServerPool, weight } from '../src/pool.js';

function member(name: string) {
  return { name, seed: fnv1a(name), downUntil: 0 };
}

describe('ServerPool', () => {
  test('round-robin walks the servers in turn', () => {
    const pool = new ServerPool(['a', 'b', 'c'].map(member), 'round-robin');
    expect(Array.from({ length: 6 }, () => pool.pick('')?.name)).toEqual([
      'a',
      'b',
      'c',
      'a',
      'b',
      'c',
    ]);
  });

  test('sequence always takes the first healthy server', () => {
    const members = ['a', 'b', 'c'].map(member);
    const pool = new ServerPool(members, 'sequence');
    expect(pool.pick('')?.name).toBe('a');
    expect(pool.pick('')?.name).toBe('a');
    (members[0] as { downUntil: number }).downUntil = Date.now() + 10_000;
    expect(pool.pick('')?.name).toBe('b');
  });

  test('skips servers marked down, and returns undefined when all are', () => {
    const members = ['a', 'b'].map(member);
    const pool = new ServerPool(members, 'round-robin');
    (members[1] as { downUntil: number }).downUntil = Date.now() + 10_000;
    expect(Array.from({ length: 3 }, () => pool.pick('')?.name)).toEqual(['a', 'a', 'a']);
    (members[0] as { downUntil: number }).downUntil = Date.now() + 10_000;
    expect(pool.pick('')).toBeUndefined();
    expect(pool.pick('u')).toBeUndefined();
  });

  test('a unique always maps to the same server, whatever the list order', () => {
    const names = ['10.0.0.1:4730', '10.0.0.2:4730', '10.0.0.3:4730'];
    const forward = new ServerPool(names.map(member), 'round-robin');
    const backward = new ServerPool([...names].reverse().map(member), 'sequence');
    for (let i = 0; i < 200; i++) {
      const unique = `job-${i}`;
      const chosen = forward.pick(unique)?.name;
      expect(forward.pick(unique)?.name).toBe(chosen);
      expect(backward.pick(unique)?.name).toBe(chosen);
      expect(forward.order(unique)[0]?.name).toBe(chosen);
    }
  });

  test('spreads uniques roughly evenly', () => {
    const pool = new ServerPool(['a:1', 'b:1', 'c:1', 'd:1'].map(member), 'round-robin');
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const name = pool.pick(`u${i}`)?.name as string;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    for (const count of counts.values()) expect(count).toBeGreaterThan(800);
  });

  test('when a unique’s server is down it falls back to the next in its order, and only its uniques move', () => {
    const members = ['a:1', 'b:1', 'c:1'].map(member);
    const pool = new ServerPool(members, 'round-robin');
    const before = new Map<string, string>();
    for (let i = 0; i < 300; i++) before.set(`u${i}`, pool.pick(`u${i}`)?.name as string);
    const down = members[0] as { name: string; downUntil: number };
    down.downUntil = Date.now() + 10_000;
    for (const [unique, name] of before) {
      const now = pool.pick(unique)?.name;
      if (name === down.name) expect(now).toBe(pool.order(unique)[0]?.name);
      else expect(now).toBe(name);
    }
    // Down servers come last in the order.
    expect(pool.order('u1').at(-1)?.name).toBe(down.name);
  });

  test('weight is stable across calls (a pure function of name and unique)', () => {
    const m = member('host:4730');
    expect(weight(m, 'abc')).toBe(weight(member('host:4730'), 'abc'));
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c); // FNV-1a test vector
  });

  describe('budgets', () => {
    function loaded(name: string, holding = 0, suspect = false, downUntil = 0) {
      return { name, seed: fnv1a(name), downUntil, holding, suspect };
    }

    test('the share is maxInFlight split over the servers not marked down', () => {
      const members = [loaded('a'), loaded('b'), loaded('c')];
      const pool = new ServerPool(members, 'round-robin');
      expect(pool.share(1000)).toBe(334);
      members[2] = loaded('c', 0, false, Date.now() + 10_000);
      expect(new ServerPool(members, 'round-robin').share(1000)).toBe(500);
    });

    test('with a share, suspect servers and servers holding their share are skipped', () => {
      const members = [loaded('a', 0, true), loaded('b', 5), loaded('c', 4)];
      const pool = new ServerPool(members, 'round-robin');
      expect(Array.from({ length: 3 }, () => pool.pick('', 5)?.name)).toEqual(['c', 'c', 'c']);
      expect(pool.pick('some-unique', 5)?.name).toBe('c');
      // Without a share (a submit sent again), only servers marked down are skipped.
      expect(pool.pick('')?.name).not.toBeUndefined();
      expect(pool.canTake(5)).toBe(true);
    });

    test('canTake: false while every server up is suspect or full; true when none is up', () => {
      const busy = new ServerPool([loaded('a', 0, true), loaded('b', 5)], 'round-robin');
      expect(busy.canTake(5)).toBe(false);
      const later = Date.now() + 10_000;
      const down = new ServerPool([loaded('a', 0, false, later)], 'round-robin');
      expect(down.canTake(5)).toBe(true); // so that the submit fails at once
    });

    test('order() puts suspect servers after healthy ones and before those marked down', () => {
      const later = Date.now() + 10_000;
      const members = [loaded('a', 0, false, later), loaded('b', 0, true), loaded('c')];
      const pool = new ServerPool(members, 'sequence');
      expect(pool.order('').map((m) => m.name)).toEqual(['c', 'b', 'a']);
    });
  });
});
