// Spans reach Jaeger (the real one, over OTLP/HTTP) when an endpoint is configured.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { trace } from '@opentelemetry/api'
import { startTelemetry } from '../../src/telemetry.ts'
import { startJaeger } from '../../../../test/helpers/jaeger.ts'
import { until } from '../fixtures.ts'

test('with an OTLP endpoint, spans are exported to Jaeger with the service name and attributes', { timeout: 300_000 }, async () => {
  await using jaeger = await startJaeger()
  const telemetry = startTelemetry({ service: 'run-watcher', endpoint: jaeger.otlpUrl })
  assert.equal(telemetry.enabled, true)
  trace.getTracer('test').startActiveSpan('poll oms', span => { span.setAttribute('runs', 3); span.end() })
  await telemetry.flush()
  await until('span stored in Jaeger', async () => (await jaeger.traces('run-watcher')).length > 0, 20_000)
  const [found] = await jaeger.traces('run-watcher')
  const span = found?.spans[0]
  assert.equal(span?.service, 'run-watcher')
  assert.equal(span?.operationName, 'poll oms')
  assert.equal(Number(span?.tags.runs), 3)
  await telemetry[Symbol.asyncDispose]()
})

test('without an endpoint, telemetry is off', async () => {
  const telemetry = startTelemetry({ service: 'x' })
  assert.equal(telemetry.enabled, false)
  await telemetry[Symbol.asyncDispose]()
})
