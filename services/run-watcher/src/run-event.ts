// Between the run-watcher's RunRecord and the contract's Run / RunEvent.
import { createHash } from 'node:crypto'
import { create } from '@bufbuild/protobuf'
import { timestampDate, timestampFromMs } from '@bufbuild/protobuf/wkt'
import { RunSchema, RunEventSchema, type Run, type RunEvent } from '@autocal/contracts'
import { canonical, type RunRecord } from './domain/run-record.ts'
import type { RunChange } from './domain/changes.ts'
import { runEventId } from './domain/event-identity.ts'

export function contentHash (text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32)
}

export function toContractRun (r: RunRecord): Run {
  return create(RunSchema, {
    run: r.run,
    fill: r.fill,
    era: r.era,
    startTime: timestampFromMs(r.startMs),
    ...(r.endMs === undefined ? {} : { endTime: timestampFromMs(r.endMs) }),
    durationS: r.durationS,
    lastLumisection: r.lastLumisection,
    deliveredLumiPb: r.deliveredLumiPb,
    recordedLumiPb: r.recordedLumiPb,
    runClass: r.runClass,
    global: r.global,
    ...(r.bFieldT === undefined ? {} : { bFieldT: r.bFieldT }),
    ...(r.stableBeam === undefined ? {} : { stableBeam: r.stableBeam }),
    fillType: r.fillType,
    hltKey: r.hltKey,
    componentsOut: r.componentsOut,
    ...(r.fillEndMs === undefined ? {} : { fillEndTime: timestampFromMs(r.fillEndMs) })
  })
}

export function fromContractRun (r: Run): RunRecord {
  return {
    run: r.run,
    fill: r.fill,
    era: r.era,
    startMs: r.startTime === undefined ? 0 : timestampDate(r.startTime).getTime(),
    endMs: r.endTime === undefined ? undefined : timestampDate(r.endTime).getTime(),
    durationS: r.durationS,
    lastLumisection: r.lastLumisection,
    deliveredLumiPb: r.deliveredLumiPb,
    recordedLumiPb: r.recordedLumiPb,
    runClass: r.runClass,
    global: r.global,
    bFieldT: r.bFieldT,
    stableBeam: r.stableBeam,
    fillType: r.fillType,
    hltKey: r.hltKey,
    componentsOut: [...r.componentsOut],
    ...(r.fillEndTime === undefined ? {} : { fillEndMs: timestampDate(r.fillEndTime).getTime() })
  }
}

export interface Origin {
  source: string
  actor?: string
  campaign?: string
}

/**
 * The RunEvent announcing one change, with its content hash and its event id
 * (domain/event-identity.ts): `sequence` is the change's number in the run's
 * change sequence (1 for the first change ever announced of the run).
 */
export function runChangeEvent (change: RunChange, origin: Origin, sequence: number): { event: RunEvent, eventId: string } {
  const hash = contentHash(canonical(change.run))
  const run = toContractRun(change.run)
  const common = { run: change.run.run, contentHash: hash, source: origin.source, actor: origin.actor ?? '', campaign: origin.campaign ?? '' }
  const event = change.kind === 'started'
    ? create(RunEventSchema, { ...common, change: { case: 'started', value: { run } } })
    : change.kind === 'ended'
      ? create(RunEventSchema, { ...common, change: { case: 'ended', value: { run } } })
      : create(RunEventSchema, { ...common, change: { case: 'updated', value: { run, changedFields: change.changedFields } } })
  return { event, eventId: runEventId(change.run.run, sequence, change.kind, hash, origin.campaign ?? '') }
}

export type Fact =
  | { kind: 'stream_done', run: number, stream: string, done: boolean }
  | { kind: 'dataset_done', run: number, dataset: string, done: boolean }
  | { kind: 'fcsr', run: number }

/** Key of a fact in the known-facts store: what it is about, not its value. */
export function factKey (fact: Fact): string {
  switch (fact.kind) {
    case 'stream_done': return `${fact.run}:stream:${fact.stream}`
    case 'dataset_done': return `${fact.run}:dataset:${fact.dataset}`
    case 'fcsr': return 'fcsr'
  }
}

export function factValue (fact: Fact): string {
  return fact.kind === 'fcsr' ? String(fact.run) : String(fact.done)
}

/** The RunEvent announcing a fact's value; `sequence` is the change's number in the fact's change sequence. */
export function factEvent (fact: Fact, origin: Origin, sequence: number): { event: RunEvent, eventId: string } {
  const hash = contentHash(`${factKey(fact)}=${factValue(fact)}`)
  const common = { run: fact.run, contentHash: hash, source: origin.source, actor: origin.actor ?? '' }
  const event = fact.kind === 'stream_done'
    ? create(RunEventSchema, { ...common, change: { case: 'streamDone', value: { stream: fact.stream, done: fact.done } } })
    : fact.kind === 'dataset_done'
      ? create(RunEventSchema, { ...common, change: { case: 'datasetDone', value: { primaryDataset: fact.dataset, done: fact.done } } })
      : create(RunEventSchema, { ...common, change: { case: 'fcsr', value: { fcsr: fact.run } } })
  return { event, eventId: runEventId(fact.run, sequence, fact.kind, hash) }
}
