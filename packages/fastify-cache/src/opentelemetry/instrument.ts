import { tracingChannel } from 'node:diagnostics_channel'
import {
  context as otelContext,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api'
import {
  CALL_CHANNEL,
  INVALIDATE_CHANNEL,
  LOAD_CHANNEL,
  LOCK_WAIT_CHANNEL,
  LOOKUP_CHANNEL,
  type TraceContext,
} from '../tracing/channels.js'
import { endAttributes, failed, spanName, startAttributes } from './attributes.js'

export interface InstrumentFastkeyCacheOptions {
  /** Where spans go. @default the global tracer provider (`trace.getTracerProvider()`) */
  tracerProvider?: TracerProvider
}

const TRACER_NAME = '@fastkey/fastify-cache'
const CHANNELS = [LOOKUP_CHANNEL, CALL_CHANNEL, LOAD_CHANNEL, LOCK_WAIT_CHANNEL, INVALIDATE_CHANNEL]

/**
 * Subscribes to every fastkey tracing channel and records one span per operation (route lookup,
 * service call, load, lock wait, invalidation), a child of the context active when it began.
 * Returns the function that unsubscribes (spans still open are ended then). Each call subscribes
 * once more: call it once per process.
 */
export function instrumentFastkeyCache(options: InstrumentFastkeyCacheOptions = {}): () => void {
  const provider = options.tracerProvider
  // Resolved at each span, not now: a global provider registered later is still used.
  const tracer = (): Tracer => (provider ?? trace.getTracerProvider()).getTracer(TRACER_NAME)
  const spans = new WeakMap<object, Span>()
  const open = new Set<Span>()
  const onStart = (message: unknown) =>
    guarded(() => {
      const context = message as TraceContext
      const span = tracer().startSpan(
        spanName(context),
        { kind: SpanKind.INTERNAL, attributes: startAttributes(context) },
        otelContext.active(),
      )
      spans.set(context, span)
      open.add(span)
    })
  const onAsyncEnd = (message: unknown) =>
    guarded(() => {
      const context = message as TraceContext
      const span = spans.get(context)
      if (!span) return // began before this subscription
      spans.delete(context)
      open.delete(span)
      endSpan(span, context)
    })
  // Only the two events a span needs (start, asyncEnd), subscribed one by one: the others stay free.
  const channels = CHANNELS.map((name) => tracingChannel(name))
  for (const channel of channels) {
    channel.start.subscribe(onStart)
    channel.asyncEnd.subscribe(onAsyncEnd)
  }
  let subscribed = true
  return () => {
    if (!subscribed) return
    subscribed = false
    for (const channel of channels) {
      channel.start.unsubscribe(onStart)
      channel.asyncEnd.unsubscribe(onAsyncEnd)
    }
    for (const span of open) guarded(() => span.end())
    open.clear()
  }
}

function endSpan(span: Span, context: TraceContext): void {
  span.setAttributes(endAttributes(context))
  const error = 'error' in context ? context.error : undefined
  if (error instanceof Error) span.recordException(error)
  if (failed(context)) {
    const message = error instanceof Error ? error.message : undefined
    span.setStatus(
      message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message },
    )
  }
  span.end()
}

/**
 * Node reports a subscriber that throws as an uncaught exception (after the publish): a broken
 * exporter or tracer must never take the process, or a request, down.
 */
function guarded(work: () => void): void {
  try {
    work()
  } catch {
    // Tracing is best effort.
  }
}
