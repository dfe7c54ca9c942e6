import { randomBytes } from 'node:crypto';
import {
  type Attributes,
  type Context,
  type Counter,
  createNoopMeter,
  type Exception,
  type Histogram,
  type Link,
  type Meter,
  type MeterProvider,
  type MetricAttributes,
  type Span,
  type SpanAttributes,
  type SpanAttributeValue,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  TraceFlags,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';

// A tracer and a meter provider that only record, written against @opentelemetry/api's
// interfaces, so that the tests need no SDK.

/** A span as recorded: what was set on it, and whether it ended. */
export class RecordedSpan implements Span {
  readonly name: string;
  readonly kind: SpanKind;
  readonly attributes: Attributes;
  readonly parent: SpanContext | undefined;
  readonly events: { name: string; attributes: Attributes | undefined }[] = [];
  readonly exceptions: Exception[] = [];
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  ended = false;
  readonly #context: SpanContext;

  constructor(name: string, options: SpanOptions, parent: SpanContext | undefined) {
    this.name = name;
    this.kind = options.kind ?? SpanKind.INTERNAL;
    this.attributes = { ...options.attributes };
    this.parent = parent;
    this.#context = {
      traceId: parent?.traceId ?? randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      traceFlags: TraceFlags.SAMPLED,
    };
  }

  spanContext(): SpanContext {
    return this.#context;
  }
  setAttribute(key: string, value: SpanAttributeValue): this {
    this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: SpanAttributes): this {
    Object.assign(this.attributes, attributes);
    return this;
  }
  addEvent(name: string, attributesOrTime?: SpanAttributes | TimeInput): this {
    const attributes =
      typeof attributesOrTime === 'object' && !(attributesOrTime instanceof Date)
        ? (attributesOrTime as SpanAttributes)
        : undefined;
    this.events.push({ name, attributes });
    return this;
  }
  addLink(_link: Link): this {
    return this;
  }
  addLinks(_links: Link[]): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.status = status;
    return this;
  }
  updateName(_name: string): this {
    return this;
  }
  end(): void {
    if (this.ended) throw new Error(`span ${this.name} ended twice`);
    this.ended = true;
  }
  isRecording(): boolean {
    return !this.ended;
  }
  recordException(exception: Exception): void {
    this.exceptions.push(exception);
  }
}

/** Records every span its tracers start. */
export class RecordingTracerProvider implements TracerProvider {
  readonly spans: RecordedSpan[] = [];

  getTracer(): Tracer {
    const spans = this.spans;
    const startSpan = (name: string, options: SpanOptions = {}, context?: Context): Span => {
      const parent = context === undefined ? undefined : trace.getSpanContext(context);
      const span = new RecordedSpan(name, options, parent);
      spans.push(span);
      return span;
    };
    return {
      startSpan,
      startActiveSpan: (() => {
        throw new Error('not used by the instrumentation');
      }) as Tracer['startActiveSpan'],
    };
  }
}

/** One recorded measurement. */
export interface Measurement {
  readonly instrument: string;
  readonly value: number;
  readonly attributes: MetricAttributes;
}

/** Records every histogram and counter measurement; other instruments are no-ops. */
export class RecordingMeterProvider implements MeterProvider {
  readonly measurements: Measurement[] = [];
  /** Instrument names with their options' unit. */
  readonly units = new Map<string, string | undefined>();

  getMeter(): Meter {
    const noop = createNoopMeter();
    const record =
      (instrument: string) =>
      (value: number, attributes: MetricAttributes = {}) => {
        this.measurements.push({ instrument, value, attributes });
      };
    const meter: Meter = Object.create(noop);
    meter.createHistogram = (name, options) => {
      this.units.set(name, options?.unit);
      return { record: record(name) } as Histogram;
    };
    meter.createCounter = (name, options) => {
      this.units.set(name, options?.unit);
      return { add: record(name) } as Counter;
    };
    return meter;
  }

  /** The measurements of one instrument. */
  of(instrument: string): Measurement[] {
    return this.measurements.filter((m) => m.instrument === instrument);
  }
}
