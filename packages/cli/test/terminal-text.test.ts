import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { GetStatusResponseSchema, TaskState } from '@autocal/contracts'
import { terminalText } from '../src/terminal-text.ts'
import { renderMatrix } from '../src/status-matrix.ts'
import { printers } from '../src/cli.ts'

const hostile = 'ok \u001b]52;c;ZXZpbA==\u0007 \u001b[2J\rfake\u009b31m\u202eevil\u007f\nnext\tcol'

// everything a terminal acts on: C0 (but the kept ones), DEL, C1, separators, bidi controls
// eslint-disable-next-line no-control-regex -- control characters are what this matches
const live = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u

test('control characters, escape sequences and bidi overrides become visible escapes', () => {
  const table: Array<[string, Parameters<typeof terminalText>[1], string]> = [
    ['plain ✓ text, ünïcode', {}, 'plain ✓ text, ünïcode'],
    ['\u001b[2J', {}, '\\u001b[2J'],
    ['\u001b]52;c;ZXZpbA==\u0007', {}, '\\u001b]52;c;ZXZpbA==\\u0007'],
    ['a\rb', {}, 'a\\rb'],
    ['a\nb\tc', {}, 'a\\nb\\tc'],
    ['a\nb\tc', { keep: '\t' }, 'a\\nb\tc'],
    ['a\nb\tc', { keep: '\t\n' }, 'a\nb\tc'],
    ['\u009b31m', {}, '\\u009b31m'],
    ['\u0000\u007f\u0085', {}, '\\u0000\\u007f\\u0085'],
    ['x\u202ey\u2066z\u2028', {}, 'x\\u202ey\\u2066z\\u2028'],
    ['constructor toString __proto__', {}, 'constructor toString __proto__']
  ]
  for (const [text, options, expected] of table) assert.equal(terminalText(text, options), expected, JSON.stringify(text))
})

test('every line the CLI prints is neutralised; a JSON line keeps its meaning', () => {
  let out = ''
  let err = ''
  const p = printers({ stdout: { write: s => { out += s } }, stderr: { write: s => { err += s } }, env: {} })
  p.out(`reason ${hostile}`)
  p.err(`autocal: ${hostile}`)
  const json = JSON.stringify({ reason: hostile })
  p.out(json)
  for (const text of [out, err]) assert.doesNotMatch(text.replace(/[\t\n]/g, ''), live)
  assert.match(out, /reason ok \\u001b\]52;c;ZXZpbA==\\u0007 \\u001b\[2J\\rfake\\u009b31m\\u202eevil\\u007f\\nnext\tcol\n/)
  assert.deepEqual(JSON.parse(out.split('\n')[1] ?? ''), { reason: hostile })
})

test('the status matrix neutralises campaign, task names and reasons and keeps only its own colours', () => {
  const status = create(GetStatusResponseSchema, {
    campaign: 'prompt\u001b[2J',
    runs: [355100],
    tasks: ['timing\u0007'],
    cells: [{ run: 355100, task: 'timing\u0007', blockId: 'run-355100', state: TaskState.FAILED, attempt: 2, reason: hostile }]
  })
  for (const colour of [false, true]) {
    const text = renderMatrix(status, { colour })
    // eslint-disable-next-line no-control-regex -- control characters are what this matches
    const withoutOwnColours = text.replace(/\u001b\[(31|0)m/g, '')
    assert.doesNotMatch(withoutOwnColours.replace(/\n/g, ''), live, JSON.stringify(text))
    assert.match(text, /campaign prompt\\u001b\[2J:/)
    assert.match(text, /✗ 355100 timing\\u0007 \(run-355100, attempt 2\): ok \\u001b\]52;c;ZXZpbA==\\u0007 \\u001b\[2J\\rfake/)
  }
})
