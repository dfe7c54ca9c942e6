import diagnostics from 'node:diagnostics_channel';
import type {
  ClientRetryMessage,
  ClientSubmitContext,
  DisconnectMessage,
  ReconnectingMessage,
  WorkerJobContext,
} from '@gearmanode/core';
import { DIAGNOSTICS_CHANNELS } from '@gearmanode/core';
import {
  type Attributes,
  context,
  type MeterProvider,
  metrics,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { errorMessage, errorType, SYSTEM, serverAttributes } from './attributes.js';
import { createInstruments, type Instruments } from './metrics.js';

/** Options of `instrument()`. */
export interface InstrumentOptions {
  /** Where spans go. @default the global provider (`trace.getTracerProvider()`) */
  tracerProvider?: TracerProvider;
  /** Where metrics go. @default the global provider (`metrics.getMeterProvider()`) */
  meterProvider?: MeterProvider;
  /** Record spans. @default true */
  spans?: boolean;
  /** Record metrics. @default true */
  metrics?: boolean;
}

/** What `instrument()` returns: dispose it (or call `dispose()`) to unsubscribe. */
export interface Instrumentation extends Disposable {
  /** Unsubscribes from every channel; operations already started record nothing more. */
  dispose(): void;
}

const NAME = '@gearmanode/opentelemetry';
const VERSION = '0.1.0';

/** A started operation: its span (when spans are on) and its start time for the histograms. */
interface Started {
  readonly span: Span | undefined;
  readonly startedAt: number;
}

/**
 * Subscribes to gearmanode's diagnostics channels and turns them into OpenTelemetry spans and
 * metrics: a CLIENT span per submit, a CONSUMER span per job a worker runs, duration histograms,
 * and counters of failures, retries, reconnects and disconnects. Works for every client and
 * worker in the process, whatever the order of creation. With spans on, a submit span is the
 * child of the span active where `submit()` was called.
 * @example
 * import { instrument } from '@gearmanode/opentelemetry';
 * using _ = instrument(); // the global tracer and meter providers
 */
export function instrument(options: InstrumentOptions = {}): Instrumentation {
  const tracer: Tracer | undefined =
    options.spans === false
      ? undefined
      : (options.tracerProvider ?? trace.getTracerProvider()).getTracer(NAME, VERSION);
  const instruments: Instruments | undefined =
    options.metrics === false
      ? undefined
      : createInstruments(
          (options.meterProvider ?? metrics.getMeterProvider()).getMeter(NAME, VERSION),
        );
  const started = new WeakMap<object, Started>();
  /** The span and start time of a context that has ended, taken out of `started`. */
  const take = (ctx: object): Started | undefined => {
    const entry = started.get(ctx);
    started.delete(ctx);
    return entry;
  };

  const begin = (key: object, name: string, kind: SpanKind, attributes: Attributes): void => {
    const span = tracer?.startSpan(name, { kind, attributes }, context.active());
    started.set(key, { span, startedAt: performance.now() });
  };

  const submit = {
    start(message: unknown): void {
      const ctx = message as ClientSubmitContext;
      begin(ctx, `send ${ctx.functionName}`, SpanKind.CLIENT, {
        'messaging.system': SYSTEM,
        'messaging.destination.name': ctx.functionName,
        'messaging.operation.name': ctx.background ? 'submit_background' : 'submit',
        'messaging.operation.type': 'send',
        'messaging.message.body.size': ctx.requestBytes,
        'gearman.priority': ctx.priority,
        'gearman.background': ctx.background,
        ...(ctx.unique === '' ? {} : { 'gearman.unique': ctx.unique }),
      });
    },
    asyncEnd(message: unknown): void {
      const ctx = message as ClientSubmitContext;
      const entry = take(ctx);
      if (entry === undefined) return;
      const failed = 'error' in ctx;
      const base: Attributes = {
        'messaging.system': SYSTEM,
        'messaging.destination.name': ctx.functionName,
        'messaging.operation.name': ctx.background ? 'submit_background' : 'submit',
        ...(failed ? { 'error.type': errorType(ctx.error) } : {}),
      };
      const span = entry.span;
      if (span !== undefined) {
        span.setAttributes({
          ...serverAttributes(ctx.server),
          'gearman.response.size': ctx.responseBytes,
          'gearman.retries': ctx.retries,
          ...(ctx.handle === undefined ? {} : { 'messaging.message.id': ctx.handle }),
        });
        finish(span, failed, ctx.error);
      }
      if (instruments !== undefined) {
        const attributes = { ...base, ...serverAttributes(ctx.server) };
        instruments.submitDuration.record((performance.now() - entry.startedAt) / 1000, attributes);
        if (failed) instruments.submitFailures.add(1, base);
      }
    },
  };

  const job = {
    start(message: unknown): void {
      const ctx = message as WorkerJobContext;
      begin(ctx, `process ${ctx.functionName}`, SpanKind.CONSUMER, {
        'messaging.system': SYSTEM,
        'messaging.destination.name': ctx.functionName,
        'messaging.operation.name': 'process',
        'messaging.operation.type': 'process',
        'messaging.message.id': ctx.handle,
        'messaging.message.body.size': ctx.requestBytes,
        ...serverAttributes(ctx.server),
        ...(ctx.unique === '' ? {} : { 'gearman.unique': ctx.unique }),
      });
    },
    asyncEnd(message: unknown): void {
      const ctx = message as WorkerJobContext;
      const entry = take(ctx);
      if (entry === undefined) return;
      const failed = ctx.outcome !== 'completed';
      const outcome = ctx.outcome ?? 'abandoned';
      const span = entry.span;
      if (span !== undefined) {
        span.setAttributes({
          'gearman.outcome': outcome,
          'gearman.response.size': ctx.responseBytes,
        });
        finish(span, failed, ctx.error);
      }
      if (instruments !== undefined) {
        const base: Attributes = {
          'messaging.system': SYSTEM,
          'messaging.destination.name': ctx.functionName,
          'messaging.operation.name': 'process',
          'gearman.outcome': outcome,
          ...(failed ? { 'error.type': errorType(ctx.error) } : {}),
        };
        instruments.processDuration.record((performance.now() - entry.startedAt) / 1000, base);
        if (failed) instruments.jobFailures.add(1, base);
      }
    },
  };

  const onRetry = (message: unknown): void => {
    const retry = message as ClientRetryMessage;
    const entry = retry.context === undefined ? undefined : started.get(retry.context);
    entry?.span?.addEvent('gearman.retry', {
      'gearman.attempt': retry.attempt,
      'error.type': errorType(retry.error),
    });
    instruments?.retries.add(1, {
      'messaging.system': SYSTEM,
      'messaging.destination.name': retry.functionName,
    });
  };
  const onReconnecting = (message: unknown): void => {
    const event = message as ReconnectingMessage;
    instruments?.reconnects.add(1, {
      'messaging.system': SYSTEM,
      ...serverAttributes(event.server),
      'error.type': errorType(event.error),
    });
  };
  const onDisconnect = (message: unknown): void => {
    const event = message as DisconnectMessage;
    instruments?.disconnects.add(1, {
      'messaging.system': SYSTEM,
      ...serverAttributes(event.server),
      ...(event.error === undefined ? {} : { 'error.type': errorType(event.error) }),
    });
  };

  // Only the channels used are subscribed, by name (the module-level calls keep a channel alive
  // while subscribed); the others' hasSubscribers stays false.
  const subscriptions: [string, (message: unknown) => void][] = [
    [`tracing:${DIAGNOSTICS_CHANNELS.clientSubmit}:start`, submit.start],
    [`tracing:${DIAGNOSTICS_CHANNELS.clientSubmit}:asyncEnd`, submit.asyncEnd],
    [`tracing:${DIAGNOSTICS_CHANNELS.workerJob}:start`, job.start],
    [`tracing:${DIAGNOSTICS_CHANNELS.workerJob}:asyncEnd`, job.asyncEnd],
    [DIAGNOSTICS_CHANNELS.clientRetry, onRetry],
  ];
  if (instruments !== undefined) {
    subscriptions.push(
      [DIAGNOSTICS_CHANNELS.reconnecting, onReconnecting],
      [DIAGNOSTICS_CHANNELS.disconnect, onDisconnect],
    );
  }
  for (const [name, listener] of subscriptions) diagnostics.subscribe(name, listener);

  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    for (const [name, listener] of subscriptions) diagnostics.unsubscribe(name, listener);
  };
  return { dispose, [Symbol.dispose]: dispose };
}

/** Ends a span, with an ERROR status and the exception when the operation failed. */
function finish(span: Span, failed: boolean, error: unknown): void {
  if (failed) {
    span.setAttribute('error.type', errorType(error));
    if (error instanceof Error) span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
  }
  span.end();
}
