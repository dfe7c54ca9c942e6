// packages/worker/README.md, "Observing".
// biome-ignore-all lint/correctness/noUnusedVariables: the snippet declares what the README shows
import type { Worker } from '@gearmanode/worker';

declare const worker: Worker;

for await (const event of worker.status()) {
  // { type: 'connect', server, generation } | { type: 'disconnect', server, error }
  // { type: 'reconnecting', server, attempt, error } | { type: 'give-up', server, error }
  // { type: 'grab-refused', server, packet, fallback, error }: see "Supported servers"
  // { type: 'report-refused', server, code, message }: a WORK_* report the server refused
  // { type: 'suspect', server, silentFor } | { type: 'responsive', server }: a frozen server
}
const { received, completed, inFlight, servers } = worker.stats();
