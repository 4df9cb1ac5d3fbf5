// Two executors on the same topics and Redis share the work by consumer group,
// and the cluster-wide slots (AUTOCAL_EXECUTOR_SLOTS=1) hold across both. The
// jobs' keys cover every partition of the requests topic (by the producer's
// own partitioner) and the jobs are requested once both executors hold
// partitions, so each executor must run some of them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Partitioners } from 'kafkajs'
import { JobPhase, taskKey, topicName } from '@autocal/contracts'
import { createKafka, loadConfig } from '@autocal/runtime'
import { Config } from '../../src/config.ts'
import { startJobExecutor } from '../../src/app.ts'
import { quietLogger, scratchDir, startBench, testEnv, topics, until } from '../helpers/harness.ts'

/** Job ids (as the bench keys them: prompt/run-<id>/t) that cover every partition of the requests topic, two per partition. */
function idsOverEveryPartition (partitions: number): string[] {
  const partitioner = Partitioners.DefaultPartitioner()
  const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionErrorCode: 0, partitionId: i, leader: 0, replicas: [0], isr: [0], offlineReplicas: [] }))
  const ids: string[] = []
  const perPartition = new Map<number, number>()
  for (let n = 1; ids.length < 2 * partitions && n < 10_000; n++) {
    const id = `s-${n}`
    const p = partitioner({ topic: 'requests', partitionMetadata, message: { key: taskKey('prompt', `run-${id}`, 't'), value: null } })
    if ((perPartition.get(p) ?? 0) >= 2) continue
    perPartition.set(p, (perPartition.get(p) ?? 0) + 1)
    ids.push(id)
  }
  return ids
}

test('two executors with one slot between them share the jobs, never run two at once, and run every job once', async () => {
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
  const config = loadConfig(Config, env)
  const partitions = topics.jobRequests.settings.partitions
  const ids = idsOverEveryPartition(partitions)
  assert.equal(ids.length, 2 * partitions)
  // both executors in the group, each with partitions of its own, before anything is requested
  const admin = createKafka(config, logger, 'scale-out-probe').admin()
  await admin.connect()
  try {
    const group = `${config.AUTOCAL_KAFKA_TOPIC_PREFIX}.job-executor`
    const requests = topicName(topics.jobRequests, config.AUTOCAL_KAFKA_TOPIC_PREFIX)
    await until('both executors hold partitions of the requests topic', async () => {
      const [g] = (await admin.describeGroups([group])).groups
      return g?.state === 'Stable' && g.members.length === 2 && g.members.every(m => m.memberAssignment.includes(Buffer.from(requests)))
    }, 60_000)
  } finally {
    await admin.disconnect()
  }
  for (const id of ids) await bench.request(id, job(id))
  await until('all done', () => ids.every(id => bench.final(id) !== undefined), 90_000)
  assert.deepEqual(ids.map(id => bench.final(id)!.reason), ids.map(() => ''))
  assert.ok(ids.every(id => bench.final(id)!.phase === JobPhase.DONE))
  const lines = existsSync(journal) ? readFileSync(journal, 'utf8').trim().split('\n').sort() : []
  assert.deepEqual(lines, ids.map(id => `${id} alone`).sort())
  const ranBy = (name: string): string[] => ids.filter(id => bench.final(id)!.executor === name)
  assert.deepEqual([...ranBy('exec-a'), ...ranBy('exec-b')].sort(), [...ids].sort(), 'every job ran on one of the two')
  assert.ok(ranBy('exec-a').length > 0 && ranBy('exec-b').length > 0, `both executors ran jobs: exec-a ${ranBy('exec-a').join(',')}; exec-b ${ranBy('exec-b').join(',')}`)
})
