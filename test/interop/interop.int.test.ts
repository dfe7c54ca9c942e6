/**
 * Interoperability with the other languages' Gearman implementations: Perl's Gearman::Client
 * and Gearman::Worker 2.004 (libgearman-client-perl, pure Perl), PHP's gearman extension
 * (php-gearman 2.1 on libgearman 1.1) and the C library's `gearman` tool (gearman-tools 1.1.20).
 * The scenarios and their cases per peer are in scenarios/; table.ts runs them per job server
 * (gearmand 1.1.20, and Perl's Gearman::Server 1.130 with the cells of on-gearman-server.ts).
 */
import { afterEach } from 'vitest';
import { onGearmanServer } from './scenarios/on-gearman-server.js';
import { peerClientJobs } from './scenarios/peer-client-jobs.js';
import { peerClientOutcomes } from './scenarios/peer-client-outcomes.js';
import { peerWorkerFailures } from './scenarios/peer-worker-failures.js';
import { peerWorkerJobs } from './scenarios/peer-worker-jobs.js';
import { cleanup } from './support.js';
import { runScenarios } from './table.js';

afterEach(cleanup);

runScenarios(
  onGearmanServer([
    ...peerClientJobs,
    ...peerClientOutcomes,
    ...peerWorkerJobs,
    ...peerWorkerFailures,
  ]),
);
