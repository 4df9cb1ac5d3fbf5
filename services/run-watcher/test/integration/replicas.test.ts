// Two replicas of the run-watcher on the same topic and Redis, replaying the
// same runs at the same moment: each event is published once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { collectRuns, quietLogger, realdata, settled, startWatcher, testEnv, until } from '../helpers/harness.ts'

const csv = join(realdata, 'Runs2022-hltmode.csv')

test('two replicas replaying the same runs at once publish each event once', async () => {
  const env = testEnv({ AUTOCAL_REPLAY_FILE: csv, AUTOCAL_REPLAY_FROM_RUN: '356000', AUTOCAL_REPLAY_TO_RUN: '356600' })
  const { logger } = quietLogger()
  await using collector = await collectRuns(env, logger)
  const [a, b] = await Promise.all([startWatcher(env, logger), startWatcher(env, logger)])
  await using _a = a
  await using _b = b
  await until('some runs ended', () => collector.events.some(e => e.event.change.case === 'ended'))
  await settled(() => collector.events.length, 2500)
  const ids = collector.events.map(e => e.meta.eventId)
  assert.ok(ids.length > 500, `${ids.length} events`)
  assert.equal(new Set(ids).size, ids.length, 'no event id published twice')
  const endedRuns = collector.events.filter(e => e.event.change.case === 'ended').map(e => e.event.run)
  assert.equal(new Set(endedRuns).size, endedRuns.length, 'one ended event per run')
})
