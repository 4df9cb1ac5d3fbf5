// The durable run registry's entries (autocal.runs.registry.v1), pure: the
// latest of everything announced of one run — its record, the number of its
// last change, and every Tier-0 fact with its value and change number — or a
// source mark (the FCSR, the OMS watermark). Entries are whole (the topic is
// compacted: only the newest entry per key survives), so a change is merged
// into the run's previous entry, never published alone.
import type { RunRecord } from './run-record.ts'
import { factSubject, runSubject } from './event-identity.ts'

/** One fact of a run in an entry: done or not, and the number of its last announced change. */
export interface FactState { done: boolean, sequence: number }

/** What the registry keeps of one run. */
export interface RunEntry {
  run: number
  /** The run as last announced; absent when only Tier-0 facts of the run are known. */
  record?: RunRecord | undefined
  /** Number of the run's last announced started/updated/ended change (0: none known). */
  sequence: number
  /** Stream name → state (Tier-0 `run_stream_done`). */
  streams: Record<string, FactState>
  /** Primary dataset name → state (Tier-0 `run_dataset_done`). */
  datasets: Record<string, FactState>
}

/** A value a source moves forward that is not one run's: `fcsr` (first condition-safe run) or `oms-watermark`. */
export interface SourceMark { name: MarkName, value: number, sequence: number }
export type MarkName = 'fcsr' | 'oms-watermark'

export type RegistryItem = { kind: 'run', entry: RunEntry } | { kind: 'mark', mark: SourceMark }

/** The fact a known-facts key (run-event.ts factKey) names: a run's stream or dataset, or the FCSR. */
export type ParsedFactKey = { kind: 'stream' | 'dataset', run: number, name: string } | { kind: 'fcsr' } | undefined

/** Reads a known-facts key: `<run>:stream:<name>`, `<run>:dataset:<name>`, `fcsr`; undefined for anything else. */
export function parseFactKey (key: string): ParsedFactKey {
  if (key === 'fcsr') return { kind: 'fcsr' }
  const m = /^(\d+):(stream|dataset):(.+)$/.exec(key)
  if (m === null) return undefined
  return { kind: m[2] as 'stream' | 'dataset', run: Number(m[1]), name: m[3] ?? '' }
}

/** An entry with nothing known yet. */
export function emptyEntry (run: number): RunEntry {
  return { run, sequence: 0, streams: {}, datasets: {} }
}

/**
 * Merges what one announcement batch changed of a run into its previous
 * entry (undefined: none yet): a new record and its change number, and fact
 * values with their change numbers (`facts`: known-facts key → value as the
 * emitter stores it, "true"/"false"; keys of other runs are ignored).
 * Returns a new entry; the previous one is not changed.
 */
export function mergeRun (previous: RunEntry | undefined, run: number, change: { record?: RunRecord | undefined, sequence?: number | undefined, facts?: ReadonlyMap<string, string>, sequences?: ReadonlyMap<string, number> }): RunEntry {
  const base = previous ?? emptyEntry(run)
  const out: RunEntry = { ...base, streams: { ...base.streams }, datasets: { ...base.datasets } }
  if (change.record !== undefined) out.record = change.record
  if (change.sequence !== undefined && change.sequence > out.sequence) out.sequence = change.sequence
  for (const [key, value] of change.facts ?? []) {
    const fact = parseFactKey(key)
    if (fact === undefined || fact.kind === 'fcsr' || fact.run !== run) continue
    const table = fact.kind === 'stream' ? out.streams : out.datasets
    const sequence = change.sequences?.get(factSubject(key)) ?? table[fact.name]?.sequence ?? 0
    table[fact.name] = { done: value === 'true', sequence }
  }
  return out
}

/**
 * Every registry item of a whole known state (the known-runs store: run
 * records, fact values keyed as run-event.ts factKey, change sequence numbers
 * by subject, and the OMS watermark): one entry per run that has a record or
 * a fact, in run order, then the marks. Used to write the registry after a
 * rebuild and for runs announced before the registry existed.
 */
export function entriesOfKnownState (state: { runs: ReadonlyMap<number, RunRecord>, facts: ReadonlyMap<string, string>, sequences: ReadonlyMap<string, number>, omsWatermark?: number | undefined }): RegistryItem[] {
  const entries = new Map<number, RunEntry>()
  for (const [run, record] of state.runs) {
    entries.set(run, mergeRun(entries.get(run), run, { record, sequence: state.sequences.get(runSubject(run)) ?? 0 }))
  }
  const marks: SourceMark[] = []
  for (const [key, value] of state.facts) {
    const fact = parseFactKey(key)
    if (fact === undefined) continue
    if (fact.kind === 'fcsr') {
      marks.push({ name: 'fcsr', value: Number(value), sequence: state.sequences.get(factSubject(key)) ?? 0 })
      continue
    }
    entries.set(fact.run, mergeRun(entries.get(fact.run), fact.run, { facts: new Map([[key, value]]), sequences: state.sequences }))
  }
  if (state.omsWatermark !== undefined) marks.push({ name: 'oms-watermark', value: state.omsWatermark, sequence: 0 })
  return [
    ...[...entries.values()].sort((a, b) => a.run - b.run).map((entry): RegistryItem => ({ kind: 'run', entry })),
    ...marks.map((mark): RegistryItem => ({ kind: 'mark', mark }))
  ]
}

/**
 * What an item puts back into the known-runs store: the run record, fact
 * values keyed as run-event.ts factKey, and change sequence numbers by
 * subject (domain/event-identity.ts); for the OMS watermark mark, the
 * watermark. The rebuild raises sequence numbers and keeps the highest FCSR
 * and watermark (entries of different keys arrive in any order).
 */
export function knownStateOf (item: RegistryItem): { record?: RunRecord, facts: Map<string, string>, sequences: Map<string, number>, omsWatermark?: number } {
  const facts = new Map<string, string>()
  const sequences = new Map<string, number>()
  if (item.kind === 'mark') {
    if (item.mark.name === 'oms-watermark') return { facts, sequences, omsWatermark: item.mark.value }
    facts.set('fcsr', String(item.mark.value))
    if (item.mark.sequence > 0) sequences.set(factSubject('fcsr'), item.mark.sequence)
    return { facts, sequences }
  }
  const e = item.entry
  if (e.sequence > 0) sequences.set(runSubject(e.run), e.sequence)
  for (const [kind, table] of [['stream', e.streams], ['dataset', e.datasets]] as const) {
    for (const [name, state] of Object.entries(table)) {
      const key = `${e.run}:${kind}:${name}`
      facts.set(key, String(state.done))
      if (state.sequence > 0) sequences.set(factSubject(key), state.sequence)
    }
  }
  return { ...(e.record === undefined ? {} : { record: e.record }), facts, sequences }
}
