// The built-in run generator writes runs the replay and the workflows can use.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateRuns, writeGeneratedRealdata } from '../../deploy/local/run-generator.ts'

test('the same seed gives the same runs, in increasing run and time order', () => {
  const a = generateRuns({ runs: 300, seed: 7 })
  assert.deepEqual(a, generateRuns({ runs: 300, seed: 7 }))
  assert.notDeepEqual(a, generateRuns({ runs: 300, seed: 8 }))
  for (let i = 1; i < a.length; i++) {
    assert.ok(a[i]!.run > a[i - 1]!.run)
    assert.ok(a[i]!.start.getTime() >= a[i - 1]!.end.getTime())
    assert.ok(a[i]!.fill >= a[i - 1]!.fill)
  }
  assert.ok(a.some(r => r.runClass === 'collisions2022') && a.some(r => r.runClass !== 'collisions2022'))
  assert.ok(a.every(r => r.recordedLumiPb <= r.deliveredLumiPb))
})

test('the CSV has the OMS export columns and the golden JSON lists good collision runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-gen-'))
  const { csv, golden, runs } = writeGeneratedRealdata(dir, { runs: 50 })
  const lines = readFileSync(csv, 'utf8').trim().split('\n')
  assert.equal(lines[0], 'run_number,fill_number,duration,start_time,end_time,components_out,delivered_lumi,recorded_lumi,l1_triggers_counter,l1_hlt_mode_stripped,hlt_key,era,initial_prescale_index')
  assert.equal(lines.length, 51)
  assert.match(lines[1]!, /^400000,9000,\d+,2022-07-05 00:00:00,2022-07-05 \d\d:\d\d:\d\d,"\[\]",/)
  const certified = Object.keys(JSON.parse(readFileSync(golden, 'utf8'))).map(Number)
  assert.deepEqual(certified, runs.filter(r => r.runClass === 'collisions2022' && r.recordedLumiPb > 0).map(r => r.run))
})
