// The replay source over the real 2022 run list, on real Kafka and Redis.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { timestampDate } from '@bufbuild/protobuf/wkt'
import { connectRedis, loadConfig } from '@autocal/runtime'
import { Config } from '../../src/config.ts'
import { allDelivered, collectRuns, finishedCount, quietLogger, realdata, startWatcher, testEnv, until, type Collected } from '../helpers/harness.ts'

const csv = join(realdata, 'Runs2022-hltmode.csv')

interface Expected { run: number, fill: number, era: string, start: string, end: string, recorded: number, delivered: number, runClass: string }

/** The file read by Python's csv module: an independent reading of the same export. */
function expectedRuns (): Expected[] {
  const py = `
import csv, json, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r['run_number'] != 'run_number']
print(json.dumps([{'run': int(r['run_number']), 'fill': int(r['fill_number'] or 0), 'era': r['era'],
  'start': r['start_time'].replace(' ', 'T') + 'Z', 'end': r['end_time'].replace(' ', 'T') + 'Z',
  'recorded': float(r['recorded_lumi'] or 0), 'delivered': float(r['delivered_lumi'] or 0),
  'runClass': r['l1_hlt_mode_stripped'].split('/')[0].lower()} for r in rows]))`
  const out = spawnSync('python3', ['-c', py, csv], { encoding: 'utf8', maxBuffer: 64 << 20 })
  assert.equal(out.status, 0, out.stderr)
  return JSON.parse(out.stdout)
}

function endedByRun (events: Collected[]): Map<number, Collected[]> {
  const out = new Map<number, Collected[]>()
  for (const e of events) {
    if (e.event.change.case !== 'ended') continue
    out.set(e.event.run, [...(out.get(e.event.run) ?? []), e])
  }
  return out
}

test('replaying the real run list emits exactly one ended event per run with its fill, era, luminosity and times', async () => {
  const expected = expectedRuns()
  assert.equal(expected.length, 3990)
  const env = testEnv({ AUTOCAL_REPLAY_FILE: csv, AUTOCAL_REPLAY_SCALE: '0' })
  const { logger, lines } = quietLogger()
  await using collector = await collectRuns(env, logger)
  await using _watcher = await startWatcher(env, logger)
  await until('every run ended', () => endedByRun(collector.events).size === expected.length, 240_000)
  await allDelivered(collector, 'the replay finished', () => finishedCount(lines, 'replay') === 1)
  const ended = endedByRun(collector.events)
  for (const want of expected) {
    const got = ended.get(want.run)
    assert.equal(got?.length, 1, `run ${want.run}: one ended event`)
    const change = got[0]!.event.change
    assert.ok(change.case === 'ended' && change.value.run !== undefined)
    const run = change.value.run
    assert.equal(run.fill, want.fill, `run ${want.run} fill`)
    assert.equal(run.era, want.era, `run ${want.run} era`)
    assert.equal(run.recordedLumiPb, want.recorded, `run ${want.run} recorded lumi`)
    assert.equal(run.deliveredLumiPb, want.delivered, `run ${want.run} delivered lumi`)
    assert.equal(run.runClass, want.runClass)
    assert.equal(timestampDate(run.startTime!).toISOString(), new Date(want.start).toISOString())
    assert.equal(timestampDate(run.endTime!).toISOString(), new Date(want.end).toISOString())
    assert.equal(got[0]!.meta.key, String(want.run))
    assert.match(got[0]!.meta.eventId, new RegExp(`^runs/${want.run}/2/ended/[0-9a-f]{32}$`), 'the second change of the run (after started)')
  }
  // in run order: the runs topic is keyed by run, so compare the order of first sight per partition-free list
  const startedOrder = collector.events.filter(e => e.event.change.case === 'started').map(e => e.event.run)
  assert.equal(new Set(startedOrder).size, expected.length)
})

