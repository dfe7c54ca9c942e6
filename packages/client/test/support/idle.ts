import type { Client } from '@gearmanode/client';
import { expect } from 'vitest';
import { debugState } from '../../../../test/debug-state.js';
import { waitFor } from '../../../../test/helpers.js';

/** Waits until every internal map of the client is empty, then asserts it. */
export async function expectIdle(client: Client, timeout = 5000): Promise<void> {
  const empty = () => {
    const state = debugState(client);
    return Object.values(state).every((value) => value === 0);
  };
  try {
    await waitFor(empty, { timeout, what: 'client idle' });
  } catch {
    // Show which counter is stuck.
  }
  expect(debugState(client)).toEqual({
    inFlight: 0,
    queued: 0,
    requests: 0,
    deadlines: 0,
    retrying: 0,
    handles: 0,
    ghosts: 0,
    pendingRequests: 0,
    statusSubscribers: 0,
  });
  expect(client.stats().inFlight).toBe(0);
}
