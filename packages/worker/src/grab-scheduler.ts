import { performance } from 'node:perf_hooks';
import type { ServerLink } from './server-link.js';

/**
 * Spreads the GRABs the worker wants over its servers. Each server's own pace (its window, and
 * whether it sleeps) is its grab cycle's: this only decides where the next GRAB goes.
 */
export class GrabScheduler {
  readonly #links: readonly ServerLink[];
  #roundRobin = 0;

  constructor(links: readonly ServerLink[]) {
    this.#links = links;
  }

  /** GRABs awaiting their reply, over all servers. */
  inFlight(): number {
    let inFlight = 0;
    for (const link of this.#links) inFlight += link.loop.outstanding;
    return inFlight;
  }

  /** Sends up to `count` GRABs; returns how many went out. */
  send(count: number): number {
    const links = this.#links;
    if (links.length === 1) {
      const link = links[0] as ServerLink;
      // One job per wake and the queue found empty last time: PRE_SLEEP alone (see GrabLoop).
      // With several servers the GRABs go out as usual.
      if (link.loop.capacity() > 0 && link.loop.sleepInstead(performance.now())) {
        link.preSleep();
        return 0;
      }
      let sent = 0;
      for (count = Math.min(count, link.loop.capacity()); sent < count && link.grab(); ) sent++;
      return sent;
    }
    // Several servers: one GRAB each in turn, starting from a different server every time.
    const start = this.#roundRobin++ % links.length;
    let sent = 0;
    let more = true;
    while (sent < count && more) {
      more = false;
      for (let i = 0; i < links.length && sent < count; i++) {
        const link = links[(start + i) % links.length] as ServerLink;
        if (link.loop.capacity() > 0 && link.grab()) {
          sent++;
          more = true;
        }
      }
    }
    return sent;
  }
}
