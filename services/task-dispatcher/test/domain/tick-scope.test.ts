import { test } from 'node:test'
import assert from 'node:assert/strict'
import { tickEvaluates } from '../../src/domain/tick-scope.ts'

test('the tick leaves a task a handler planned moments ago to that handler, and catches it once the grace passed', () => {
  const now = 1_000_000
  const cases: Array<[string, Parameters<typeof tickEvaluates>, boolean]> = [
    ['new, planned 100 ms ago: the handler evaluates it', [{ state: 'new', atMs: now - 100 }, now, 2000], false],
    ['new, planned 1999 ms ago', [{ state: 'new', atMs: now - 1999 }, now, 2000], false],
    ['new, planned exactly the grace ago: missed by its handler', [{ state: 'new', atMs: now - 2000 }, now, 2000], true],
    ['new, planned long ago', [{ state: 'new', atMs: now - 60_000 }, now, 2000], true],
    ['new, planned by the tick itself (a run its handler missed)', [{ state: 'new', atMs: now - 10 }, now, 2000, true], true],
    ['new, no grace', [{ state: 'new', atMs: now }, now, 0], true],
    ['waiting, just now: evaluated already, its gates may have opened', [{ state: 'waiting', atMs: now - 10 }, now, 2000], true],
    ['processing (retry due)', [{ state: 'processing', atMs: now - 10 }, now, 2000], true]
  ]
  for (const [name, args, want] of cases) assert.equal(tickEvaluates(...args), want, name)
})
