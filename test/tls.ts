import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A PEM certificate and its PEM private key. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** What {@link makeTestCertificates} made, all in PEM. */
export interface TestCertificates extends Disposable {
  /** The temporary directory holding the files; removed by `remove()`. */
  readonly dir: string;
  /** The test CA that clients are told to trust (`tls: { ca }`). */
  readonly ca: string;
  /** For `localhost` and 127.0.0.1, signed by `ca`: verification passes. */
  readonly good: KeyPair;
  /** For `wrong-host.invalid` only, signed by `ca`: the host name check fails. */
  readonly wrongHost: KeyPair;
  /** For `localhost` and 127.0.0.1, signed by a second CA nobody trusts: the chain check fails. */
  readonly unknownCa: KeyPair;
  /** A client certificate (clientAuth) signed by `ca`, for servers that ask for one. */
  readonly client: KeyPair;
  /** Deletes `dir`. Idempotent. */
  remove(): void;
}

// P-256 keys take milliseconds to make, where RSA takes a second on a slow machine.
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const GOOD_NAMES = 'DNS:localhost,IP:127.0.0.1';

/**
 * Makes a test CA, a server certificate it signs for `localhost` and 127.0.0.1, one it signs
 * for another host name, and one signed by a second, untrusted CA, in a new temporary directory.
 *
 * Node can parse certificates but not make them, so this runs the `openssl` command-line tool
 * (Debian: `apt-get install openssl`). Rejects with an install hint when it is missing.
 */
export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = mkdtempSync(join(tmpdir(), 'gearmanode-tls-'));
  const path = (name: string) => join(dir, name);
  const openssl = async (...args: string[]): Promise<void> => {
    try {
      await run('openssl', args, { cwd: dir });
    } catch (error) {
      const hint =
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'openssl not found; the TLS tests need it: `apt-get install openssl` (Debian/Ubuntu)'
          : `openssl ${args.join(' ')} failed`;
      throw new Error(hint, { cause: error });
    }
  };

  const makeCa = (name: string) =>
    openssl(
      'req',
      '-x509',
      ...KEY,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=gearmanode ${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );

  // A certificate request, then the CA's signature over it with the extensions a TLS server
  // certificate needs; the subjectAltName is what Node checks the host name against.
  const makeLeaf = async (
    name: string,
    ca: string,
    altNames: string,
    usage = 'serverAuth',
  ): Promise<KeyPair> => {
    await openssl(
      'req',
      ...KEY,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      '/CN=server',
    );
    writeFileSync(
      path(`${name}.ext`),
      `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=${usage}\nsubjectAltName=${altNames}\n`,
    );
    await openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`, // unique per certificate, as a CA must
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    );
    return {
      cert: readFileSync(path(`${name}.pem`), 'utf8'),
      key: readFileSync(path(`${name}.key`), 'utf8'),
    };
  };

  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    await Promise.all([makeCa('ca'), makeCa('other-ca')]);
    const [good, wrongHost, unknownCa, client] = await Promise.all([
      makeLeaf('good', 'ca', GOOD_NAMES),
      makeLeaf('wrong-host', 'ca', 'DNS:wrong-host.invalid'),
      makeLeaf('unknown-ca', 'other-ca', GOOD_NAMES),
      makeLeaf('client', 'ca', 'DNS:client.invalid', 'clientAuth'),
    ]);
    return {
      dir,
      ca: readFileSync(path('ca.pem'), 'utf8'),
      good,
      wrongHost,
      unknownCa,
      client,
      remove,
      [Symbol.dispose]: remove,
    };
  } catch (error) {
    remove();
    throw error;
  }
}

/** Options of {@link startTlsFront}. */
export interface TlsFrontOptions extends KeyPair {
  /** Where the plaintext goes, e.g. gearmand. */
  target: { host: string; port: number };
}

/** A TLS terminator listening on 127.0.0.1. */
export interface TlsFront extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** TLS handshakes that completed, and so connections passed on to the target. */
  readonly handshakes: number;
  /** Handshakes that failed, with the server side's error (the client's is what tests check). */
  readonly failures: readonly Error[];
  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a TLS server on 127.0.0.1 and a free port that terminates TLS with `cert` and `key`
 * and pipes the plaintext to `target`. Debian's gearmand ignores `--ssl`, so the TLS tests put
 * this in front of it.
 */
export async function startTlsFront(options: TlsFrontOptions): Promise<TlsFront> {
  const sockets = new Set<Socket>();
  const failures: Error[] = [];
  let handshakes = 0;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const server = createServer({ cert: options.cert, key: options.key }, (secure: TLSSocket) => {
    handshakes++;
    const plain = connect(options.target);
    track(secure);
    track(plain);
    // pipe() honours backpressure both ways; an error or close on either side ends both.
    secure.pipe(plain).pipe(secure);
    for (const socket of [secure, plain]) {
      socket.on('error', () => {
        secure.destroy();
        plain.destroy();
      });
      socket.once('close', () => {
        secure.destroy();
        plain.destroy();
      });
    }
  });
  // A client that refuses our certificate ends the handshake: expected in the refusal tests.
  server.on('tlsClientError', (error, socket) => {
    failures.push(error);
    socket.destroy();
  });
  server.on('connection', track);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = address !== null && typeof address === 'object' ? address.port : 0;

  const close = async (): Promise<void> => {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    const closing = [...sockets].map(
      (socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())),
    );
    for (const socket of sockets) socket.destroy();
    await Promise.all([stopped, ...closing]);
  };

  return {
    host: '127.0.0.1',
    port,
    get handshakes() {
      return handshakes;
    },
    failures,
    close,
    [Symbol.asyncDispose]: close,
  };
}
