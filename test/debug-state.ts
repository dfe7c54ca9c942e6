import type { Client } from '@gearmanode/client';

/** The client's internal bookkeeping counts: every one is 0 once the client is idle. */
export type ClientDebugState = Readonly<Record<string, number>>;

/**
 * Reads a client's bookkeeping through the registered symbol the client keys it by, so that
 * tests can check that nothing leaks without the package exporting anything for them.
 */
export function debugState(client: Client): ClientDebugState {
  const key = Symbol.for('gearmanode.client.debugState');
  return (client as unknown as Record<symbol, () => ClientDebugState>)[key]!();
}
