#!/usr/bin/env node
/**
 * The `gearmanode` binary: runs the CLI against the real process and exits with its code.
 * Everything else lives in run.ts, which tests call in-process.
 */
import { run } from './run.js';

// A reader that went away (`gearmanode status | head -1`) is not an error worth a report.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const code = await run(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signals: process,
});

// Exit once stdout and stderr have taken everything (they are asynchronous for pipes on some
// platforms), rather than waiting for every handle: a socket or timer a library failed to
// release must not keep a finished command alive.
let pending = 2;
const done = (): void => {
  pending--;
  if (pending === 0) process.exit(code);
};
process.stdout.write('', done);
process.stderr.write('', done);
