import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createClient } from '@gearmanode/client';
import { createServer } from '@gearmanode/server';

// GEARMAN_SERVERS=host:port[,host:port], or a job server in this process on a free port.
const named = process.env.GEARMAN_SERVERS;
await using server = named ? undefined : await createServer({ port: 0 });
const servers = server ? `${server.address.host}:${server.address.port}` : named!;
console.error(server ? `embedded job server on ${servers}` : `job servers: ${servers}`);

/** Starts src/worker.ts in a child process (with this one's loader flags, so tsx too). */
function startWorker(name: string): { child: ChildProcess; lines: Interface } {
  const script = fileURLToPath(new URL('./worker.ts', import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, script], {
    env: { ...process.env, GEARMAN_SERVERS: servers },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => console.log(`${name}: ${line}`));
  return { child, lines };
}

/** Resolves once a line the child prints satisfies `predicate`. */
function lineWhere(lines: Interface, predicate: (line: string) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (line: string) => {
      if (!predicate(line)) return;
      lines.off('line', check);
      resolve();
    };
    lines.on('line', check);
  });
}

const first = startWorker('worker 1');
await lineWhere(first.lines, (line) => line.startsWith('ready'));

// Six jobs of a second each, for a worker that runs two at a time.
await using client = await createClient({ servers });
const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
const results = words.map((word) => client.submit('slow-reverse', word, { encoding: 'utf8' }));

// Once the first worker has two jobs running, ask it to stop. It finishes those two, sends
// their results and exits; the other four wait on the server for the next worker.
let started = 0;
await lineWhere(first.lines, (line) => line.startsWith('started') && ++started === 2);
console.log('sending SIGTERM to worker 1');
first.child.kill('SIGTERM');
const [code] = await once(first.child, 'exit');
console.log(`worker 1 exited with code ${code}`);

const second = startWorker('worker 2');
const reversed = await Promise.all(results);
for (const [i, word] of words.entries()) console.log(`${word} -> ${reversed[i]}`);
console.log(`${reversed.length} of ${words.length} jobs completed, none lost`);

second.child.kill('SIGTERM');
await once(second.child, 'exit');
