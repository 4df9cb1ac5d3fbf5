import { test } from 'node:test'
import assert from 'node:assert/strict'
import { deploymentGroup } from '../../src/adapters/consumer-lag.ts'

test('only the groups of this deployment are discovered for the lag metric', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['task-dispatcher', '', 'task-dispatcher'],
    ['t-1234.task-dispatcher', '', undefined],
    ['t-1234.task-dispatcher', 't-1234', 'task-dispatcher'],
    ['t-9999.task-dispatcher', 't-1234', undefined],
    ['task-dispatcher', 't-1234', undefined],
    ['t-1234.', 't-1234', undefined]
  ]
  for (const [group, prefix, name] of cases) assert.equal(deploymentGroup(group, prefix), name, `${group} under '${prefix}'`)
})
