import { type Counter, type Histogram, type Meter, ValueType } from '@opentelemetry/api';

/** The instruments `instrument()` records to; see the README for names, units and attributes. */
export interface Instruments {
  /** `messaging.client.operation.duration`: a submit, from the call until it settled. */
  readonly submitDuration: Histogram;
  /** `messaging.process.duration`: a job on the worker, from hand-out until it settled. */
  readonly processDuration: Histogram;
  /** `gearman.client.submit.failures`: submits that rejected, per function and error.type. */
  readonly submitFailures: Counter;
  /** `gearman.worker.job.failures`: jobs that did not complete, per function and outcome. */
  readonly jobFailures: Counter;
  /** `gearman.client.retries`: submits sent again after a lost connection. */
  readonly retries: Counter;
  /** `gearman.connection.reconnects`: failed connection attempts followed by another. */
  readonly reconnects: Counter;
  /** `gearman.connection.disconnects`: ready connections that lost their socket. */
  readonly disconnects: Counter;
}

// Bucket boundaries in seconds: a Gearman job runs from well under a millisecond to minutes.
const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

/** Creates the instruments on `meter`. */
export function createInstruments(meter: Meter): Instruments {
  const duration = (name: string, description: string): Histogram =>
    meter.createHistogram(name, {
      description,
      unit: 's',
      valueType: ValueType.DOUBLE,
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
  const counter = (name: string, description: string, unit: string): Counter =>
    meter.createCounter(name, { description, unit, valueType: ValueType.INT });
  return {
    submitDuration: duration(
      'messaging.client.operation.duration',
      'Duration of Gearman submits, from the call until the result (or JOB_CREATED)',
    ),
    processDuration: duration(
      'messaging.process.duration',
      'Duration of Gearman jobs on the worker, from hand-out until settled',
    ),
    submitFailures: counter(
      'gearman.client.submit.failures',
      'Gearman submits that failed',
      '{submit}',
    ),
    jobFailures: counter(
      'gearman.worker.job.failures',
      'Gearman jobs that did not complete',
      '{job}',
    ),
    retries: counter('gearman.client.retries', 'Gearman submits sent again', '{retry}'),
    reconnects: counter(
      'gearman.connection.reconnects',
      'Failed connection attempts to a Gearman server that another attempt follows',
      '{attempt}',
    ),
    disconnects: counter(
      'gearman.connection.disconnects',
      'Connections to a Gearman server that were lost',
      '{disconnect}',
    ),
  };
}
