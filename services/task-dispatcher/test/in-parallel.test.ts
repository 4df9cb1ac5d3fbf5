// inParallel: the planner's bounded fan-out over tasks.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { inParallel } from '../src/planner.ts'

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

test('every item is handled once, never more than the limit at a time', async () => {
  let running = 0
  let most = 0
  const handled: number[] = []
  await inParallel(Array.from({ length: 100 }, (_, i) => i), 7, async i => {
    running++
    most = Math.max(most, running)
    await tick()
    handled.push(i)
    running--
  })
  assert.deepEqual([...handled].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i))
  assert.equal(most, 7)
})

test('a limit of 1 keeps the order', async () => {
  const handled: number[] = []
  await inParallel([3, 1, 2], 1, async i => { await tick(); handled.push(i) })
  assert.deepEqual(handled, [3, 1, 2])
})

test('a failure does not stop the other items; the first error is thrown at the end', async () => {
  const handled: number[] = []
  await assert.rejects(inParallel([1, 2, 3, 4, 5], 2, async i => {
    await tick()
    if (i === 2 || i === 4) throw new Error(`item ${i} failed`)
    handled.push(i)
  }), /item 2 failed/)
  assert.deepEqual([...handled].sort(), [1, 3, 5])
})

test('no items: nothing happens', async () => {
  await inParallel([], 4, async () => { throw new Error('not called') })
})
