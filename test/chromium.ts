import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/**
 * A headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
 * the browser reads commands on fd 3 and writes replies and events on fd 4, each message JSON
 * ended by a NUL byte). Small on purpose: open a page, evaluate script, take a screenshot. It
 * needs no dependency but the browser, Debian's `chromium` (scripts/test.sh installs it).
 */

/** The browser binary: `CHROMIUM_PATH`, else Debian's. */
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox', // containers and root: the setuid sandbox is not available there
  '--disable-gpu',
  '--disable-quic',
  '--disable-dev-shm-usage', // a container's /dev/shm is often 64 MB, too small for a renderer
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-extensions',
  '--mute-audio',
  '--remote-debugging-pipe',
];

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
  sessionId?: string;
}

/** A page (tab) of the browser. */
export interface Page {
  /** Problems the page reported: uncaught exceptions and console or log errors (CSP, 404s). */
  readonly errors: readonly string[];
  /** Navigates and resolves once the load event fired. */
  goto(url: string): Promise<void>;
  /** Evaluates `expression` in the page (promises awaited) and returns its value as JSON. */
  evaluate<T>(expression: string): Promise<T>;
  /** Evaluates `expression` until it is truthy and returns that value; rejects after `timeout`. */
  waitFor<T>(expression: string, options?: { timeout?: number; what?: string }): Promise<T>;
  /** A PNG of the whole page. */
  screenshot(): Promise<Buffer>;
}

/** A running browser; `close()` (or `await using`) ends it and every process it started. */
export interface Browser extends AsyncDisposable {
  newPage(options?: { width?: number; height?: number }): Promise<Page>;
  close(): Promise<void>;
}

