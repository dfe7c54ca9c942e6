import { createAdmin } from '@gearmanode/client';

/** How long `submit` waits for a result before it checks that a worker can run the job. */
const NO_WORKER_NOTICE_DELAY = 3000;

/**
 * After `delay` ms, asks every server's admin `status` whether any worker has registered
 * `name`, and calls `notice` with a sentence when none has: a job for a function nobody works
 * on waits in the queue forever, in silence. A server that cannot be asked counts as unknown,
 * so no notice is given then. Returns the function that cancels the check.
 */
export function watchForWorkers(
  servers: readonly string[],
  name: string,
  notice: (message: string) => void,
  delay: number = NO_WORKER_NOTICE_DELAY,
): () => void {
  const aborter = new AbortController();
  const timer = setTimeout(() => {
    hasWorkers(servers, name, aborter.signal).then(
      (found) => {
        if (found === false && !aborter.signal.aborted) {
          notice(
            `no worker has registered ${name} on ${servers.join(', ')}; the job waits until one does`,
          );
        }
      },
      () => {}, // only a hint: a failed check says nothing
    );
  }, delay);
  timer.unref();
  return () => {
    clearTimeout(timer);
    aborter.abort();
  };
}

// true when a server lists a worker for `name`, false when every server answered without one,
// undefined when a server could not be asked.
async function hasWorkers(
  servers: readonly string[],
  name: string,
  signal: AbortSignal,
): Promise<boolean | undefined> {
  const answers = await Promise.all(
    servers.map(async (server) => {
      const admin = await createAdmin({ server, reconnect: false, connectTimeout: 2000 });
      try {
        const status = await admin.status({ signal, timeout: 2000 });
        return status.some((row) => row.functionName === name && row.availableWorkers > 0);
      } finally {
        admin.destroy();
      }
    }),
  ).catch(() => undefined);
  if (answers === undefined) return undefined;
  return answers.some(Boolean);
}
