// Two executors on the same topics and Redis share the work by consumer group,
// and the cluster-wide slots (AUTOCAL_EXECUTOR_SLOTS=1) hold across both.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { JobPhase } from '@autocal/contracts'
import { loadConfig } from '@autocal/runtime'
import { Config } from '../../src/config.ts'
import { startJobExecutor } from '../../src/app.ts'
import { quietLogger, scratchDir, startBench, testEnv, until } from '../helpers/harness.ts'

test('two executors with one slot between them never run two jobs at once, and every job runs once', async () => {
  const env = testEnv({ AUTOCAL_EXECUTOR_SLOTS: '1' })
  const logger = quietLogger()
  await using bench = await startBench(env, logger)
  await using _a = await startJobExecutor(loadConfig(Config, { ...env, AUTOCAL_INSTANCE_ID: 'exec-a' }), logger)
  await using _b = await startJobExecutor(loadConfig(Config, { ...env, AUTOCAL_INSTANCE_ID: 'exec-b' }), logger)
  const markers = join(scratchDir(env), 'running')
  const journal = join(scratchDir(env), 'journal.txt')
  mkdirSync(markers, { mode: 0o777 })
  chmodSync(markers, 0o777)
  // each job notes whether another one was running when it started
  const job = (id: string): string[] => ['python3', '-c', `
import os, time
others = os.listdir(${JSON.stringify(markers)})
open(${JSON.stringify(journal)}, 'a').write('${id} ' + ('overlap' if others else 'alone') + '\\n')
open(os.path.join(${JSON.stringify(markers)}, '${id}'), 'w').close()
time.sleep(0.3)
os.remove(os.path.join(${JSON.stringify(markers)}, '${id}'))`]
  const ids = ['s-1', 's-2', 's-3', 's-4', 's-5', 's-6']
  for (const id of ids) await bench.request(id, job(id))
  await until('all done', () => ids.every(id => bench.final(id) !== undefined), 90_000)
  assert.deepEqual(ids.map(id => bench.final(id)!.reason), ids.map(() => ''))
  assert.ok(ids.every(id => bench.final(id)!.phase === JobPhase.DONE))
  const lines = existsSync(journal) ? readFileSync(journal, 'utf8').trim().split('\n').sort() : []
  assert.deepEqual(lines, ids.map(id => `${id} alone`).sort())
  const executors = new Set(ids.map(id => bench.final(id)!.executor))
  assert.ok([...executors].every(e => e === 'exec-a' || e === 'exec-b'))
})
