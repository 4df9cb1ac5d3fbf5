// The built-in run generator's runs, written as files the replay and the
// workflows can use (the runs themselves are tested with the run-watcher).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeGeneratedRealdata } from '../../deploy/local/run-generator.ts'

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