test('replaying twice, restarting mid-way, or losing Redis adds no duplicate', async () => {
  // a slice of the list keeps this test short: Run2022C's first few hundred runs,
  // replayed at a scale that spreads them over about 15 seconds so a restart falls mid-way
  const runs = expectedRuns().filter(r => r.run >= 355100 && r.run <= 355700)
  const spanMs = Math.max(...runs.map(r => Date.parse(r.end))) - Math.min(...runs.map(r => Date.parse(r.start)))
  const env = testEnv({ AUTOCAL_REPLAY_FILE: csv, AUTOCAL_REPLAY_SCALE: String(Math.round(spanMs / 15_000)), AUTOCAL_REPLAY_FROM_RUN: '355100', AUTOCAL_REPLAY_TO_RUN: '355700' })
  const { logger, lines } = quietLogger()
  await using collector = await collectRuns(env, logger)

  const first = await startWatcher(env, logger)
  await until('some runs ended', () => endedByRun(collector.events).size >= 30)
  await first[Symbol.asyncDispose]() // stopped mid-way
  assert.ok(endedByRun(collector.events).size < runs.length, 'stopped before the end')

  const second = await startWatcher(env, logger)
  await until('every run ended', () => endedByRun(collector.events).size === runs.length)
  await allDelivered(collector, 'the second watcher finished the replay', () => finishedCount(lines, 'replay') === 1)
  await second[Symbol.asyncDispose]()
  const afterTwo = collector.events.length

  // the whole list again: nothing changed, nothing announced
  const third = await startWatcher({ ...env, AUTOCAL_REPLAY_SCALE: '0' }, logger)
  await allDelivered(collector, 'the third watcher finished the replay', () => finishedCount(lines, 'replay') === 2)
  await third[Symbol.asyncDispose]()
  assert.equal(collector.events.length, afterTwo, 'a second replay announces nothing')

  // Redis loses its data (this prefix's keys; the server is shared): the state is rebuilt from Kafka
  let sequences: Record<string, string>
  {
    await using redis = await connectRedis({ config: loadConfig(Config, env), logger })
    sequences = await redis.client.hgetall(redis.key('run-watcher', 'sequences'))
    assert.equal(sequences[`run:${runs[0]!.run}`], '2', 'started and ended: two changes of the run')
    const keys = await redis.client.keys(`${env.AUTOCAL_REDIS_KEY_PREFIX}*`)
    assert.ok(keys.length > 0)
    await redis.client.del(...keys)
  }
  // the replay's progress went with Redis: the whole list is replayed again (at once) against the rebuilt state
  const fourth = await startWatcher({ ...env, AUTOCAL_REPLAY_SCALE: '0' }, logger)
  await allDelivered(collector, 'the fourth watcher replayed the whole list again', () => finishedCount(lines, 'replay') === 3)
  await fourth[Symbol.asyncDispose]()
  assert.equal(collector.events.length, afterTwo, 'a restart on an empty Redis announces nothing')
  const rebuilt = lines.filter(l => l.msg === 'known runs rebuilt from the run registry and the runs topic').at(-1)
  assert.equal(rebuilt?.events, afterTwo, 'the known state was rebuilt from every event')
  // compaction is lazy: older entries of a run may still be read before its newest
  assert.ok(rebuilt.entries >= runs.length + 1, 'and from every run\'s registry entry and the FCSR mark')
  {
    await using redis = await connectRedis({ config: loadConfig(Config, env), logger })
    assert.deepEqual(await redis.client.hgetall(redis.key('run-watcher', 'sequences')), sequences, 'the change sequence numbers were rebuilt from the event ids')
  }

  const ended = endedByRun(collector.events)
  for (const r of runs) assert.equal(ended.get(r.run)?.length, 1, `run ${r.run}: exactly one ended event`)
  const ids = collector.events.map(e => e.meta.eventId)
  assert.equal(new Set(ids).size, ids.length, 'no event id twice')
  const facts = collector.events.filter(e => e.event.change.case === 'streamDone')
  assert.equal(facts.length, runs.length * 2, 'Express and ALCAPHISYM announced done once per replayed run')
})

