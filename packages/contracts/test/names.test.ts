import { test } from 'node:test'
import assert from 'node:assert/strict'
import { nameProblem, runProblem, type NameKind } from '../src/names.ts'

const cases: Array<[NameKind, string, boolean]> = [
  ['era', 'Run2022C', true],
  ['era', 'HIRun2022A', true],
  ['era', '../../../../etc/cron.d/x', false],
  ['era', 'Run2022C/x', false],
  ['era', '', false],
  ['era', 'a..b', false],
  ['era', '.hidden', false],
  ['era', 'Run 2022', false],
  ['era', 'Run2022\u001b[31m', false],
  ['era', 'x'.repeat(100), true],
  ['era', 'x'.repeat(101), false],
  ['campaign', 'ecal-timing-rereco-2022', true],
  ['task', 'timing-calib', true],
  ['task', 'constructor', true],
  ['subsystem', 'ECAL', true],
  ['subsystem', 'EGM_POG', true],
  ['subsystem', 'ecal', false],
  ['subsystem', '', false],
  ['tag', 'EcalTimeCalibConstants_v01_prompt', true],
  ['tag', 'PPSDiamondTimingCalibration_pcl', true],
  ['tag', 'a/b', false],
  ['record', 'EcalPedestalsRcd', true],
  ['block', 'run-361000', true],
  ['block', 'fill-8102', true],
  ['block', 'era-Run2022C', true],
  ['block', 'lumi-Run2022C-0003', true],
  ['block', 'run-../x', false],
  ['block', 'block-1', false],
  ['block', 'run-1/2', false]
]

test('the name grammar accepts the names CMS uses and refuses paths, separators and control characters', () => {
  for (const [kind, value, ok] of cases) {
    const problem = nameProblem(kind, value)
    assert.equal(problem === undefined, ok, `${kind} ${JSON.stringify(value)}: ${problem ?? 'valid'}`)
    if (!ok) assert.match(problem ?? '', new RegExp(`^${kind} `))
  }
})

test('a refused name is named in the reason with control characters escaped', () => {
  assert.equal(nameProblem('era', 'a\u001bb'), 'era "a\\u001bb" is not a valid name: expected letters, digits, _ . - (at most 100, starting with a letter or digit), e.g. Run2022C')
})

test('run numbers are 1 ≤ run < 2^32', () => {
  const table: Array<[number | bigint, boolean]> = [[1, true], [361000, true], [2 ** 32 - 1, true], [2 ** 32, false], [0, false], [-5, false], [1.5, false], [Number.NaN, false], [2n ** 40n, false], [5n, true]]
  for (const [run, ok] of table) assert.equal(runProblem(run) === undefined, ok, String(run))
})
