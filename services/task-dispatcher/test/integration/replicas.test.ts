// Two dispatcher processes on one topic prefix and Redis prefix, one of them
// SIGKILLed mid-stream: the job requests are the ones the example workflows
// ask for, each dispatched once (no second dispatch of any attempt), none missing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { startProducer } from '@autocal/runtime'
import { topics } from '@autocal/contracts'
import { FIRST, LAST, expectedLive } from './expected.ts'
import { goldenRuns, realRuns, runEvents, silentLogger, spawnDispatcher, startBackends, startedJobs, stopDispatcher, testConfig, until } from './fixtures.ts'

test('two replicas with one SIGKILLed mid-stream request every expected job once and none twice', { timeout: 240_000 }, async t => {
  const config = testConfig()
  const runs = realRuns(FIRST, LAST)
  const expected = expectedLive(runs, goldenRuns())

  await using backends = await startBackends(config)
  const replicas = [
    await spawnDispatcher(config, { AUTOCAL_INSTANCE_ID: 'replica-a' }),
    await spawnDispatcher(config, { AUTOCAL_INSTANCE_ID: 'replica-b' })
  ]
  t.after(async () => { for (const r of replicas) await stopDispatcher(r) })
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  await producer.publishMany(topics.runs, runEvents(runs))

  await until('a third of the job requests', () => startedJobs(backends).size >= expected.jobs.size / 3, 120_000)
  // kill the replica that has dispatched more so far: it is the one doing the work
  const dispatched = replicas.map(r => readFileSync(r.log, 'utf8').split('"jobs requested"').length)
  const victim = replicas[dispatched[0] as number >= (dispatched[1] as number) ? 0 : 1]
  assert.ok(victim !== undefined)
  const before = startedJobs(backends).size
  await stopDispatcher(victim, 'SIGKILL')
  t.diagnostic(`SIGKILLed a replica after ${before} of ${expected.jobs.size} job requests`)

  await until('every expected job request', () => [...expected.jobs].every(j => startedJobs(backends).has(j)), 150_000)
  await until('every expected condition request', () => [...expected.conditions].every(id => backends.conditionRequests.some(c => c.requestId === id)), 60_000)
  await until('the system at rest', backends.atRest, 60_000, 500) // every consumer handled everything: a second dispatch would show now

  assert.ok(before < expected.jobs.size, 'the kill happened mid-stream')
  assert.deepEqual([...startedJobs(backends)].sort(), [...expected.jobs].sort(), 'the same job requests as one replica: none missing, no extra attempt or try')
  const starts = backends.requests.filter(r => r.message.action.case === 'start')
  const byEvent = new Map<string, string>()
  for (const s of starts) {
    const body = JSON.stringify({ id: s.message.jobId, try: s.message.try, argv: s.message.action.case === 'start' ? s.message.action.value.argv : [] })
    assert.equal(byEvent.get(s.eventId) ?? body, body, `a repeated event ${s.eventId} carries the same request`)
    byEvent.set(s.eventId, body)
  }
  assert.equal(byEvent.size, expected.jobs.size, 'one dispatch (event id) per job attempt')
  t.diagnostic(`${starts.length} start messages for ${byEvent.size} dispatches (${starts.length - byEvent.size} redelivered copies with the same event id)`)
})