test('at a time scale, a run is started first and ended later', async () => {
  // two runs of 2022-07-25 replayed 600x faster: their starts and ends are minutes apart in the file
  const env = testEnv({ AUTOCAL_REPLAY_FILE: csv, AUTOCAL_REPLAY_SCALE: '3000', AUTOCAL_REPLAY_FROM_RUN: '355870', AUTOCAL_REPLAY_TO_RUN: '355872' })
  const { logger } = quietLogger()
  await using collector = await collectRuns(env, logger)
  await using _watcher = await startWatcher(env, logger)
  await until('three runs ended', () => endedByRun(collector.events).size === 3, 120_000)
  for (const run of [355870, 355871, 355872]) {
    const mine = collector.events.filter(e => e.event.run === run && ['started', 'updated', 'ended'].includes(e.event.change.case ?? '')).map(e => e.event.change.case)
    assert.deepEqual(mine, ['started', 'ended'], `run ${run}`)
    const started = collector.events.find(e => e.event.run === run && e.event.change.case === 'started')!
    assert.ok(started.event.change.case === 'started' && started.event.change.value.run?.endTime === undefined, 'a started run has no end yet')
  }
})

test('the replay announces the first condition-safe run as Tier-0 would: it advances run by run, 48 h of replayed time behind each run end', async () => {
  // 82 runs of 2022-07-05..08 (about 69 h, plus 48 h for the last to lock) at 36000x: about 12 s
  const runs = expectedRuns().filter(r => r.run >= 355100 && r.run <= 355300)
  const env = testEnv({ AUTOCAL_REPLAY_FILE: csv, AUTOCAL_REPLAY_SCALE: '36000', AUTOCAL_REPLAY_FROM_RUN: '355100', AUTOCAL_REPLAY_TO_RUN: '355300' })
  const { logger, lines } = quietLogger()
  await using collector = await collectRuns(env, logger)
  {
    await using _watcher = await startWatcher(env, logger)
    const fcsrs = (): number[] => collector.events.flatMap(e => e.event.change.case === 'fcsr' ? [e.event.change.value.fcsr] : [])
    await until('the last run is the FCSR', () => fcsrs().includes(runs.at(-1)!.run), 120_000)
    await allDelivered(collector, 'the replay finished', () => finishedCount(lines, 'replay') === 1)
  }
  const fcsr = collector.events.filter(e => e.event.change.case === 'fcsr')
  const values = fcsr.map(e => e.event.change.case === 'fcsr' ? e.event.change.value.fcsr : 0)
  // 2022 runs end in run order and each starts before the one below it locks: each becomes the FCSR once, in turn
  assert.deepEqual([...values].sort((a, b) => a - b), runs.map(r => r.run), 'every run of the list was the FCSR exactly once')
  for (const e of fcsr) {
    assert.equal(e.event.run, e.event.change.case === 'fcsr' ? e.event.change.value.fcsr : -1, 'RunEvent.run is the FCSR')
    assert.equal(e.event.source, 'replay')
  }
  // announced in replayed time order: the FCSR moves past run r only once every run that ended
  // within 48 h after r's end has been announced ended
  const endedAt = new Map(collector.events.filter(e => e.event.change.case === 'ended').map(e => [e.event.run, e.meta.time.getTime()]))
  for (const [i, r] of runs.entries()) {
    const next = runs[i + 1]
    if (next === undefined) break
    const movedAt = fcsr.find(e => e.event.run === next.run)!.meta.time.getTime()
    const lockMs = Date.parse(r.end) + 48 * 3600_000
    const endedBefore = runs.filter(o => Date.parse(o.end) < lockMs)
    assert.ok(endedBefore.length > i + 1, `run ${r.run}: runs ended in the 48 h after it`)
    for (const o of endedBefore) assert.ok(endedAt.get(o.run)! <= movedAt, `FCSR ${next.run} announced after run ${o.run} (ended ${o.end}) ended, within 48 h of run ${r.run}'s end (${r.end})`)
  }
})
