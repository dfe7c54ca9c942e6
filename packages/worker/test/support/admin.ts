import { rawConnect } from '../../../../test/helpers.js';

/**
 * Raw admin commands for the worker's integration tests: the server's own view of workers and
 * queues (protocol.md section 9).
 */

/** One admin command over a fresh socket; resolves with the list's lines (without the `.`). */
async function admin(
  server: { host: string; port: number },
  command: 'status' | 'workers' | 'show jobs',
): Promise<string[]> {
  await using connection = await rawConnect(server.host, server.port);
  await connection.write(`${command}\r\n`);
  const bytes = await connection.readUntil((received) => {
    const text = received.toString('utf8');
    return text === '.\n' || text.endsWith('\n.\n');
  });
  const lines = bytes.toString('utf8').split('\n');
  return lines.slice(0, lines.indexOf('.'));
}

/** The `status` row of one function: total (queued + running), running, workers. */
export async function functionStatus(
  server: { host: string; port: number },
  name: string,
): Promise<{ total: number; running: number; workers: number } | undefined> {
  for (const line of await admin(server, 'status')) {
    const [fn, total, running, workers] = line.split('\t');
    if (fn === name)
      return { total: Number(total), running: Number(running), workers: Number(workers) };
  }
  return undefined;
}

/** The `workers` rows whose function list includes `name`, as { clientId, functions }. */
export async function workersOf(
  server: { host: string; port: number },
  name: string,
): Promise<{ clientId: string; functions: string[] }[]> {
  const rows: { clientId: string; functions: string[] }[] = [];
  for (const line of await admin(server, 'workers')) {
    const colon = line.indexOf(' : ');
    const head = colon === -1 ? line.replace(/ :$/, '') : line.slice(0, colon);
    const functions =
      colon === -1
        ? []
        : line
            .slice(colon + 3)
            .split(' ')
            .filter(Boolean);
    const clientId = head.split(' ')[2] ?? '-';
    if (functions.includes(name)) rows.push({ clientId, functions });
  }
  return rows;
}
