import { type Client, createClient, isGearmanError, type Priority } from '@gearmanode/client';

/** What a foreground job sent back, in order, and how it ended. */
export interface Outcome {
  handle: string;
  /** WORK_STATUS / WORK_DATA / WORK_WARNING in arrival order. */
  events: (
    | { type: 'status'; numerator: number; denominator: number }
    | { type: 'data'; data: Buffer }
    | { type: 'warning'; data: Buffer }
  )[];
  result:
    | { type: 'complete'; data: Buffer }
    | { type: 'fail' }
    | { type: 'exception'; data: Buffer };
}

export interface SubmitOptions {
  unique?: string;
  priority?: Priority;
  reducer?: string;
}

/**
 * The real @gearmanode/client on the other side of the worker's integration tests, with its
 * outcomes flattened into one record per job (events in order, then the result) so that the
 * tests can compare them whole.
 */
export class TestClient {
  readonly client: Client;

  private constructor(client: Client) {
    this.client = client;
  }

  static async connect(server: { host: string; port: number }): Promise<TestClient> {
    // No client-side deadline: some tests hold jobs on purpose.
    return new TestClient(
      await createClient({ servers: [`${server.host}:${server.port}`], timeout: 0 }),
    );
  }

  /** Runs a foreground job; resolves with everything the worker sent, failures included. */
  async submit(
    name: string,
    payload: Uint8Array | string,
    options: SubmitOptions = {},
  ): Promise<Outcome> {
    return (await this.start(name, payload, options)).outcome;
  }

  /** Starts a foreground job: resolves with its handle once created, and the outcome later. */
  async start(
    name: string,
    payload: Uint8Array | string,
    options: SubmitOptions = {},
  ): Promise<{ handle: string; outcome: Promise<Outcome> }> {
    const run = this.client.start(name, payload, options);
    const events: Outcome['events'] = [];
    let created!: (handle: string) => void;
    const handle = new Promise<string>((resolve) => {
      created = resolve;
    });
    const collected = (async () => {
      for await (const event of run) {
        if (event.type === 'created') created(event.handle);
        else events.push(event);
      }
    })();
    const outcome = (async (): Promise<Outcome> => {
      let result: Outcome['result'];
      try {
        result = { type: 'complete', data: await run.result() };
      } catch (error) {
        if (!isGearmanError(error)) throw error;
        if (error.code === 'ERR_JOB_FAILED') result = { type: 'fail' };
        else if (error.code === 'ERR_JOB_EXCEPTION') {
          result = { type: 'exception', data: (error as unknown as { data: Buffer }).data };
        } else throw error;
      }
      await collected;
      return { handle: run.handle ?? '', events, result };
    })();
    // A submit that fails before JOB_CREATED rejects `outcome`; surface it here too.
    return { handle: await Promise.race([handle, outcome.then((o) => o.handle)]), outcome };
  }

  /** Queues a background job; resolves with its handle. */
  submitBackground(name: string, payload: Uint8Array | string, unique = ''): Promise<string> {
    return this.client.submitBackground(name, payload, { unique });
  }

  /** Queues a background job that runs no earlier than `runAt` (Unix seconds). */
  submitEpoch(name: string, payload: Uint8Array | string, runAt: number): Promise<string> {
    return this.client.submitBackground(name, payload, { at: new Date(runAt * 1000) });
  }

  /** Runs a foreground reduce job with a reducer name. */
  submitReduce(name: string, payload: Uint8Array | string, reducer: string): Promise<Outcome> {
    return this.submit(name, payload, { reducer });
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
