import { connect, createServer, type Socket } from 'node:net';
import { type Magic, PACKET_TYPES, type Packet, PacketDecoder } from '@gearmanode/protocol';

// A TCP proxy in front of a job server that logs every packet in both directions. The bytes are
// forwarded exactly as they arrive; decoding is only for the log, so a packet the decoder
// rejects is still forwarded (and the log for that direction stops).
//
//   GEARMAN_SERVERS=host:port  the job server to forward to (the first one named); default
//                              127.0.0.1:4730
//   PROXY_PORT=port            where to listen, on 127.0.0.1; default 4731, 0 for a free port
const [upstreamHost, upstreamPort] = hostPort(
  (process.env.GEARMAN_SERVERS ?? '127.0.0.1:4730').split(',')[0]!,
);
const listenPort = Number(process.env.PROXY_PORT ?? 4731);

let connections = 0;
const open = new Set<Socket>();
const proxy = createServer((client) => {
  const id = ++connections;
  const upstream = connect({ host: upstreamHost, port: upstreamPort });
  for (const socket of [client, upstream]) {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  }
  log(id, `connected from ${client.remoteAddress}:${client.remotePort}`);
  forward(id, client, upstream, 'client > server');
  forward(id, upstream, client, 'server > client');
  client.on('close', () => log(id, 'closed'));
});

/** Pipes `from` into `to` untouched, and decodes a copy of the stream for the log. */
function forward(id: number, from: Socket, to: Socket, direction: string): void {
  const decoder = new PacketDecoder(
    (packet, magic) => log(id, direction, describe(packet, magic)),
    {
      // The admin protocol shares the port: text lines (`status`, and its answers) go here.
      onText: (line) => log(id, direction, `text ${JSON.stringify(line)}`),
    },
  );
  let decoding = true;
  from.on('data', (chunk: Buffer) => {
    if (!decoding) return;
    try {
      decoder.push(chunk);
    } catch (error) {
      decoding = false; // a ProtocolError: the stream cannot be re-synchronised
      log(id, direction, `not Gearman, no longer decoded: ${(error as Error).message}`);
    }
  });
  from.pipe(to); // forwards the same chunks, with backpressure
  from.on('error', (error) => {
    log(id, direction, `error: ${error.message}`);
    to.destroy();
  });
}

/** `SUBMIT_JOB functionName="reverse" unique="" payload=12 bytes "hello world!"` */
function describe(packet: Packet, magic: Magic): string {
  const fields = PACKET_TYPES[packet.type].fields.map((field) => {
    const value: unknown = packet[field as keyof Packet];
    return `${field}=${Buffer.isBuffer(value) ? bytes(value) : JSON.stringify(value)}`;
  });
  return [`${packet.type}`, `(${magic})`, ...fields].join(' ');
}

/** A payload's length and its first 40 bytes: as text when printable, else in hex. */
function bytes(data: Buffer): string {
  const head = data.subarray(0, 40);
  const printable = /^[\x20-\x7e\t\r\n]*$/.test(head.toString('latin1'));
  const shown = printable ? JSON.stringify(head.toString('latin1')) : head.toString('hex');
  return `${data.length} bytes ${shown}${data.length > head.length ? '…' : ''}`;
}

function log(id: number, ...words: string[]): void {
  console.log(`[${id}] ${words.join(' ')}`);
}

function hostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  if (colon === -1) return [address, 4730];
  return [address.slice(0, colon).replace(/^\[|\]$/g, ''), Number(address.slice(colon + 1))];
}

proxy.listen(listenPort, '127.0.0.1', () => {
  const { port } = proxy.address() as { port: number };
  console.log(
    `proxy listening on 127.0.0.1:${port}, forwarding to ${upstreamHost}:${upstreamPort}`,
  );
});

// Stop on Ctrl-C or SIGTERM: no new connections; the open ones are cut.
const stop = () => {
  proxy.close();
  for (const socket of open) socket.destroy();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
