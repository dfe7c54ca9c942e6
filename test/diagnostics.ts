import diagnostics from 'node:diagnostics_channel';

/** One event seen on a TracingChannel: which of its channels, and the context object. */
export interface TraceEvent<C> {
  readonly phase: 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';
  readonly context: C;
  /** A copy of the context at the time of the event (the object is filled in as it goes). */
  readonly snapshot: C;
}

/** The phases of a traced call that failed, in the order TracingChannel's tracePromise gives. */
export const FAILED_PHASES: readonly TraceEvent<object>['phase'][] = [
  'start',
  'end',
  'error',
  'asyncStart',
  'asyncEnd',
];

/** What `recordTrace` returns: the events so far, filtered and grouped, and the unsubscribe. */
export interface TraceRecorder<C> extends Disposable {
  readonly events: TraceEvent<C>[];
  /** The phases seen for one context object, in order. */
  phasesOf(context: C): TraceEvent<C>['phase'][];
  /** The distinct context objects, in the order of their first event. */
  contexts(): C[];
}

/**
 * Subscribes to every channel of the TracingChannel `name` and records the events whose context
 * passes `filter` (tests share the process with other traffic, e.g. their test worker).
 */
export function recordTrace<C extends object>(
  name: string,
  filter: (context: C) => boolean = () => true,
): TraceRecorder<C> {
  const channel = diagnostics.tracingChannel<unknown, C>(name);
  const events: TraceEvent<C>[] = [];
  const on =
    (phase: TraceEvent<C>['phase']) =>
    (context: C): void => {
      if (filter(context)) events.push({ phase, context, snapshot: { ...context } });
    };
  const subscribers = {
    start: on('start'),
    end: on('end'),
    asyncStart: on('asyncStart'),
    asyncEnd: on('asyncEnd'),
    error: on('error'),
  };
  channel.subscribe(subscribers);
  return {
    events,
    phasesOf: (context) => events.filter((e) => e.context === context).map((e) => e.phase),
    contexts: () => [...new Set(events.map((e) => e.context))],
    [Symbol.dispose]: () => channel.unsubscribe(subscribers),
  };
}

/** What `recordChannel` returns: the messages so far and the unsubscribe. */
export interface ChannelRecorder<M> extends Disposable {
  readonly messages: M[];
}

/** Subscribes to the plain channel `name` and records the messages that pass `filter`. */
export function recordChannel<M>(
  name: string,
  filter: (message: M) => boolean = () => true,
): ChannelRecorder<M> {
  const messages: M[] = [];
  const listener = (message: unknown): void => {
    if (filter(message as M)) messages.push(message as M);
  };
  diagnostics.subscribe(name, listener);
  return { messages, [Symbol.dispose]: () => diagnostics.unsubscribe(name, listener) };
}
