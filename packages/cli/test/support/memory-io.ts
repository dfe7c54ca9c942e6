import { EventEmitter } from 'node:events';
import { PassThrough, Readable, Writable } from 'node:stream';
import type { CliIO, Input } from '../../src/io.js';

/** An in-memory output stream that records what was written, optionally posing as a TTY. */
export class MemoryOutput extends Writable {
  readonly chunks: Buffer[] = [];
  isTTY: boolean;
  columns: number | undefined;
  rows: number | undefined;

  constructor(tty: { isTTY?: boolean; columns?: number; rows?: number } = {}) {
    super();
    this.isTTY = tty.isTTY ?? false;
    this.columns = tty.columns;
    this.rows = tty.rows;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.chunks.push(Buffer.from(chunk));
    callback();
  }

  /** Everything written so far. */
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Everything written so far, as UTF-8. */
  text(): string {
    return this.bytes().toString('utf8');
  }
}

/** Options for `memoryIO`. */
export interface MemoryIOOptions {
  /** stdin's bytes; a PassThrough left open when `stdinTTY`. @default empty */
  readonly stdin?: Buffer | string;
  readonly stdinTTY?: boolean;
  readonly stdout?: { isTTY?: boolean; columns?: number; rows?: number };
  readonly stderr?: { isTTY?: boolean; columns?: number; rows?: number };
  readonly env?: Record<string, string | undefined>;
}

/** A CliIO over memory streams, with an EventEmitter for signals (`io.signals.emit('SIGINT')`). */
export function memoryIO(options: MemoryIOOptions = {}): CliIO & {
  readonly stdout: MemoryOutput;
  readonly stderr: MemoryOutput;
  readonly signals: EventEmitter;
  readonly stdin: Input;
} {
  let stdin: Input;
  if (options.stdinTTY === true) {
    const tty = new PassThrough() as PassThrough & {
      isTTY: boolean;
      setRawMode(mode: boolean): void;
      raw: boolean;
    };
    tty.isTTY = true;
    tty.raw = false;
    tty.setRawMode = (mode: boolean) => {
      tty.raw = mode;
    };
    stdin = tty;
  } else {
    stdin = Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]);
  }
  return {
    stdin,
    stdout: new MemoryOutput(options.stdout),
    stderr: new MemoryOutput(options.stderr),
    env: { PATH: process.env.PATH, ...options.env },
    signals: new EventEmitter(),
  };
}
