// The read model of one run: the latest record the run-watcher announced, the
// Tier-0 readiness facts, and when its `ended` event was published (the
// start of the dispatch latency).
import type { Run, RunEvent } from '@autocal/contracts'
import { isoOf } from './time.ts'

export interface RunView {
  run: number
  fill: number
  era: string
  startTime?: string
  endTime?: string
  durationS: number
  lastLumisection: number
  deliveredLumiPb: number
  recordedLumiPb: number
  runClass: string
  global: boolean
  stableBeam?: boolean
  bFieldT?: number
  /** ce_time of the first `ended` event. */
  endedEventAt?: string
  streamsDone: string[]
  datasetsDone: string[]
  /** Campaign the run was injected for (empty = live runs). */
  campaign: string
  sources: string[]
  /** Content hashes already applied, newest last (a bounded list). */
  hashes: string[]
}

export type RunDecision =
  | { kind: 'unchanged', reason: string }
  | { kind: 'applied', view: RunView, endedNow: boolean }
  | { kind: 'fcsr', fcsr: number }

function emptyRun (run: number): RunView {
  return {
    run,
    fill: 0,
    era: '',
    durationS: 0,
    lastLumisection: 0,
    deliveredLumiPb: 0,
    recordedLumiPb: 0,
    runClass: '',
    global: false,
    streamsDone: [],
    datasetsDone: [],
    campaign: '',
    sources: [],
    hashes: []
  }
}

function withRecord (view: RunView, r: Run | undefined): RunView {
  if (r === undefined) return view
  const next: RunView = {
    ...view,
    fill: r.fill,
    era: r.era,
    durationS: r.durationS,
    lastLumisection: r.lastLumisection,
    deliveredLumiPb: r.deliveredLumiPb,
    recordedLumiPb: r.recordedLumiPb,
    runClass: r.runClass,
    global: r.global
  }
  const start = isoOf(r.startTime)
  const end = isoOf(r.endTime)
  if (start !== undefined) next.startTime = start
  if (end !== undefined) next.endTime = end
  if (r.stableBeam !== undefined) next.stableBeam = r.stableBeam
  if (r.bFieldT !== undefined) next.bFieldT = r.bFieldT
  return next
}

function toggle (list: string[], item: string, on: boolean): string[] {
  const rest = list.filter(x => x !== item)
  return on ? [...rest, item].sort() : rest
}

const keptHashes = 20

/** Applies one RunEvent; `eventTime` is its ce_time. */
export function applyRunEvent (current: RunView | undefined, event: RunEvent, eventTime: Date): RunDecision {
  const change = event.change
  if (change.case === 'fcsr') return { kind: 'fcsr', fcsr: change.value.fcsr !== 0 ? change.value.fcsr : event.run }
  if (change.case === undefined) return { kind: 'unchanged', reason: 'event carries no change' }
  const base = current ?? emptyRun(event.run)
  const identity = `${change.case}/${event.contentHash}`
  if (event.contentHash !== '' && base.hashes.includes(identity)) return { kind: 'unchanged', reason: `already applied ${identity}` }
  let view: RunView = { ...base, hashes: [...base.hashes, identity].slice(-keptHashes) }
  if (event.source !== '' && !view.sources.includes(event.source)) view.sources = [...view.sources, event.source]
  if (event.campaign !== '') view.campaign = event.campaign
  let endedNow = false
  switch (change.case) {
    case 'started':
    case 'updated':
      view = withRecord(view, change.value.run)
      break
    case 'ended':
      view = withRecord(view, change.value.run)
      if (view.endedEventAt === undefined) {
        view.endedEventAt = eventTime.toISOString()
        endedNow = true
      }
      break
    case 'streamDone':
      view.streamsDone = toggle(view.streamsDone, change.value.stream, change.value.done)
      break
    case 'datasetDone':
      view.datasetsDone = toggle(view.datasetsDone, change.value.primaryDataset, change.value.done)
      break
    default: {
      const never: never = change
      return { kind: 'unchanged', reason: `unknown change ${String(never)}` }
    }
  }
  return { kind: 'applied', view, endedNow }
}
