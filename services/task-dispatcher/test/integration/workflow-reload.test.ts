// Workflow hot reload on a dispatcher process over real Kafka and Redis: a
// workflow file changed on disk is picked up within seconds without a
// restart; new runs get the new task and the new version, the runs planned
// before keep theirs; a file that does not validate changes nothing; a task
// whose definition disappeared is reported as orphaned and can be cancelled.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectRedis, startProducer } from '@autocal/runtime'
import { topics } from '@autocal/contracts'
import { createStateStore } from '../../src/adapters/state-store.ts'
import type { Task } from '../../src/domain/task-state.ts'
import { realRuns, repo, runEvents, silentLogger, spawnDispatcher, stopDispatcher, testConfig, until } from './fixtures.ts'

const token = 'reload-admin-token'
const cliPath = join(repo, 'packages/cli/src/main.ts')

function workflow (tasks: string[]): string {
  return `subsystem: ECAL\nworkflow: reload\ncampaigns: [prompt]\ntasks:\n${tasks.map(t => `  - name: ${t}\n    block: run\n    run: [python3, "-c", "print(1)"]\n`).join('')}`
}

function cli (args: string[], port: number): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [cliPath, ...args], { env: { ...process.env, AUTOCAL_CONTROL_URL: `127.0.0.1:${port}`, AUTOCAL_TOKEN: token } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

test('a changed workflow file is picked up without a restart; planned tasks keep their version; an orphaned task is reported and cancelled', { timeout: 150_000 }, async t => {
  const config = testConfig()
  const dir = mkdtempSync(join(tmpdir(), 'autocal-reload-'))
  const file = join(dir, 'reload.yaml')
  writeFileSync(file, workflow(['reco']))
  const dispatcher = await spawnDispatcher(config, { AUTOCAL_WORKFLOWS_DIR: dir, AUTOCAL_CONTROL_TOKENS: JSON.stringify({ [token]: { principal: 'dev', subsystems: '*' } }) })
  t.after(async () => { await stopDispatcher(dispatcher) })
  await using redis = await connectRedis({ config, logger: silentLogger })
  const store = createStateStore(redis)
  const tasks = async (): Promise<Task[]> => await store.getTasks(await store.taskKeys('prompt'))
  const version = async (): Promise<string> => {
    const r = await cli(['workflows', 'list', '--json'], dispatcher.grpcPort)
    assert.equal(r.code, 0, r.stderr)
    return (JSON.parse(r.stdout) as Array<{ version: string }>)[0]?.version ?? ''
  }
  await using producer = await startProducer({ config, logger: silentLogger, service: 'test-run-watcher' })
  const [first, second] = realRuns(357401, 357406).filter(r => r.run === 357401 || r.run === 357406)
  assert.ok(first !== undefined && second !== undefined)

  await producer.publishMany(topics.runs, runEvents([first]))
  await until('reco of the first run planned', async () => (await tasks()).some(x => x.task === 'reco' && x.block.runs.includes(first.run)), 30_000)
  const v1 = await version()

  // a task added on disk: picked up within seconds, for new runs only
  writeFileSync(file, workflow(['reco', 'calib']))
  await until('the new version loaded', async () => await version() !== v1, 10_000)
  const v2 = await version()
  await producer.publishMany(topics.runs, runEvents([second]))
  await until('both tasks of the second run planned', async () => (await tasks()).filter(x => x.block.runs.includes(second.run)).length === 2, 30_000)
  const all = await tasks()
  assert.deepEqual(all.filter(x => x.block.runs.includes(first.run)).map(x => [x.task, x.workflowVersion]), [['reco', v1]], 'the first run keeps its task and version; no calib for it')
  assert.deepEqual(all.filter(x => x.block.runs.includes(second.run)).map(x => [x.task, x.workflowVersion]).sort(), [['calib', v2], ['reco', v2]])

  // a file that does not validate changes nothing
  writeFileSync(file, workflow(['reco', 'calib']).replace('block: run', 'block: weekly'))
  await until('the refusal logged', () => readFileSync(dispatcher.log, 'utf8').includes('workflow change refused'), 10_000)
  assert.equal(await version(), v2)

  // reco removed: its unfinished tasks are orphaned, reported, and can be cancelled
  writeFileSync(file, workflow(['calib']))
  await until('the orphans reported', () => readFileSync(dispatcher.log, 'utf8').includes('tasks orphaned'), 10_000)
  const report = readFileSync(dispatcher.log, 'utf8').split('\n').find(l => l.includes('tasks orphaned')) ?? ''
  assert.match(report, new RegExp(`prompt/run-${first.run}/reco \\(processing, planned with ${v1}\\)`))
  assert.match(report, new RegExp(`prompt/run-${second.run}/reco \\(processing, planned with ${v2}\\)`))
  const cancel = await cli(['cancel', '--campaign', 'prompt', '--task', 'reco', '--reason', 'reco removed from the workflow'], dispatcher.grpcPort)
  assert.equal(cancel.code, 0, cancel.stderr)
  await until('the orphans cancelled', async () => (await tasks()).filter(x => x.task === 'reco').every(x => x.state === 'cancelled'), 30_000)
  assert.ok((await tasks()).filter(x => x.task === 'calib').every(x => x.state !== 'cancelled'), 'calib untouched')
})
