import { Buffer } from 'node:buffer';
import type { Readable, Writable } from 'node:stream';

/** An output stream, with the terminal facts `process.stdout` has when it is a TTY. */
export type Output = Writable & {
  readonly isTTY?: boolean;
  readonly columns?: number;
  readonly rows?: number;
};

/** An input stream, with `setRawMode` when it is a TTY (for `top`). */
export type Input = Readable & {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
};

/** Where signals come from: `process` in the binary, an EventEmitter in tests. */
export interface Signals {
  on(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
}

/**
 * Everything a command touches outside itself, so that commands run in-process in tests with
 * in-memory streams: the binary passes `process.stdin`, `process.stdout`, `process.env`, ….
 */
export interface CliIO {
  readonly stdin: Input;
  readonly stdout: Output;
  readonly stderr: Output;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signals: Signals;
}

/** Whether colours and cursor movement may go to `stream`: a TTY, and `NO_COLOR` is not set. */
export function isTerminal(stream: Output, env: CliIO['env']): boolean {
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** Whether to colour `stream`: a terminal, and `NO_COLOR` (no-color.org) unset or empty. */
export function useColor(stream: Output, env: CliIO['env']): boolean {
  return isTerminal(stream, env) && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

/** Writes `data` and resolves once it has been handed to the stream (honours backpressure). */
export function write(stream: Writable, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

/** Reads `stream` to its end, bytes unchanged. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  return Buffer.concat(chunks);
}

/**
 * The terminal size of `stream`: its own, else `COLUMNS` and `LINES`, else 80 × 24. A pseudo-
 * terminal nobody sized (e.g. under `script`) reports 0 × 0.
 */
export function terminalSize(stream: Output, env: CliIO['env']): { columns: number; rows: number } {
  const pick = (
    own: number | undefined,
    variable: string | undefined,
    fallback: number,
  ): number => {
    if (own !== undefined && own > 0) return own;
    const value = Number(variable);
    return Number.isInteger(value) && value > 0 ? value : fallback;
  };
  return { columns: pick(stream.columns, env.COLUMNS, 80), rows: pick(stream.rows, env.LINES, 24) };
}
