// The server-sent-event stream of the status API: task and condition changes
// arrive as `event: task` / `event: condition` with the view as JSON data.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { topics } from '@autocal/contracts'
import { startProducer } from '@autocal/runtime'
import { startMetricsService } from '../../src/app.ts'
import { conditionOutcome, Outcome, taskEvent, TaskState } from './events.ts'
import { cleanUp, quietLogger, testConfig } from './fixtures.ts'

test('a client of /api/v1/events receives task and condition changes as they are applied', async t => {
  const config = testConfig()
  const logger = quietLogger()
  const producer = await startProducer({ config, logger, service: 'test' })
  const service = await startMetricsService(config, logger)
  const abort = new AbortController()
  t.after(async () => {
    abort.abort()
    await service[Symbol.asyncDispose]()
    await producer[Symbol.asyncDispose]()
    await cleanUp(config, logger)
  })
  const res = await fetch(`${service.url}/api/v1/events`, { signal: abort.signal })
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'text/event-stream')
  const now = Date.now()
  await producer.publish(topics.tasks, taskEvent({ task: 'timing-calib', run: 355100, state: TaskState.DONE, version: 3, atMs: now }))
  await producer.publish(topics.conditions, conditionOutcome('timing-calib', 355100, Outcome.UPLOADED, now))

  const events: Array<{ event: string, data: any }> = []
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true })
    let end: number
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const event = /^event: (.*)$/m.exec(block)?.[1]
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) })
    }
    if (events.length >= 2) break
  }
  const task = events.find(e => e.event === 'task')
  const condition = events.find(e => e.event === 'condition')
  assert.equal(task?.data.key, 'prompt/run-355100/timing-calib')
  assert.equal(task?.data.state, 'done')
  assert.equal(condition?.data.outcome, 'uploaded')
  assert.equal(condition?.data.since, '355100')
})
