// The few calls the drivers make into the untyped npm peers, typed loosely on purpose.

declare module 'gearmanode' {
  import type { EventEmitter } from 'node:events';

  interface ServerOptions {
    servers?: { host: string; port: number }[];
    host?: string;
    port?: number;
  }
  interface Job extends EventEmitter {
    payload: Buffer;
    response: Buffer | string;
    handle: string;
    workComplete(data: Buffer | string): void;
  }
  interface Client extends EventEmitter {
    submitJob(name: string, payload: Buffer, options?: { background?: boolean }): Job;
    close(): void;
  }
  interface Worker extends EventEmitter {
    addFunction(name: string, handler: (job: Job) => void): void;
    close(): void;
  }
  const gearmanode: {
    client(options?: ServerOptions): Client;
    worker(options?: ServerOptions): Worker;
  };
  export default gearmanode;
}

declare module 'gearmanode/lib/gearmanode/job-server.js' {
  import type { Socket } from 'node:net';

  interface JobServer {
    socket?: Socket;
    connect(callback: (error?: Error) => void): Socket | Error | undefined;
  }
  export const JobServer: { prototype: JobServer };
}

declare module 'abraxas' {
  import type { EventEmitter } from 'node:events';

  interface Task {
    payload: Buffer;
  }
  interface Client extends EventEmitter {
    submitJob(name: string, data: Buffer): PromiseLike<Buffer>;
    submitJobBg(name: string, data: Buffer): PromiseLike<string>;
    registerWorker(name: string, handler: (task: Task) => Buffer | string): void;
    disconnect(): void;
  }
  const abraxas: {
    Client: {
      connect(options: { servers: string[]; maxJobs?: number; defaultEncoding?: string }): Client;
    };
  };
  export default abraxas;
}
