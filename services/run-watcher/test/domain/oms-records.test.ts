import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseCsv, runFromCsv, runFromOms, splitCsvLine } from '../../src/domain/oms-records.ts'
import { lumiToPb, parseUtc, runClassOf } from '../../src/domain/run-record.ts'

const header = 'run_number,fill_number,duration,start_time,end_time,components_out,delivered_lumi,recorded_lumi,l1_triggers_counter,l1_hlt_mode_stripped,hlt_key,era,initial_prescale_index'

test('a quoted list field stays one field', () => {
  assert.deepEqual(splitCsvLine('1,"[CTPPS, PIXEL]",x'), ['1', '[CTPPS, PIXEL]', 'x'])
  assert.deepEqual(splitCsvLine('a,"say ""hi""",'), ['a', 'say "hi"', ''])
})

test('repeated header lines inside the file are skipped and line numbers kept', () => {
  const text = [header,
    '354775,7894,2442,2022-07-01 01:10:12,2022-07-01 01:50:54,"[CTPPS, CTPPS_TOT, PIXEL, TRACKER]",0.0,0.0,230881547,cosmics2022/v130,/cdaq/x,Run2022A,3',
    header,
    '354777,7894,4639,2022-07-01 03:14:57,2022-07-01 04:32:16,"[CTPPS]",0.005997,0.005903,89879854,collisions2022/v69,/cdaq/y,Run2022A,0',
    '1,2,3'].join('\n')
  const { rows, errors } = parseCsv(text)
  assert.deepEqual(rows.map(r => [r.line, r.values.run_number]), [[2, '354775'], [4, '354777']])
  assert.equal(errors.length, 1)
  assert.equal(errors[0]?.line, 5)
  assert.match(errors[0]!.message, /expected 13 fields/)
})

test('a CSV row becomes a run in /pb and UTC with its class', () => {
  const { rows } = parseCsv([header, '354777,7894,4639,2022-07-01 03:14:57,2022-07-01 04:32:16,"[CTPPS, PIXEL]",0.005997,0.005903,89879854,collisions2022/v69,/cdaq/y,Run2022A,0'].join('\n'))
  const parsed = runFromCsv(rows[0]!.values)
  assert.ok(parsed.ok)
  assert.equal(parsed.run.run, 354777)
  assert.equal(parsed.run.fill, 7894)
  assert.equal(parsed.run.startMs, Date.UTC(2022, 6, 1, 3, 14, 57))
  assert.equal(parsed.run.endMs, Date.UTC(2022, 6, 1, 4, 32, 16))
  assert.equal(parsed.run.recordedLumiPb, 0.005903)
  assert.equal(parsed.run.runClass, 'collisions2022')
  assert.deepEqual(parsed.run.componentsOut, ['CTPPS', 'PIXEL'])
  assert.equal(parsed.run.era, 'Run2022A')
})

test('malformed CSV values name the field', () => {
  const base = { run_number: '1', fill_number: '2', start_time: '2022-07-01 03:14:57', end_time: '2022-07-01 04:00:00', recorded_lumi: '1' }
  const cases: Array<[Record<string, string>, string, RegExp]> = [
    [{ ...base, run_number: 'abc' }, 'run_number', /non-negative integer/],
    [{ ...base, start_time: 'yesterday' }, 'start_time', /UTC time/],
    [{ ...base, end_time: '2022-07-01 01:00:00' }, 'end_time', /before it starts/],
    [{ ...base, recorded_lumi: 'n/a' }, 'recorded_lumi', /expected a number/]
  ]
  for (const [values, field, message] of cases) {
    const parsed = runFromCsv(values)
    assert.equal(parsed.ok, false)
    if (!parsed.ok) {
      assert.equal(parsed.error.field, field)
      assert.match(parsed.error.message, message)
    }
  }
})

test('a slightly negative luminosity (as in the real export) is kept as reported', () => {
  const parsed = runFromCsv({ run_number: '358227', fill_number: '8102', start_time: '2022-08-10 03:14:57', end_time: '2022-08-10 04:00:00', delivered_lumi: '-0.09083', recorded_lumi: '0' })
  assert.ok(parsed.ok)
  assert.equal(parsed.run.deliveredLumiPb, -0.09083)
})

test('an empty luminosity counts as zero and an empty end as an ongoing run', () => {
  const parsed = runFromCsv({ run_number: '5', fill_number: '', start_time: '2022-07-01 03:14:57', end_time: '', recorded_lumi: '', delivered_lumi: '' })
  assert.ok(parsed.ok)
  assert.equal(parsed.run.recordedLumiPb, 0)
  assert.equal(parsed.run.endMs, undefined)
})

test('OMS luminosity is converted with the units of its meta', () => {
  const parsed = runFromOms({ run_number: 325022, fill_number: 7491, start_time: '2018-11-19T20:36:50Z', end_time: '2018-11-19T22:00:00Z', recorded_lumi: 1500, delivered_lumi: 1600, sequence: 'GLOBAL-RUN', l1_hlt_mode_stripped: 'collisionshi2018/v99', b_field: 3.8, stable_beam: true, fill_type_runtime: 'PB' },
    { recorded_lumi: { units: 'ub^{-1}' }, delivered_lumi: { units: 'ub^{-1}' } })
  assert.ok(parsed.ok)
  assert.equal(parsed.run.recordedLumiPb, 0.0015)
  assert.equal(parsed.run.runClass, 'collisionshi2018')
  assert.equal(parsed.run.global, true)
  assert.equal(parsed.run.bFieldT, 3.8)
  assert.equal(parsed.run.fillType, 'PB')
  const local = runFromOms({ run_number: 1, start_time: '2018-11-19T20:36:50Z', sequence: 'LOCAL' })
  assert.ok(local.ok && !local.run.global)
  const unknownUnit = runFromOms({ run_number: 1, start_time: '2018-11-19T20:36:50Z', recorded_lumi: 1 }, { recorded_lumi: { units: 'barn' } })
  assert.ok(!unknownUnit.ok && unknownUnit.error.field === 'recorded_lumi')
})

test('units, times and classes', () => {
  assert.equal(lumiToPb(2, 'fb^{-1}'), 2000)
  assert.equal(lumiToPb(2, 'pb^{-1}'), 2)
  assert.equal(lumiToPb(2, undefined), 2)
  assert.equal(lumiToPb(2, 'furlong'), undefined)
  assert.equal(lumiToPb(0.030824 * 1e6, 'ub^{-1}'), 0.030824, 'no float round-off across units')
  assert.equal(parseUtc('2018-11-19T20:36:50Z'), Date.UTC(2018, 10, 19, 20, 36, 50))
  assert.equal(parseUtc('2022-07-01 01:10:12'), Date.UTC(2022, 6, 1, 1, 10, 12))
  assert.equal(parseUtc(''), undefined)
  assert.equal(runClassOf('Collisions2022/v69'), 'collisions2022')
  assert.equal(runClassOf(''), '')
})
