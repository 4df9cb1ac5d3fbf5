import { test } from 'node:test'
import assert from 'node:assert/strict'
import { entriesOfKnownState, knownStateOf, mergeRun, parseFactKey, type RunEntry } from '../../src/domain/registry.ts'
import type { RunRecord } from '../../src/domain/run-record.ts'

const base: Omit<RunRecord, 'run'> = { fill: 8000, era: 'Run2022C', startMs: 1, endMs: 2, durationS: 1, lastLumisection: 10, deliveredLumiPb: 1, recordedLumiPb: 0.9, runClass: 'collisions2022', global: true, bFieldT: undefined, stableBeam: undefined, fillType: 'PROTONS', hltKey: '', componentsOut: [] }
const record = (run: number, extra: Partial<RunRecord> = {}): RunRecord => ({ ...base, run, ...extra })

test('fact keys are read as the emitter writes them; anything else is no fact', () => {
  const table: Array<[string, ReturnType<typeof parseFactKey>]> = [
    ['355100:stream:Express', { kind: 'stream', run: 355100, name: 'Express' }],
    ['355100:dataset:ZeroBias', { kind: 'dataset', run: 355100, name: 'ZeroBias' }],
    ['fcsr', { kind: 'fcsr' }],
    ['generator:start', undefined],
    ['x:stream:Express', undefined]
  ]
  for (const [key, want] of table) assert.deepEqual(parseFactKey(key), want, key)
})

test('a change is merged into the run\'s previous entry: record and number replaced, facts of other runs ignored, numbers never lowered', () => {
  const previous: RunEntry = { run: 1, record: record(1), sequence: 2, streams: { Express: { done: false, sequence: 1 } }, datasets: {} }
  const table: Array<[string, Parameters<typeof mergeRun>[2], Partial<RunEntry>]> = [
    ['a new record', { record: record(1, { recordedLumiPb: 5 }), sequence: 3 }, { record: record(1, { recordedLumiPb: 5 }), sequence: 3 }],
    ['a lower number is kept out', { sequence: 1 }, { sequence: 2 }],
    ['a stream done', { facts: new Map([['1:stream:Express', 'true']]), sequences: new Map([['fact:1:stream:Express', 2]]) }, { streams: { Express: { done: true, sequence: 2 } } }],
    ['a dataset', { facts: new Map([['1:dataset:ZeroBias', 'true']]), sequences: new Map([['fact:1:dataset:ZeroBias', 1]]) }, { datasets: { ZeroBias: { done: true, sequence: 1 } } }],
    ['another run\'s fact', { facts: new Map([['2:stream:Express', 'true']]) }, {}],
    ['the FCSR is no run\'s fact', { facts: new Map([['fcsr', '5']]) }, {}]
  ]
  for (const [name, change, want] of table) {
    assert.deepEqual(mergeRun(previous, 1, change), { ...previous, ...want }, name)
  }
  assert.equal(previous.streams.Express?.done, false, 'the previous entry is not changed')
  assert.deepEqual(mergeRun(undefined, 7, {}), { run: 7, sequence: 0, streams: {}, datasets: {} }, 'no entry yet')
})

test('a whole known state gives one entry per run and the marks, and each entry gives the same state back', () => {
  const state = {
    runs: new Map([[2, record(2)], [1, record(1)]]),
    facts: new Map([['1:stream:Express', 'true'], ['3:dataset:ZeroBias', 'false'], ['fcsr', '2'], ['generator:start', 'x']]),
    sequences: new Map([['run:1', 2], ['run:2', 4], ['fact:1:stream:Express', 1], ['fact:fcsr', 3]]),
    omsWatermark: 2
  }
  const items = entriesOfKnownState(state)
  assert.deepEqual(items.map(i => i.kind === 'run' ? i.entry.run : i.mark.name), [1, 2, 3, 'fcsr', 'oms-watermark'])
  const back = { runs: new Map<number, RunRecord>(), facts: new Map<string, string>(), sequences: new Map<string, number>(), omsWatermark: 0 }
  for (const item of items) {
    const s = knownStateOf(item)
    if (s.record !== undefined) back.runs.set(s.record.run, s.record)
    for (const [k, v] of s.facts) back.facts.set(k, v)
    for (const [k, v] of s.sequences) back.sequences.set(k, v)
    if (s.omsWatermark !== undefined) back.omsWatermark = s.omsWatermark
  }
  assert.deepEqual(back.runs, new Map([[1, record(1)], [2, record(2)]]))
  assert.deepEqual(back.facts, new Map([['1:stream:Express', 'true'], ['3:dataset:ZeroBias', 'false'], ['fcsr', '2']]), 'what is no fact stays out')
  assert.deepEqual(back.sequences, state.sequences)
  assert.equal(back.omsWatermark, 2)
})
