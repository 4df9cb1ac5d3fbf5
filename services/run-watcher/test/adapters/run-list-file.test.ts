import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseRunList, readRunList } from '../../src/adapters/run-list-file.ts'

const realdata = process.env.AUTOCAL_REALDATA_DIR ?? new URL('../../../../../shared/realdata', import.meta.url).pathname
const noRealdata = existsSync(join(realdata, 'Runs2022-hltmode.csv')) ? false : `no run list in ${realdata}`

test('the real 2022 export is read whole: 3,990 runs, no record skipped', { skip: noRealdata }, async () => {
  const list = await readRunList(join(realdata, 'Runs2022-hltmode.csv'))
  assert.equal(list.runs.length, 3990)
  assert.deepEqual(list.problems, [])
  assert.equal(new Set(list.runs.map(r => r.run)).size, 3990)
  const eras = new Set(list.runs.map(r => r.era))
  for (const era of ['Run2022A', 'Run2022C', 'Run2022G', 'HIRun2022A']) assert.ok(eras.has(era), era)
})

test('the enriched 2022 list gives the same runs, with stable beams from its lumisection count', { skip: noRealdata }, async () => {
  const plain = await readRunList(join(realdata, 'Runs2022-hltmode.csv'))
  const enriched = await readRunList(join(realdata, 'runs2022_oms_enriched.csv'))
  assert.deepEqual(enriched.problems, [])
  const byRun = new Map(plain.runs.map(r => [r.run, r]))
  for (const r of enriched.runs) {
    assert.equal(typeof r.stableBeam, 'boolean', `run ${r.run}: stable beam known`)
    assert.deepEqual({ ...r, stableBeam: undefined }, { ...byRun.get(r.run), stableBeam: undefined }, `run ${r.run}`)
  }
  assert.ok(enriched.runs.some(r => r.stableBeam === true) && enriched.runs.some(r => r.stableBeam === false))
})

test('a JSON run list of OMS attributes, or an OMS JSON:API answer with units, is read like the CSV', () => {
  const attrs = { run_number: 355100, fill_number: 7920, start_time: '2022-07-05T10:00:00Z', end_time: '2022-07-05T11:00:00Z', recorded_lumi: 2500, delivered_lumi: 2600, l1_hlt_mode_stripped: 'collisions2022/v69', era: 'Run2022B' }
  const list = parseRunList(JSON.stringify([attrs, { ...attrs, run_number: 355101, start_time: 'soon' }]), 'runs.json')
  assert.equal(list.runs.length, 1)
  assert.equal(list.runs[0]?.recordedLumiPb, 2500)
  assert.deepEqual(list.problems.map(p => ({ where: p.where, field: p.field, message: p.message, run: p.run, value: p.value })), [{ where: 'record 1', field: 'start_time', message: 'expected an ISO-8601 UTC time, got "soon"', run: '355101', value: 'soon' }])
  const api = parseRunList(JSON.stringify({ data: [{ id: '355100', type: 'runs', attributes: attrs, meta: { row: { recorded_lumi: { units: 'nb^{-1}' }, delivered_lumi: { units: 'nb^{-1}' } } } }] }), 'page.json')
  assert.equal(api.runs[0]?.recordedLumiPb, 2.5)
  assert.equal(api.runs[0]?.deliveredLumiPb, 2.6)
  assert.equal(api.runs[0]?.runClass, 'collisions2022')
})

test('a file that is not a run list says so instead of giving no runs', () => {
  const csv = parseRunList('a,b\n1,2\n', 'other.csv')
  assert.equal(csv.runs.length, 0)
  assert.match(csv.problems[0]?.message ?? '', /no run_number, start_time column/)
  const json = parseRunList('{"runs": 3', 'broken.json')
  assert.match(json.problems[0]?.message ?? '', /not JSON/)
})

test('a record a run list cannot read is reported with its run, field and value, and the record itself', () => {
  const csv = ['run_number,fill_number,start_time,end_time,era',
    '355100,7920,2022-07-05 14:27:44,2022-07-05 15:00:00,Run2022C',
    '355101,7920,2022-07-05 15:10:00,2022-07-05 16:00:00,../../etc/cron.d/x',
    '4294967296,7920,2022-07-05 16:10:00,2022-07-05 17:00:00,Run2022C'].join('\n')
  const list = parseRunList(csv, 'runs.csv')
  assert.deepEqual(list.runs.map(r => r.run), [355100])
  assert.deepEqual(list.problems.map(p => [p.where, p.run, p.field, p.value]), [
    ['line 3 (run 355101)', '355101', 'era', '../../etc/cron.d/x'],
    ['line 4 (run 4294967296)', '4294967296', 'run_number', '4294967296']
  ])
  assert.equal((list.problems[0]?.raw as Record<string, string>).start_time, '2022-07-05 15:10:00')
  const json = parseRunList(JSON.stringify([{ run_number: 355102, start_time: '2022-07-05T17:10:00Z', era: 'Run2022C', recorded_lumi: 2, units: 'x' }, { run_number: 0, start_time: '2022-07-05T17:10:00Z' }]), 'runs.json')
  assert.deepEqual(json.problems.map(p => [p.where, p.run, p.field, p.value]), [['record 1', '0', 'run_number', 0]])
})
