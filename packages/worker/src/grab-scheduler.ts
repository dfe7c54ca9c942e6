import { performance } from 'node:perf_hooks';
import type { ServerLink } from './server-link.js';

/**
 * Spreads the GRABs the worker wants over its servers. Each server's own pace (its window, and
 * whether it sleeps) is its grab cycle's: this only decides where the next GRAB goes, and keeps
 * one server that stops answering from taking every slot: a suspect server (one that owes
 * replies and has been silent for `suspectAfter` ms) gets no new GRAB until it answers, and no
 * server has more GRABs in flight than its share of `concurrency`.
 */
export class GrabScheduler {
  readonly #links: readonly ServerLink[];
  readonly #concurrency: number;
  #roundRobin = 0;

  constructor(links: readonly ServerLink[], concurrency: number) {
    this.#links = links;
    this.#concurrency = concurrency;
  }

  /** GRABs awaiting their reply, over all servers (for `stats()`). */
  inFlight(): number {
    let inFlight = 0;
    for (const link of this.#links) inFlight += link.loop.outstanding;
    return inFlight;
  }

  /**
   * GRABs awaiting their reply from servers that are not suspect: the jobs the consumer can
   * expect soon, and the ones that hold slots. A suspect server's GRABs do neither.
   */
  expected(): number {
    let expected = 0;
    for (const link of this.#links) if (!link.connection.suspect) expected += link.loop.outstanding;
    return expected;
  }

  /**
   * The most GRABs one server may have in flight: an equal part of `concurrency` for each
   * server connected, so that a server that stops answering holds at most its part while it is
   * not yet suspect.
   */
  share(): number {
    let up = 0;
    for (const link of this.#links) if (link.loop.state !== 'offline') up++;
    return Math.ceil(this.#concurrency / Math.max(1, up));
  }

  /** Sends up to `count` GRABs; returns how many went out. */
  send(count: number): number {
    const links = this.#links;
    if (links.length === 1) {
      const link = links[0] as ServerLink;
      if (link.connection.suspect) return 0;
      // One job per wake and the queue found empty last time: PRE_SLEEP alone (see GrabLoop).
      // With several servers the GRABs go out as usual.
      // The clock is read only when the loop does go to sleep, not before every GRAB.
      const loop = link.loop;
      if (loop.capacity() > 0 && loop.sleepsInstead && loop.sleepInstead(performance.now())) {
        link.preSleep();
        return 0;
      }
      let sent = 0;
      for (count = Math.min(count, link.loop.capacity()); sent < count && link.grab(); ) sent++;
      return sent;
    }
    // Several servers: one GRAB each in turn, starting from a different server every time.
    const share = this.share();
    const start = this.#roundRobin++ % links.length;
    let sent = 0;
    let more = true;
    while (sent < count && more) {
      more = false;
      for (let i = 0; i < links.length && sent < count; i++) {
        const link = links[(start + i) % links.length] as ServerLink;
        if (room(link, share) > 0 && link.grab()) {
          sent++;
          more = true;
        }
      }
    }
    return sent;
  }
}

/** How many more GRABs `link` may send now: none while it is suspect, at most up to `share`. */
function room(link: ServerLink, share: number): number {
  if (link.connection.suspect) return 0;
  return Math.min(link.loop.capacity(), share - link.loop.outstanding);
}
