// The fill's end from OMS (issue 15, fill blocks that end): the OMS poller
// reads the end of the fills of the runs it polls from OMS's fills resource
// (a local stand-in speaking its JSON:API format) and announces it with the
// runs: ended runs carry Run.fill_end_time, and a fill that ends later is an
// update of its runs (changed field fill_end_time), once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { readRunList } from '../../src/adapters/run-list-file.ts'
import { startOmsStandIn } from '../helpers/oms-stand-in.ts'
import { allDelivered, collectRuns, omsRoundsSince, quietLogger, realdata, startWatcher, testEnv, until } from '../helpers/harness.ts'

test('the end of a fill reported by OMS reaches the runs topic with the fill\'s runs, once', async () => {
  // fills 8120 (357400, 357401) and 8121 of the real 2022 run list
  const runs = (await readRunList(join(realdata, 'Runs2022-hltmode.csv'))).runs.filter(r => r.run >= 357400 && r.run <= 357406)
  assert.deepEqual([...new Set(runs.map(r => r.fill))], [8120, 8121])
  const { logger } = quietLogger()
  await using oms = await startOmsStandIn(runs)
  const fill8120End = Date.parse('2022-08-12T23:04:00Z')
  oms.fills = [{ fill: 8120, endMs: fill8120End }, { fill: 8121 }]
  const env = testEnv({
    AUTOCAL_OMS_URL: oms.url,
    AUTOCAL_OMS_POLL_MS: '300',
    AUTOCAL_OMS_FIRST_RUN: '357400',
    AUTOCAL_OMS_TOKEN_URL: oms.tokenUrl,
    AUTOCAL_OMS_CLIENT_ID: 'autocal',
    AUTOCAL_OMS_CLIENT_SECRET: 'client-secret'
  })
  await using polled = await collectRuns(env, logger)
  await using _watcher = await startWatcher(env, logger)
  await until('every run ended', () => polled.events.filter(e => e.event.change.case === 'ended').length === runs.length)
  const endOf = (run: number): number | undefined => {
    const e = polled.events.filter(x => x.event.run === run && (x.event.change.case === 'ended' || x.event.change.case === 'updated')).at(-1)?.event.change
    const t = e?.case === 'ended' || e?.case === 'updated' ? e.value.run?.fillEndTime : undefined
    return t === undefined ? undefined : Number(t.seconds) * 1000
  }
  assert.equal(endOf(357400), fill8120End)
  assert.equal(endOf(357401), fill8120End)
  assert.equal(endOf(357406), undefined, 'fill 8121 goes on')
  const fillsAsked = oms.requests.find(r => r.path === '/api/v1/fills')
  assert.equal(fillsAsked?.query.get('fields[fills]'), 'fill_number,end_time')

  // fill 8121 ends: its runs are updated with it, once each
  const fill8121End = Date.parse('2022-08-13T12:00:00Z')
  oms.fills = [{ fill: 8120, endMs: fill8120End }, { fill: 8121, endMs: fill8121End }]
  const at = oms.requests.length
  await allDelivered(polled, 'two OMS rounds after the fill ended', () => omsRoundsSince(oms.requests, at) >= 2)
  const updates = polled.events.filter(e => e.event.change.case === 'updated')
  const of8121 = runs.filter(r => r.fill === 8121).map(r => r.run)
  assert.deepEqual(updates.map(u => u.event.run).sort(), of8121.sort())
  for (const u of updates) {
    assert.ok(u.event.change.case === 'updated')
    assert.deepEqual(u.event.change.value.changedFields, ['fill_end_time'])
    assert.equal(endOf(u.event.run), fill8121End)
  }
})
