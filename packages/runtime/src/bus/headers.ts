// Message headers: CloudEvents attributes (ce_*) and W3C trace context.
import { ROOT_CONTEXT, context, propagation, trace, type Context, type TextMapGetter } from '@opentelemetry/api'
import { headers as names, contentTypes } from '@autocal/contracts'
import type { IHeaders } from 'kafkajs'

export interface EventHeaderInit {
  eventId: string
  source: string
  type: string
  time: Date
  contentType?: string
}

/** CloudEvents headers of one outgoing message. */
export function eventHeaders (init: EventHeaderInit): Record<string, string> {
  const out: Record<string, string> = {
    [names.specVersion]: '1.0',
    [names.id]: init.eventId,
    [names.source]: init.source,
    [names.type]: init.type,
    [names.time]: init.time.toISOString(),
    [names.contentType]: init.contentType ?? contentTypes.protobuf
  }
  return out
}

/** Adds the W3C traceparent/tracestate of a context (the active one by default). */
export function injectContext (headers: Record<string, string>, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers)
}

/** One header as a string (kafkajs gives Buffers, arrays or undefined). */
export function headerValue (h: IHeaders | undefined, name: string): string | undefined {
  const v = h?.[name]
  if (v === undefined || v === null) return undefined
  const first = Array.isArray(v) ? v[0] : v
  if (first === undefined) return undefined
  return Buffer.isBuffer(first) ? first.toString('utf8') : String(first)
}

export function headersAsStrings (h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of Object.keys(h ?? {})) {
    const v = headerValue(h, k)
    if (v !== undefined) out[k] = v
  }
  return out
}

/** The W3C trace context headers of a message (traceparent, tracestate), as strings; empty when absent. */
export function traceCarrier (h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of ['traceparent', 'tracestate']) {
    const v = headerValue(h, name)
    if (v !== undefined) out[name] = v
  }
  return out
}

const getter: TextMapGetter<IHeaders> = {
  keys: carrier => Object.keys(carrier),
  get: (carrier, key) => headerValue(carrier, key)
}

/** The producer's trace context, carried in the headers. */
export function extractContext (h: IHeaders | undefined): Context {
  return propagation.extract(context.active(), h ?? {}, getter)
}

/**
 * The active trace context as W3C headers, to keep with a piece of work that
 * continues later outside the handler that started it (a job that ends
 * minutes later, a block dispatched by a timer). Empty when tracing is off.
 */
export function captureContext (): Record<string, string> {
  const carrier: Record<string, string> = {}
  propagation.inject(context.active(), carrier)
  return carrier
}

/** Runs fn inside a captured trace context (as is, when there is none). */
export async function withContext<T> (carrier: Record<string, string> | undefined, fn: () => Promise<T>): Promise<T> {
  if (carrier === undefined || Object.keys(carrier).length === 0) return await fn()
  return await context.with(propagation.extract(ROOT_CONTEXT, carrier), fn)
}

/**
 * Runs fn outside any trace context: for work a handler does on behalf of other
 * pieces of work (another run's task released by this one), so that what fn
 * publishes joins their own traces (found by fn) instead of the handler's.
 */
export async function outsideTrace<T> (fn: () => Promise<T>): Promise<T> {
  return await context.with(ROOT_CONTEXT, fn)
}

/** True inside a span (e.g. a consumer's `process` span). */
export function inSpan (): boolean {
  return trace.getActiveSpan() !== undefined
}
