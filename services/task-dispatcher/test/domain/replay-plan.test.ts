import { test } from 'node:test'
import assert from 'node:assert/strict'
import { periodProblem, replayDelays, replayOffsets, replayTargetProblem, selectReplayRuns, type ReplayBound, type UploadTarget } from '../../src/domain/replay-plan.ts'

const t = (iso: string): number => Date.parse(iso)
const time = (iso: string): ReplayBound => ({ kind: 'time', ms: t(iso) })
const run = (n: number): ReplayBound => ({ kind: 'run', run: n })

// four recorded runs (numbers not in start order on purpose: 102 started before 101) and one without a start time
const recorded = [
  { run: 100, startMs: t('2022-07-20T09:50:00Z') },
  { run: 101, startMs: t('2022-07-20T10:30:00Z') },
  { run: 102, startMs: t('2022-07-20T10:00:00Z') },
  { run: 103, startMs: t('2022-07-20T11:00:00Z') },
  { run: 104, startMs: undefined }
]

const selections: Array<{ name: string, from: ReplayBound, to: ReplayBound, runs: number[] }> = [
  { name: 'a time period selects the runs that started in [from, to), in start order', from: time('2022-07-20T10:00:00Z'), to: time('2022-07-20T11:00:00Z'), runs: [102, 101] },
  { name: 'a run starting exactly at `to` belongs to the next period', from: time('2022-07-20T10:00:01Z'), to: time('2022-07-20T11:00:00Z'), runs: [101] },
  { name: 'a run period includes both ends, in start order, the run without start time last', from: run(100), to: run(104), runs: [100, 102, 101, 103, 104] },
  { name: 'a run period of one run selects it', from: run(103), to: run(103), runs: [103] },
  { name: 'a mixed period: from a run to a time', from: run(101), to: time('2022-07-20T10:45:00Z'), runs: [102, 101] },
  { name: 'a mixed period: from a time to a run', from: time('2022-07-20T10:15:00Z'), to: run(103), runs: [101, 103] },
  { name: 'a run without a start time is never in a time period', from: time('2000-01-01T00:00:00Z'), to: time('2100-01-01T00:00:00Z'), runs: [100, 102, 101, 103] },
  { name: 'a period before every run is empty', from: time('2021-01-01T00:00:00Z'), to: time('2021-01-02T00:00:00Z'), runs: [] }
]
for (const row of selections) test(row.name, () => { assert.deepEqual(selectReplayRuns(recorded, row.from, row.to).map(r => r.run), row.runs) })

const problems: Array<{ name: string, from: ReplayBound, to: ReplayBound, problem: RegExp | undefined }> = [
  { name: 'from a later run than to is refused', from: run(200), to: run(100), problem: /--from run 200 is after --to run 100/ },
  { name: 'from a time after to is refused', from: time('2022-07-20T11:00:00Z'), to: time('2022-07-20T10:00:00Z'), problem: /--from 2022-07-20T11:00:00.000Z is not before --to 2022-07-20T10:00:00.000Z/ },
  { name: 'an empty time period (from = to) is refused', from: time('2022-07-20T10:00:00Z'), to: time('2022-07-20T10:00:00Z'), problem: /not before/ },
  { name: 'from = to for runs is one run', from: run(100), to: run(100), problem: undefined },
  { name: 'ordered times pass', from: time('2022-07-20T10:00:00Z'), to: time('2022-07-20T11:00:00Z'), problem: undefined }
]
for (const row of problems) {
  test(row.name, () => {
    const p = periodProblem(row.from, row.to)
    if (row.problem === undefined) assert.equal(p, undefined)
    else assert.match(p ?? '', row.problem)
  })
}

