/**
 * The interop suite as one table: every scenario says which side is ours, what the peer does and
 * what must come out, and holds one case per peer (the PHP, Perl and C implementations of
 * Gearman). `runScenarios()` runs the table against each job server in `SERVERS`, for each peer
 * in `PEERS`.
 *
 * - A new peer is one entry in `PEERS`. Until a scenario has a case for it, the scenario shows
 *   up as a todo test for that peer, so the gaps are listed, never skipped without a word.
 * - A combination that cannot work (a feature the peer lacks, a bug of another peer) is an
 *   explicit `unsupported(reason)` cell, and one that another scenario's case already tests a
 *   `coveredBy(scenario)` cell: a skipped test whose name gives the reason.
 * - A new job server is one entry in `SERVERS`: cases reach it only through the `server`
 *   address and `startServer()` of their context.
 */
import { afterAll, beforeAll, describe, inject, test } from 'vitest';
import { startGearmanServer } from '../gearman-server.js';
import { startGearmand } from '../gearmand.js';
import { defer, type Server } from './support.js';

/** The peers: the other languages' Gearman libraries and tools. */
const PEERS = [
  { id: 'perl', client: 'Perl Gearman::Client', worker: 'Perl Gearman::Worker' },
  { id: 'php', client: 'PHP GearmanClient', worker: 'PHP GearmanWorker' },
  { id: 'cli', client: 'gearman CLI client', worker: 'gearman CLI worker' },
] as const;

export type PeerId = (typeof PEERS)[number]['id'];

/** What a scenario may ask of a job server started for it alone. */
export interface ServerOptions {
  /** Fail a job after this many workers lost it (gearmand `--job-retries`). */
  jobRetries?: number;
}

/** A job server the table runs against. */
export interface ServerTarget {
  readonly name: ServerName;
  /** The shared server of the test run (after `launch()`, if there is one). */
  address(): Server;
  /** Starts the shared server before the target's tests; resolves with its `stop`. */
  launch?(): Promise<() => Promise<void>>;
  /** Starts a server of this kind for one case; stopped in `cleanup()`. */
  start?(options: ServerOptions): Promise<Server>;
}

/** The job servers: gearmand 1.1.20, and Perl's Gearman::Server 1.130 (see its cells). */
export type ServerName = 'gearmand' | 'Gearman::Server';

let gearmanServer: Server | undefined;

const SERVERS: readonly ServerTarget[] = [
  {
    name: 'gearmand',
    address: () => inject('gearman'),
    async start({ jobRetries }) {
      const args = jobRetries === undefined ? [] : ['--job-retries', String(jobRetries)];
      const gearmand = await startGearmand({ args });
      defer(() => gearmand.stop());
      return { host: gearmand.host, port: gearmand.port };
    },
  },
  {
    name: 'Gearman::Server',
    address: () => {
      if (gearmanServer === undefined) throw new Error('Gearman::Server is not running');
      return gearmanServer;
    },
    async launch() {
      const server = await startGearmanServer();
      gearmanServer = { host: server.host, port: server.port };
      return () => server.stop();
    },
    async start({ jobRetries }) {
      if (jobRetries !== undefined) throw new Error('Gearman::Server has no --job-retries');
      const server = await startGearmanServer();
      defer(() => server.stop());
      return { host: server.host, port: server.port };
    },
  },
];

/** What a case gets: the server under test, and a way to start one of its own. */
export interface CaseContext {
  readonly server: Server;
  readonly serverName: string;
  startServer(options?: ServerOptions): Promise<Server>;
}

type Case = (context: CaseContext) => Promise<void>;

interface Unsupported {
  readonly unsupported: string;
  /** The scenario whose case covers this one. */
  readonly covered?: string;
}

/** A cell for a peer that cannot take part in a scenario, and why. */
export function unsupported(reason: string): Unsupported {
  return { unsupported: reason };
}

/** A cell for a peer whose case for this scenario is part of another scenario's case. */
export function coveredBy(scenario: string): Unsupported {
  return { unsupported: `covered by "${scenario}"`, covered: scenario };
}

/** One case, several named variants of it (each its own test), or none, with the reason. */
export type Cell = Case | Readonly<Record<string, Case>> | Unsupported;

export interface Scenario {
  readonly name: string;
  /** Which side is ours: our worker serves the peer's client, or our client uses its worker. */
  readonly ours: 'worker' | 'client';
  /** What the peer does. */
  readonly peer: string;
  /** What must come out. */
  readonly expected: string;
  /** The cases start a job server of their own (`startServer()`), e.g. with other options. */
  readonly needs?: 'own-server';
  readonly cases: Partial<Record<PeerId, Cell>>;
  /**
   * Cells for one server that replace `cases` there: a case that expects what that server does
   * instead (an ERR_SERVER for a request it lacks), or `unsupported(reason)`.
   */
  readonly on?: Partial<Record<ServerName, Partial<Record<PeerId, Cell>>>>;
}

/** Defines the tests of `scenarios`: per server, per peer, per side. */
export function runScenarios(scenarios: readonly Scenario[]): void {
  const names = new Set(scenarios.map((scenario) => scenario.name));
  for (const scenario of scenarios) {
    for (const cell of Object.values(scenario.cases)) {
      if (
        typeof cell === 'object' &&
        typeof cell.covered === 'string' &&
        !names.has(cell.covered)
      ) {
        throw new Error(`"${scenario.name}" is covered by "${cell.covered}", which is no scenario`);
      }
    }
  }
  for (const target of SERVERS) {
    describe(`on ${target.name}`, () => {
      const launch = target.launch;
      if (launch !== undefined) {
        let stop: (() => Promise<void>) | undefined;
        beforeAll(async () => {
          stop = await launch();
        });
        afterAll(() => stop?.());
      }
      for (const peer of PEERS) {
        for (const ours of ['worker', 'client'] as const) {
          const title =
            ours === 'worker' ? `${peer.client} → our worker` : `our client → ${peer.worker}`;
          describe(title, () => {
            for (const scenario of scenarios) {
              if (scenario.ours !== ours) continue;
              const override = scenario.on?.[target.name];
              const cell =
                override !== undefined && peer.id in override
                  ? override[peer.id]
                  : scenario.cases[peer.id];
              define(scenario, cell, target);
            }
          });
        }
      }
    });
  }
}

function define(scenario: Scenario, cell: Cell | undefined, target: ServerTarget): void {
  const name = scenario.name;
  if (cell === undefined) {
    test.todo(`${name} (no case for this peer yet)`);
    return;
  }
  if ('unsupported' in cell && typeof cell.unsupported === 'string') {
    // Listed, not run: the reason is in the name.
    test.skip(`${name} (${cell.unsupported.startsWith('covered by') ? '' : 'unsupported: '}${cell.unsupported})`, () => {});
    return;
  }
  const start = target.start;
  if (scenario.needs === 'own-server' && start === undefined) {
    test.skip(`${name} (unsupported: ${target.name} cannot start a server for one case)`, () => {});
    return;
  }
  const context = (): CaseContext => ({
    server: target.address(),
    serverName: target.name,
    startServer: async (options = {}) => {
      if (start === undefined || scenario.needs !== 'own-server') {
        throw new Error(`scenario "${name}" must declare needs: 'own-server'`);
      }
      return start.call(target, options);
    },
  });
  if (typeof cell === 'function') {
    test(name, () => cell(context()));
    return;
  }
  for (const [variant, run] of Object.entries(cell as Record<string, Case>)) {
    test(`${name} (${variant})`, () => run(context()));
  }
}
