import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeShellStatus, outcomeOf, type ProcessEnd } from '../../src/domain/outcome.ts'

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
