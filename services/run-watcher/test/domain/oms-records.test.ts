import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseCsv, runFromCsv, runFromOms } from '../../src/domain/oms-records.ts'
import { lumiToPb, parseUtc, runClassOf } from '../../src/domain/run-record.ts'

const header = 'run_number,fill_number,duration,start_time,end_time,components_out,delivered_lumi,recorded_lumi,l1_triggers_counter,l1_hlt_mode_stripped,hlt_key,era,initial_prescale_index'

test('quoted fields stay one field, doubled quotes are one quote, CRLF and empty lines are read', () => {
  const { rows, errors } = parseCsv('a,b,c\r\n1,"[CTPPS, PIXEL]",x\r\n\r\na,"say ""hi""",\r\n')
  assert.deepEqual(errors, [])
  assert.deepEqual(rows.map(r => [r.line, r.values]), [[2, { a: '1', b: '[CTPPS, PIXEL]', c: 'x' }], [4, { a: 'a', b: 'say "hi"', c: '' }]])
})

test('a record csv-parse cannot read is reported with its line and the rest is kept', () => {
  const { rows, errors } = parseCsv('a,b\n1,2\n3,"unclosed\n')
  assert.deepEqual(rows.map(r => r.values.a), ['1'])
  assert.equal(errors.length, 1)
  assert.match(errors[0]!.message, /quote/i)
  assert.ok(errors[0]!.line >= 3, `line ${errors[0]!.line}`)
})

test('an empty file is reported', () => {
  assert.deepEqual(parseCsv('\n\n'), { rows: [], errors: [{ line: 1, message: 'empty file' }] })
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

test('luminosity units as OMS writes them, and as people type them, convert to /pb', () => {
  // [spelling, value, /pb]: OMS writes LaTeX; `{\mu}b^{-1}` is how a real OMS record spells µb⁻¹
  const table: Array<[string | undefined, number, number | undefined]> = [
    ['{\\mu}b^{-1}', 1_500_000, 1.5],
    [JSON.parse('"{\\\\mu}b^{-1}"') as string, 30_824, 0.030824], // the JSON text of a real OMS answer
    ['pb^{-1}', 2, 2],
    ['fb^{-1}', 2, 2000],
    ['nb^{-1}', 2000, 2],
    ['mb^{-1}', 2e9, 2],
    ['b^{-1}', 2e12, 2],
    ['ub^{-1}', 2e6, 2],
    ['µb^{-1}', 2e6, 2], // U+00B5
    ['μb^{-1}', 2e6, 2], // U+03BC
    ['\\mub^{-1}', 2e6, 2],
    ['/pb', 2, 2],
    ['1/fb', 2, 2000],
    ['pb-1', 2, 2],
    ['fb^-1', 2, 2000],
    [' pb^{-1} ', 2, 2],
    [undefined, 2, 2],
    ['', 2, 2],
    // not units: own properties of the table only, no inherited names
    ['constructor', 2, undefined],
    ['__proto__', 2, undefined],
    ['toString', 2, undefined],
    ['hasOwnProperty', 2, undefined],
    ['10^{30}cm^{-2}s^{-1}', 2, undefined], // an instantaneous luminosity unit
    ['barn', 2, undefined]
  ]
  for (const [unit, value, pb] of table) assert.equal(lumiToPb(value, unit), pb, `${JSON.stringify(unit)}`)
})

test('a real OMS record with {\\mu}b^{-1} units is read, and an inherited name is refused naming the field', () => {
  const attributes = { run_number: 355100, fill_number: 7920, start_time: '2022-07-05T14:27:44Z', end_time: '2022-07-05T15:00:00Z', recorded_lumi: 30824.1, delivered_lumi: 31912.5, era: 'Run2022C' }
  const parsed = runFromOms(attributes, { recorded_lumi: { units: '{\\mu}b^{-1}' }, delivered_lumi: { units: '{\\mu}b^{-1}' } })
  assert.ok(parsed.ok, JSON.stringify(parsed))
  assert.equal(parsed.run.recordedLumiPb, 0.0308241)
  const bad = runFromOms(attributes, { recorded_lumi: { units: 'constructor' } })
  assert.deepEqual(bad, { ok: false, error: { field: 'recorded_lumi', message: 'unknown luminosity unit "constructor"' } })
})

test('every record is checked against the run range and the name grammar, naming the field', () => {
  const base = { run_number: '355100', fill_number: '7920', start_time: '2022-07-05 14:27:44', end_time: '2022-07-05 15:00:00', era: 'Run2022C' }
  const table: Array<[string, Record<string, string>, string | undefined, RegExp | undefined]> = [
    ['a valid run', {}, undefined, undefined],
    ['run 0', { run_number: '0' }, 'run_number', /out of range/],
    ['run 2^32', { run_number: String(2 ** 32) }, 'run_number', /1 ≤ run < 2\^32/],
    ['run 2^32 - 1', { run_number: String(2 ** 32 - 1) }, undefined, undefined],
    ['an era that leaves the data directory', { era: '../../../../etc/cron.d/x' }, 'era', /era .* is not a valid name/],
    ['an era with a slash', { era: 'Run2022/C' }, 'era', /not a valid name/],
    ['an era with a control character', { era: 'Run2022C\u001b[31m' }, 'era', /not a valid name/],
    ['no era (unknown) is allowed', { era: '' }, undefined, undefined],
    ['a fill beyond uint32', { fill_number: String(2 ** 32) }, 'fill_number', /0 ≤ fill_number < 2\^32/],
    ['a duration beyond uint32', { duration: String(2 ** 32) }, 'duration', /out of range/]
  ]
  for (const [name, change, field, message] of table) {
    const csv = runFromCsv({ ...base, ...change })
    const oms = runFromOms(Object.fromEntries(Object.entries({ ...base, ...change }).map(([k, v]) => [k, k.endsWith('_time') ? `${v.replace(' ', 'T')}Z` : /^\d+$/.test(v) ? Number(v) : v])))
    for (const [source, parsed] of [['csv', csv], ['oms', oms]] as const) {
      if (field === undefined) {
        assert.ok(parsed.ok, `${name} (${source}): ${JSON.stringify(parsed)}`)
      } else {
        assert.ok(!parsed.ok, `${name} (${source}) refused`)
        assert.equal(parsed.error.field, field, `${name} (${source})`)
        assert.match(parsed.error.message, message!, `${name} (${source})`)
      }
    }
  }
})
