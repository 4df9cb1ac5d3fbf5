import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeShellStatus, outcomeOf, type ProcessEnd } from '../../src/domain/outcome.ts'
import { parseManifest } from '../../src/domain/manifest.ts'

const clean: ProcessEnd = { exitCode: 0, signal: '', timedOut: false, timeoutS: 0, cancelled: false, cancelReason: '', missingOutputs: [] }

test('outcomes, from the most to the least specific cause', () => {
  const cases: Array<[Partial<ProcessEnd>, string, string, boolean]> = [
    [{}, 'done', '', false],
    [{ exitCode: 2 }, 'failed', 'exit code 2', true],
    [{ exitCode: null, signal: 'SIGSEGV' }, 'failed', 'killed by SIGSEGV', true],
    [{ timedOut: true, timeoutS: 60, exitCode: null, signal: 'SIGTERM' }, 'failed', 'timeout after 60 s (process group killed)', true],
    [{ cancelled: true, cancelReason: 'bad run', exitCode: null, signal: 'SIGTERM' }, 'failed', 'cancelled: bad run', false],
    [{ missingOutputs: ['/x/a.db'] }, 'failed', 'declared output missing: /x/a.db', false],
    [{ manifestProblem: 'outputs.json is not JSON' }, 'failed', 'outputs.json is not JSON', false]
  ]
  for (const [end, phase, reason, retryable] of cases) {
    assert.deepEqual(outcomeOf({ ...clean, ...end }), { phase, reason, retryable }, JSON.stringify(end))
  }
})

test('a shell status above 128 is a signal', () => {
  assert.deepEqual(decodeShellStatus(137, { SIGKILL: 9 }), { exitCode: null, signal: 'SIGKILL' })
  assert.deepEqual(decodeShellStatus(1, { SIGKILL: 9 }), { exitCode: 1, signal: '' })
})

test('the manifest names outputs relative to the output directory', () => {
  assert.deepEqual(parseManifest(undefined, '/o'), { ok: true, outputs: [] })
  assert.deepEqual(parseManifest('{"outputs": [{"path": "a.db", "label": "condition"}, "sub/b.root", "/abs/c"]}', '/o'),
    { ok: true, outputs: [{ path: '/o/a.db', label: 'condition' }, { path: '/o/sub/b.root', label: '' }, { path: '/abs/c', label: '' }] })
  assert.match((parseManifest('{', '/o') as { reason: string }).reason, /not JSON/)
  assert.match((parseManifest('{"outputs": [{"label": "x"}]}', '/o') as { reason: string }).reason, /outputs\[0\]\.path/)
  assert.match((parseManifest('[]', '/o') as { reason: string }).reason, /expected \{"outputs"/)
})