const starts = [t('2022-07-20T10:00:00Z'), t('2022-07-20T10:30:00Z'), t('2022-07-20T10:30:00Z'), t('2022-07-20T11:15:00Z')]
const pacing: Array<{ name: string, starts: Array<number | undefined>, speed: number, delays: number[] }> = [
  { name: 'at speed 1 the delays are the original gaps', starts, speed: 1, delays: [0, 1_800_000, 0, 2_700_000] },
  { name: 'at speed 3600 an hour of recording takes a second', starts, speed: 3600, delays: [0, 500, 0, 750] },
  { name: 'at speed 0 (max) nothing waits', starts, speed: 0, delays: [0, 0, 0, 0] },
  { name: 'delays are whole milliseconds', starts: [0, 1000], speed: 3, delays: [0, 333] },
  { name: 'a gap next to an unknown start time is 0', starts: [t('2022-07-20T10:00:00Z'), undefined, t('2022-07-20T11:00:00Z')], speed: 1, delays: [0, 0, 0] },
  { name: 'a negative gap (out of order) is 0', starts: [2000, 1000], speed: 1, delays: [0, 0] },
  { name: 'no runs, no delays', starts: [], speed: 10, delays: [] }
]
for (const row of pacing) test(row.name, () => { assert.deepEqual(replayDelays(row.starts, row.speed), row.delays) })

const schedules: Array<{ name: string, starts: Array<number | undefined>, speed: number, offsets: number[] }> = [
  { name: 'the schedule is each run\'s offset from the first, at speed 3600', starts, speed: 3600, offsets: [0, 500, 500, 1250] },
  { name: 'at speed max every run is due at once', starts, speed: 0, offsets: [0, 0, 0, 0] },
  { name: 'an unknown start time adds nothing to the schedule', starts: [0, undefined, 7200_000], speed: 3600, offsets: [0, 0, 0] }
]
for (const row of schedules) test(row.name, () => { assert.deepEqual(replayOffsets(row.starts, row.speed), row.offsets) })

test('a negative or non-finite speed is a RangeError naming it', () => {
  assert.throws(() => replayDelays([0], -1), /replay speed must be a number ≥ 0.*got -1/)
  assert.throws(() => replayDelays([0], Number.NaN), RangeError)
})

const prod: UploadTarget[] = [{ task: 'timing-calib', tag: 'EcalTimeCalibConstants_prompt', destinationDatabase: '', dryRun: false }]
const known = ['prompt', 'ecal-timing-rereco-2022', 'sandbox']
const targets: Array<{ name: string, campaign: string, live?: string[], busy?: string[], targets?: UploadTarget[], problem: RegExp | undefined }> = [
  { name: 'no campaign is refused', campaign: '', problem: /a campaign to replay into is required \(--into\)/ },
  { name: 'prompt is refused: it receives live runs', campaign: 'prompt', problem: /campaign 'prompt' receives live runs/ },
  { name: 'another live campaign is refused', campaign: 'sandbox', live: ['sandbox'], problem: /campaign 'sandbox' receives live runs/ },
  { name: 'an unknown campaign is refused with the closest name', campaign: 'sandbx', problem: /unknown campaign 'sandbx'; did you mean 'sandbox'\?, known: prompt, ecal-timing-rereco-2022, sandbox/ },
  { name: 'a campaign a replay feeds is refused', campaign: 'sandbox', busy: ['sandbox'], problem: /a replay is already feeding campaign 'sandbox'/ },
  { name: 'a campaign writing for real to production\'s tag is refused', campaign: 'sandbox', targets: [{ task: 'timing-calib', tag: 'EcalTimeCalibConstants_prompt', destinationDatabase: '', dryRun: false }], problem: /writes task timing-calib's conditions to EcalTimeCalibConstants_prompt, where production's task timing-calib writes/ },
  { name: 'a dry run to production\'s tag is a sandbox', campaign: 'sandbox', targets: [{ task: 'timing-calib', tag: 'EcalTimeCalibConstants_prompt', destinationDatabase: '', dryRun: true }], problem: undefined },
  { name: 'production\'s tag in another database is a sandbox', campaign: 'sandbox', targets: [{ task: 'timing-calib', tag: 'EcalTimeCalibConstants_prompt', destinationDatabase: 'sqlite:///tmp/validation.db', dryRun: false }], problem: undefined },
  { name: 'a tag of its own is a sandbox', campaign: 'sandbox', targets: [{ task: 'timing-calib', tag: 'EcalTimeCalibConstants_v2_offline', destinationDatabase: '', dryRun: false }], problem: undefined }
]
for (const row of targets) {
  test(row.name, () => {
    const p = replayTargetProblem(row.campaign, known, new Set(row.live ?? []), new Set(row.busy ?? []), row.targets ?? [], prod)
    if (row.problem === undefined) assert.equal(p, undefined)
    else assert.match(p ?? '', row.problem)
  })
}
