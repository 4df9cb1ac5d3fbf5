// Spans reach an OTLP/HTTP receiver when an endpoint is configured.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { trace } from '@opentelemetry/api'
import { startTelemetry } from '../../src/telemetry.ts'
import { startOtlpReceiver } from '../../../../test/helpers/otlp-receiver.ts'
import { until } from '../fixtures.ts'

test('with an OTLP endpoint, spans are exported with the service name', async () => {
  await using receiver = await startOtlpReceiver()
  const telemetry = startTelemetry({ service: 'run-watcher', endpoint: receiver.url })
  assert.equal(telemetry.enabled, true)
  trace.getTracer('test').startActiveSpan('poll oms', span => { span.setAttribute('runs', 3); span.end() })
  await telemetry.flush()
  await until('span received', () => receiver.spans.length > 0, 10_000)
  assert.equal(receiver.spans[0]?.service, 'run-watcher')
  assert.equal(receiver.spans[0]?.name, 'poll oms')
  assert.equal(Number(receiver.spans[0]?.attributes.runs), 3)
  await telemetry[Symbol.asyncDispose]()
})

test('without an endpoint, telemetry is off', async () => {
  const telemetry = startTelemetry({ service: 'x' })
  assert.equal(telemetry.enabled, false)
  await telemetry[Symbol.asyncDispose]()
})
