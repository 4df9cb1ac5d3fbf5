import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { loadWorkflows } from '../../src/adapters/workflow-files.ts'

test('the example workflows load with their golden JSON', () => {
  const r = loadWorkflows(resolve(import.meta.dirname, '../../../../deploy/workflows'), {})
  assert.deepEqual(r.errors, [])
  assert.deepEqual(r.workflows.map(w => `${w.subsystem}/${w.workflow}`), ['ECAL/pedestals', 'ECAL/phisym', 'ECAL/pi0', 'ECAL/timing', 'PPS/timing'])
  assert.equal([...r.golden.values()][0]?.size, 360)
})

test('a missing golden JSON is an error naming the file and line that refer to it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  writeFileSync(join(dir, 'w.yaml'), 'subsystem: ECAL\nworkflow: w\ntasks:\n  - name: a\n    run: [x]\n    filter: { golden: missing.json }\n')
  const r = loadWorkflows(dir, {})
  assert.equal(r.errors.length, 1)
  assert.match(r.errors[0] ?? '', new RegExp(`^w\\.yaml:6:23 tasks\\.0\\.filter\\.golden: cannot read golden JSON ${dir}/missing\\.json: ENOENT`))
})

test('an empty directory is an error', () => {
  assert.match(loadWorkflows(mkdtempSync(join(tmpdir(), 'autocal-wf-')), {}).errors[0] ?? '', /no workflow files/)
})
