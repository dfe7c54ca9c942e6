import type { CliIO } from './io.js';

/**
 * Resolves with the first SIGINT or SIGTERM, for commands that serve until stopped. The
 * listeners are removed once it resolves.
 */
export function untilSignal(io: CliIO): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      io.signals.off('SIGINT', onSignal);
      io.signals.off('SIGTERM', onSignal);
      resolve(signal);
    };
    io.signals.on('SIGINT', onSignal);
    io.signals.on('SIGTERM', onSignal);
  });
}
