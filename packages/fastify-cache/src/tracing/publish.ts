import type { TracingChannel } from 'node:diagnostics_channel'

/**
 * Publishing sides of the tracing channels. Every operation publishes `start` then `end` when it
 * begins (its synchronous part is over), and, when it is over, `error` (if it failed), `asyncStart`
 * and `asyncEnd`: a subscriber ends its span on `asyncEnd`, whether the operation was synchronous (an
 * L1 hit) or not, with the context's outcome fields set. Callers create a context only after
 * checking `hasSubscribers`, so nobody listening costs one property read and no allocation.
 */
export function begin<C extends object>(channel: TracingChannel<unknown, C>, context: C): C {
  channel.start.publish(context)
  channel.end.publish(context)
  return context
}

export function finish<C extends object>(
  channel: TracingChannel<unknown, C>,
  context: C,
  error?: unknown,
): void {
  if (error !== undefined) {
    ;(context as { error?: unknown }).error = error
    channel.error.publish(context)
  }
  channel.asyncStart.publish(context)
  channel.asyncEnd.publish(context)
}
