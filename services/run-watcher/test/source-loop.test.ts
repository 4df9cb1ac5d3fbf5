import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { Registry } from 'prom-client'
import { createLogger } from '@autocal/runtime'
import { createSourceMetrics, startSourceLoop } from '../src/source-loop.ts'
import { until } from '../../../test/helpers/until.ts'

const logger = createLogger({ service: 'run-watcher', level: 'fatal', destination: new Writable({ write (_c, _e, done) { done() } }) })

test('a failing source is retried with backoff, counted, and never stops another source', async t => {
  const registry = new Registry()
  const metrics = createSourceMetrics(registry)
  let failing = 0
  let healthy = 0
  const bad = startSourceLoop({
    name: 'oms',
    logger,
    metrics,
    intervalMs: 1,
    backoffBaseMs: 1,
    backoffMaxMs: 4,
    work: async () => {
      failing++
      if (failing <= 3) throw new Error(`OMS /runs answered 500 (${failing})`)
      return 'again'
    }
  })
  const good = startSourceLoop({ name: 'replay', logger, metrics, intervalMs: 1, work: async () => { healthy++; return healthy >= 5 ? 'done' : 'again' }, info: () => ({ healthy }) })
  t.after(async () => { await bad.stop(); await good.stop() })
  await until('the failing source retried and the healthy one polled', () => failing > 4 && healthy >= 5, 10_000, 5)
  assert.equal(bad.status().errors, 3)
  assert.equal(bad.status().ok, true, 'recovered')
  assert.match(bad.status().lastError ?? '', /answered 500 \(3\)/)
  assert.deepEqual(good.status().info, { healthy: 5 })
  const text = await registry.metrics()
  assert.match(text, /autocal_source_errors_total\{source="oms"\} 3/)
  assert.match(text, /autocal_source_errors_total\{source="replay"\} 0/)
  assert.match(text, /autocal_source_last_success_seconds\{source="replay"\} \d/)
  assert.match(text, /autocal_source_last_success_age_seconds\{source="oms"\} \d/)
})

test('a source that keeps failing shows as not ok with its last error', async t => {
  const metrics = createSourceMetrics(new Registry())
  let tries = 0
  const loop = startSourceLoop({ name: 't0', logger, metrics, intervalMs: 1, backoffBaseMs: 1, backoffMaxMs: 2, work: async () => { tries++; throw new Error('Tier-0 firstconditionsaferun answered 503') } })
  t.after(async () => { await loop.stop() })
  await until('three tries', () => tries >= 3, 10_000, 5)
  const status = loop.status()
  assert.equal(status.ok, false)
  assert.equal(status.lastSuccess, undefined)
  assert.match(status.lastError ?? '', /answered 503/)
})
