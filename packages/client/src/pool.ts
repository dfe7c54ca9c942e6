import type { Strategy } from './options.js';

/** What the pool needs to know about a server to choose it. */
export interface PoolMember {
  /** `host:port` or socket path, as configured: the hash input for uniques. */
  readonly name: string;
  /** Hash of `name`, the seed of the member's unique hashes. */
  readonly seed: number;
  /** Until when (ms since the epoch) the server is skipped after a failure; 0 when healthy. */
  downUntil: number;
  /** The server owes replies and has been silent a while (see `suspectAfter`). */
  readonly suspect?: boolean;
  /** Submits holding a slot of the client's `maxInFlight` on it (sent, or created). */
  readonly holding?: number;
}

/** Whether `member` may take a new submit: not suspect, and holding fewer than `share` slots. */
function hasRoom(member: PoolMember, share: number): boolean {
  return member.suspect !== true && (member.holding ?? 0) < share;
}

/** Whether `member` is skipped after a failure; reads the clock only for a member so marked. */
function isDown(member: PoolMember): boolean {
  const until = member.downUntil;
  return until !== 0 && until > Date.now();
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over the UTF-16 code units of `text`, continuing from `hash`. */
export function fnv1a(text: string, hash = FNV_OFFSET): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** The 32-bit finaliser of MurmurHash3: spreads FNV's weak low bits. */
function mix(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The weight of `member` for `unique` in rendezvous (highest-random-weight) hashing. Every
 * process with the same server names ranks the servers the same way for a unique, whatever the
 * order of the list, so submits with one unique meet on one server and coalesce there; when a
 * server leaves the list, only its own uniques move.
 */
export function weight(member: PoolMember, unique: string): number {
  return mix(fnv1a(unique, member.seed));
}

/** Chooses servers for requests: by unique hash, round-robin or sequence, skipping dead ones. */
export class ServerPool<T extends PoolMember> {
  readonly members: readonly T[];
  readonly #strategy: Strategy;
  #next = 0;

  constructor(members: readonly T[], strategy: Strategy) {
    this.members = members;
    this.#strategy = strategy;
  }

  /**
   * The servers to try for a request, best first: for a unique, the rendezvous order; otherwise
   * from the round-robin position (or the list's start for `sequence`). Servers marked down come
   * last, in the same order, since their mark may be stale; suspect ones just before them.
   */
  order(unique: string): T[] {
    const members = this.members;
    const count = members.length;
    let ordered: T[];
    if (count === 1) return [members[0] as T];
    if (unique !== '') {
      ordered = members
        .map((member) => ({ member, weight: weight(member, unique) }))
        .sort((a, b) => b.weight - a.weight || (a.member.name < b.member.name ? -1 : 1))
        .map(({ member }) => member);
    } else {
      const start = this.#strategy === 'sequence' ? 0 : this.#next++ % count;
      if (this.#next >= count) this.#next = 0;
      ordered = [];
      for (let i = 0; i < count; i++) ordered.push(members[(start + i) % count] as T);
    }
    const now = Date.now();
    const rank = (member: T): number =>
      member.downUntil > now ? 2 : member.suspect === true ? 1 : 0;
    if (ordered.every((member) => rank(member) === 0)) return ordered;
    return [0, 1, 2].flatMap((r) => ordered.filter((member) => rank(member) === r));
  }

  /**
   * How many of the client's `limit` slots one server may hold before submits go elsewhere: an
   * equal part for each server not marked down, so that a server that stops answering holds at
   * most its part while it is not yet suspect (and after: a suspect one takes nothing new).
   */
  share(limit: number): number {
    let up = 0;
    for (const member of this.members) if (!isDown(member)) up++;
    return Math.ceil(limit / Math.max(1, up));
  }

  /**
   * Whether some server would take a new submit now: one with room (see `pick`'s `share`), or
   * none at all up (so the submit fails at once rather than wait). False while every server up
   * is suspect or holds its share: a submit then waits in the client.
   */
  canTake(share: number): boolean {
    let up = false;
    for (const member of this.members) {
      if (isDown(member)) continue;
      if (hasRoom(member, share)) return true;
      up = true;
    }
    return !up;
  }

  /**
   * The first healthy server for a request, without building the whole order: the fast path of
   * every submit. With `share`, a server that is suspect or holds `share` slots is skipped as
   * if it were down (`pick(unique, share) ?? pick(unique)` falls back to them). Returns undefined
   * when every server is skipped.
   */
  pick(unique: string, share = Number.POSITIVE_INFINITY): T | undefined {
    const members = this.members;
    const count = members.length;
    const strict = share !== Number.POSITIVE_INFINITY;
    if (count === 1) {
      const only = members[0] as T;
      return !isDown(only) && (!strict || hasRoom(only, share)) ? only : undefined;
    }
    if (unique !== '') {
      let best: T | undefined;
      let bestWeight = -1;
      for (const member of members) {
        if (isDown(member) || (strict && !hasRoom(member, share))) continue;
        const w = weight(member, unique);
        if (w > bestWeight || (w === bestWeight && best !== undefined && member.name < best.name)) {
          best = member;
          bestWeight = w;
        }
      }
      return best;
    }
    const start = this.#strategy === 'sequence' ? 0 : this.#next;
    for (let i = 0; i < count; i++) {
      const member = members[(start + i) % count] as T;
      if (!isDown(member) && (!strict || hasRoom(member, share))) {
        if (this.#strategy === 'round-robin') this.#next = (start + i + 1) % count;
        return member;
      }
    }
    return undefined;
  }
}
