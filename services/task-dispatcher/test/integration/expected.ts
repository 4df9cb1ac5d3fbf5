// What the example workflows (deploy/workflows) say should happen to a list of
// runs, computed here independently of the dispatcher's code: the job
// requests ("job_id#try") and condition request ids of the live campaigns:
// prompt and the shadow campaign ecal-timing-dev (ecal-timing-dev.yaml).
import type { Run } from '@autocal/contracts'

/** The stretch of the 2022 run list the tests replay: end of Run2022C and start of Run2022D (fills 8120-8133). */
export const FIRST = 357380
export const LAST = 357620

export interface Expected { jobs: Set<string>, conditions: Set<string> }

export function expectedLive (runs: Run[], golden: Set<number>): Expected {
  const jobs = new Set<string>()
  const conditions = new Set<string>()
  const coll = runs.filter(r => r.runClass === 'collisions2022' && r.global).sort((a, b) => a.run - b.run)
  const add = (block: string, task: string, n: number, condition = false, campaign = 'prompt'): void => {
    for (let j = 0; j < n; j++) jobs.add(`${campaign}/${block}/${task}/1/${j}#1`)
    if (condition) conditions.add(`${campaign}/${block}/${task}/1`)
  }
  // ecal-timing.yaml: run blocks, 4 reco jobs, then the calibration with a payload; its dev branch
  // (ecal-timing-dev.yaml) on the same live runs in the shadow campaign ecal-timing-dev, with 2 reco jobs
  for (const r of coll.filter(r => r.durationS >= 600 && r.recordedLumiPb >= 1 && golden.has(r.run))) {
    add(`run-${r.run}`, 'timing-reco', 4)
    add(`run-${r.run}`, 'timing-calib', 1, true)
    add(`run-${r.run}`, 'timing-reco', 2, false, 'ecal-timing-dev')
    add(`run-${r.run}`, 'timing-calib', 1, true, 'ecal-timing-dev')
    // egm-photon-scale.yaml: the same runs, after ECAL's timing-reco and the IOV of its calibration
    add(`run-${r.run}`, 'photon-scale', 1)
  }
  // ecal-pedestals.yaml
  for (const r of coll.filter(r => r.durationS >= 300)) add(`run-${r.run}`, 'pedestals', 1, true)
  // pps-timing.yaml
  for (const r of coll.filter(r => r.recordedLumiPb >= 1 && golden.has(r.run))) add(`run-${r.run}`, 'pps-timing-calib', 1, true)
  // ecal-phisym.yaml: sums per run (runs with ≥ 0.1 /pb, 2 jobs), gathered per fill (a fan-in, closed by a run of a later
  // fill; the last fill stays open), then the fill's payload
  const phisymRuns = coll.filter(r => r.recordedLumiPb >= 0.1)
  for (const r of phisymRuns) add(`run-${r.run}`, 'phisym-sums', 2)
  const fills = [...new Set(phisymRuns.map(r => r.fill))]
  for (const f of fills.slice(0, -1)) {
    add(`fill-${f}`, 'phisym', 1)
    add(`fill-${f}`, 'phisym-ic', 1, true)
  }
  // ecal-pi0.yaml: 200 /pb buckets per era, closed at the threshold or at the end of the era; the last one stays open
  let era = ''
  let seq = 0
  let sum = 0
  let open = false
  const closeBucket = (): void => {
    add(`lumi-${era}-${String(seq).padStart(4, '0')}`, 'pi0-reco', 4)
    add(`lumi-${era}-${String(seq).padStart(4, '0')}`, 'pi0-ic', 1, true)
    open = false
  }
  for (const r of coll.filter(r => golden.has(r.run))) {
    if (r.era !== era) {
      if (open) closeBucket()
      era = r.era
      seq = 0
    }
    if (!open) {
      seq++
      sum = 0
      open = true
    }
    sum += r.recordedLumiPb
    if (sum >= 200) closeBucket()
  }
  return { jobs, conditions }
}
