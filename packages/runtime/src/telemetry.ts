// OpenTelemetry tracing. Started first in every service's index.ts. Off (no
// provider, no exporter) when no OTLP endpoint is configured. The bus makes
// the Kafka spans itself and carries W3C trace context in message headers,
// so no monkey-patching instrumentation is needed (and ESM import order does
// not matter for it).
import { trace } from '@opentelemetry/api'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor, type SpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions'

export interface TelemetryOptions {
  service: string
  /** OTLP/HTTP (JSON) traces URL, e.g. http://127.0.0.1:4318/v1/traces. */
  endpoint?: string | undefined
  /** Export to this exporter instead (tests: InMemorySpanExporter), synchronously. */
  exporter?: SpanExporter
}

export interface Telemetry extends AsyncDisposable {
  readonly enabled: boolean
  /** Sends buffered spans now. */
  flush: () => Promise<void>
}

export function startTelemetry (options: TelemetryOptions): Telemetry {
  const processors = options.exporter !== undefined
    ? [new SimpleSpanProcessor(options.exporter)]
    : options.endpoint !== undefined
      // a burst (a run list replayed at once) must not overflow the queue and drop spans
      ? [new BatchSpanProcessor(new OTLPTraceExporter({ url: options.endpoint }), { scheduledDelayMillis: 500, maxQueueSize: 65_536, maxExportBatchSize: 4096 })]
      : []
  if (processors.length === 0) {
    return { enabled: false, flush: async () => {}, [Symbol.asyncDispose]: async () => {} }
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.service, [ATTR_SERVICE_VERSION]: '0.1.0' }),
    spanProcessors: processors
  })
  provider.register()
  return {
    enabled: true,
    flush: async () => { await provider.forceFlush() },
    [Symbol.asyncDispose]: async () => {
      await provider.shutdown()
      trace.disable()
    }
  }
}
