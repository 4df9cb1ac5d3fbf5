import { test } from 'node:test'
import assert from 'node:assert/strict'
import { create } from '@bufbuild/protobuf'
import { ConditionEventSchema, Outcome } from '@autocal/contracts'
import { iovOf } from '../src/cross-needs.ts'

test('a condition event gives its tag an IOV when uploaded or already there, at the since it asked for', () => {
  const table: Array<[string, Parameters<typeof create<typeof ConditionEventSchema>>[1], ReturnType<typeof iovOf>]> = [
    ['uploaded', { outcome: Outcome.UPLOADED, tag: 'T', since: 357400n, target: 'sqlite:/x' }, { tag: 'T', since: 357400 }],
    ['moved to the FCSR: the since asked for', { outcome: Outcome.UPLOADED, tag: 'T', since: 357500n, requestedSince: 357400n, target: 'sqlite:/x' }, { tag: 'T', since: 357400 }],
    ['the same IOV already there', { outcome: Outcome.SKIPPED, tag: 'T', since: 357400n, target: 'sqlite:/x' }, { tag: 'T', since: 357400 }],
    ['a dry run writes nothing', { outcome: Outcome.SKIPPED, tag: 'T', since: 357400n, target: 'dry-run' }, undefined],
    ['rejected', { outcome: Outcome.REJECTED, tag: 'T', since: 357400n, target: 'sqlite:/x' }, undefined],
    ['failed', { outcome: Outcome.FAILED, tag: 'T', since: 357400n }, undefined],
    ['no tag', { outcome: Outcome.UPLOADED, since: 357400n, target: 'sqlite:/x' }, undefined]
  ]
  for (const [name, init, want] of table) assert.deepEqual(iovOf(create(ConditionEventSchema, init)), want, name)
})