/** Starts a headless Chromium with a fresh profile in a temporary directory. */
export async function launchChromium(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'gearmanode-chromium-'));
  // Its own process group, so that the renderers and helpers can be killed with it.
  const child = spawn(CHROMIUM_PATH, [...FLAGS, `--user-data-dir=${profile}`, 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const killGroup = (): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // ESRCH: the group is gone already.
    }
  };
  // Should the test process end without closing the browser, the browser goes with it.
  process.once('exit', killGroup);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const connection = new CdpConnection(child, () => stderr);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      try {
        await Promise.race([connection.send('Browser.close'), exited, delay(5000)]);
      } catch {
        // The pipe may close before the reply: the browser is going anyway.
      }
      await Promise.race([exited, delay(5000)]);
      killGroup();
      await exited;
      process.off('exit', killGroup);
      await rm(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    })();
    return closed;
  };

  try {
    await connection.send('Browser.getVersion', {}, undefined, 20_000);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    async newPage({ width = 1280, height = 900 } = {}) {
      const { targetId } = (await connection.send('Target.createTarget', {
        url: 'about:blank',
      })) as { targetId: string };
      const { sessionId } = (await connection.send('Target.attachToTarget', {
        targetId,
        flatten: true,
      })) as { sessionId: string };
      const page = new CdpPage(connection, sessionId);
      await Promise.all([
        connection.send('Page.enable', {}, sessionId),
        connection.send('Runtime.enable', {}, sessionId),
        connection.send('Log.enable', {}, sessionId),
        connection.send(
          'Emulation.setDeviceMetricsOverride',
          { width, height, deviceScaleFactor: 1, mobile: false },
          sessionId,
        ),
      ]);
      return page;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

class CdpConnection {
  readonly #input: Writable;
  readonly #pending = new Map<
    number,
    { resolve(result: Record<string, unknown>): void; reject(error: Error): void }
  >();
  readonly #listeners = new Set<(message: Message) => void>();
  readonly #stderr: () => string;
  #nextId = 1;
  #buffer = '';
  #gone: Error | undefined;

  constructor(child: ChildProcess, stderr: () => string) {
    this.#input = child.stdio[3] as Writable;
    const output = child.stdio[4] as Readable;
    this.#stderr = stderr;
    this.#input.on('error', () => {}); // a closed pipe shows up as the exit below
    output.on('data', (chunk: Buffer) => this.#receive(chunk.toString('utf8')));
    child.once('exit', (code, signal) => {
      this.#gone = new Error(
        `chromium exited (${signal ?? code}); stderr: ${this.#stderr().trim() || '(none)'}`,
      );
      for (const { reject } of this.#pending.values()) reject(this.#gone);
      this.#pending.clear();
    });
    child.once('error', (error) => {
      this.#gone = new Error(`cannot start ${CHROMIUM_PATH}: ${error.message}`, { cause: error });
      for (const { reject } of this.#pending.values()) reject(this.#gone);
      this.#pending.clear();
    });
  }

  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
    timeout = 15_000,
  ): Promise<Record<string, unknown>> {
    if (this.#gone) return Promise.reject(this.#gone);
    const id = this.#nextId++;
    const message: Message = { id, method, params, ...(sessionId ? { sessionId } : {}) };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method}: no reply from chromium within ${timeout} ms`));
      }, timeout);
      this.#pending.set(id, {
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#input.write(`${JSON.stringify(message)}\0`);
    });
  }

  /** Calls `listener` with every event until the returned function is called. */
  listen(listener: (message: Message) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #receive(text: string): void {
    this.#buffer += text;
    for (let end = this.#buffer.indexOf('\0'); end !== -1; end = this.#buffer.indexOf('\0')) {
      const message = JSON.parse(this.#buffer.slice(0, end)) as Message;
      this.#buffer = this.#buffer.slice(end + 1);
      if (message.id !== undefined) {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.error) {
          pending?.reject(new Error(`chromium: ${message.error.message} (${message.error.code})`));
        } else {
          pending?.resolve(message.result ?? {});
        }
      } else {
        for (const listener of this.#listeners) listener(message);
      }
    }
  }
}

class CdpPage implements Page {
  readonly errors: string[] = [];
  readonly #connection: CdpConnection;
  readonly #session: string;

  constructor(connection: CdpConnection, session: string) {
    this.#connection = connection;
    this.#session = session;
    connection.listen((message) => {
      if (message.sessionId !== session) return;
      const params = message.params ?? {};
      if (message.method === 'Runtime.exceptionThrown') {
        const details = params.exceptionDetails as {
          text?: string;
          exception?: { description?: string };
        };
        this.errors.push(`exception: ${details.exception?.description ?? details.text}`);
      } else if (message.method === 'Runtime.consoleAPICalled' && params.type === 'error') {
        this.errors.push(`console.error: ${JSON.stringify(params.args)}`);
      } else if (message.method === 'Log.entryAdded') {
        const entry = params.entry as { level: string; text: string; url?: string };
        if (entry.level === 'error') this.errors.push(`log: ${entry.text} ${entry.url ?? ''}`);
      }
    });
  }

  async goto(url: string): Promise<void> {
    let stop = (): void => {};
    const loaded = new Promise<void>((resolve) => {
      stop = this.#connection.listen((message) => {
        if (message.sessionId === this.#session && message.method === 'Page.loadEventFired') {
          resolve();
        }
      });
    });
    try {
      const result = (await this.#send('Page.navigate', { url })) as { errorText?: string };
      if (result.errorText) throw new Error(`cannot load ${url}: ${result.errorText}`);
      await withDeadline(loaded, 15_000, `loading ${url}`);
    } finally {
      stop();
    }
  }

  async evaluate<T>(expression: string): Promise<T> {
    const reply = (await this.#send('Runtime.evaluate', {
      expression,
      returnByValue: true,
      awaitPromise: true,
    })) as {
      result: { value?: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (reply.exceptionDetails) {
      const { exception, text } = reply.exceptionDetails;
      throw new Error(`in the page: ${exception?.description ?? text}`);
    }
    return reply.result.value as T;
  }

  async waitFor<T>(
    expression: string,
    { timeout = 10_000, what = expression }: { timeout?: number; what?: string } = {},
  ): Promise<T> {
    const deadline = Date.now() + timeout;
    let last: unknown;
    for (;;) {
      last = await this.evaluate<T>(expression);
      if (last) return last as T;
      if (Date.now() >= deadline) {
        throw new Error(`${what}: not true within ${timeout} ms (last: ${JSON.stringify(last)})`);
      }
      await delay(50);
    }
  }

  async screenshot(): Promise<Buffer> {
    const { data } = (await this.#send('Page.captureScreenshot', {
      format: 'png',
      captureBeyondViewport: true,
    })) as { data: string };
    return Buffer.from(data, 'base64');
  }

  #send(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.#connection.send(method, params, this.#session);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
