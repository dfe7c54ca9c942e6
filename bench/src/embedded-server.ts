/**
 * Runs the embedded server (@gearmanode/server) in a process of its own, so that its CPU is
 * neither shared with the drivers' event loops nor counted in theirs. Prints `listening` with
 * the port it picked, then serves until its stdin closes. An argument `sqlite:PATH` is its
 * `store`.
 */
import { createServer } from '@gearmanode/server';
import { send } from '../drivers/lib/harness.ts';

const store = process.argv[2];
const server = await createServer({
  host: '127.0.0.1',
  port: 0,
  ...(store !== undefined ? { store } : {}),
});
await send({ type: 'listening', host: server.address.host, port: server.address.port });
process.stdin.on('end', () => {
  void server.close().then(() => process.exit(0));
});
process.stdin.resume();
