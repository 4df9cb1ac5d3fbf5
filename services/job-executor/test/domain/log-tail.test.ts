import { test } from 'node:test'
import assert from 'node:assert/strict'
import { logTail, withLogTail } from '../../src/domain/log-tail.ts'

const cases: Array<[string, string, { lines?: number, chars?: number }, string]> = [
  ['the last lines, blank ones left out', 'starting\nreading run 357478\n\nTraceback (most recent call last):\n  File "reco.py", line 3\nValueError: no hits\n', { lines: 3 }, 'Traceback (most recent call last): | File "reco.py", line 3 | ValueError: no hits'],
  ['CRLF line ends', 'a\r\nb\r\n', {}, 'a | b'],
  ['an empty log says nothing', '\n\n', {}, ''],
  ['a long tail is cut at the front', 'x'.repeat(50) + '\nerror: disk full', { chars: 21 }, '…x | error: disk full']
]
for (const [name, text, o, expected] of cases) {
  test(`log tail: ${name}`, () => { assert.equal(logTail(text, o), expected) })
}

test('a failure reason gains the log tail only when there is one', () => {
  assert.equal(withLogTail('exit code 3', 'ValueError: no hits'), 'exit code 3; log tail: ValueError: no hits')
  assert.equal(withLogTail('exit code 3', ''), 'exit code 3')
})
