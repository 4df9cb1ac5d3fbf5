// Two replicas of the run-watcher on the same topic and Redis, replaying the
// same runs at the same moment: each event is published once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { readRunList } from '../../src/adapters/run-list-file.ts'
import { allDelivered, collectRuns, finishedCount, quietLogger, realdata, startWatcher, testEnv, until } from '../helpers/harness.ts'

const csv = join(realdata, 'Runs2022-hltmode.csv')

test('two replicas replaying the same runs at once publish each event once', async () => {
  const env = testEnv({ AUTOCAL_REPLAY_FILE: csv, AUTOCAL_REPLAY_FROM_RUN: '356000', AUTOCAL_REPLAY_TO_RUN: '356600' })
  const runs = (await readRunList(csv)).runs.filter(r => r.run >= 356000 && r.run <= 356600).map(r => r.run)
  const { logger, lines } = quietLogger()
  await using collector = await collectRuns(env, logger)
  const [a, b] = await Promise.all([startWatcher(env, logger), startWatcher(env, logger)])
  await using _a = a
  await using _b = b
  const endedRuns = (): number[] => collector.events.filter(e => e.event.change.case === 'ended').map(e => e.event.run)
  await until('every run of the range ended', () => new Set(endedRuns()).size === runs.length)
  // both replicas went through the whole list: whatever either would publish twice is in the topic by now
  await allDelivered(collector, 'both replicas finished the replay', () => finishedCount(lines, 'replay') === 2)
  const ids = collector.events.map(e => e.meta.eventId)
  assert.ok(ids.length > 500, `${ids.length} events`)
  assert.equal(new Set(ids).size, ids.length, 'no event id published twice')
  assert.deepEqual(endedRuns().sort((x, y) => x - y), runs.sort((x, y) => x - y), 'one ended event per run of the range')
})
