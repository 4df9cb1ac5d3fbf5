// Workflow hot reload when the configured directory itself is replaced: a
// link swapped to a new release directory (`ln -sfn release-2 workflows`) and
// a directory removed and made again. fs.watch keeps watching the old
// directory in both cases, so the reload must notice that the path names
// another directory now. The watcher runs in-process on the real Redis state
// store (for the orphan look-up).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectRedis } from '@autocal/runtime'
import { createStateStore } from '../../src/adapters/state-store.ts'
import { loadWorkflows } from '../../src/adapters/workflow-files.ts'
import { watchWorkflows, type ReloadResult } from '../../src/adapters/workflow-watch.ts'
import { buildCatalog } from '../../src/domain/catalog.ts'
import { silentLogger, testConfig, until } from './fixtures.ts'

const workflow = (task: string): string => `subsystem: ECAL\nworkflow: swap\ncampaigns: [prompt]\ntasks:\n  - name: ${task}\n    run: [python3, "-c", "print(1)"]\n`

test('a swapped workflow directory link and a directory made again are reloaded from their new contents', { timeout: 60_000 }, async () => {
  const config = testConfig()
  await using redis = await connectRedis({ config, logger: silentLogger })
  const root = mkdtempSync(join(tmpdir(), 'autocal-swap-'))
  mkdirSync(join(root, 'release-1'))
  mkdirSync(join(root, 'release-2'))
  writeFileSync(join(root, 'release-1', 'swap.yaml'), workflow('reco'))
  writeFileSync(join(root, 'release-2', 'swap.yaml'), workflow('calib'))
  const dir = join(root, 'workflows')
  symlinkSync('release-1', dir)
  const loaded = loadWorkflows(dir, {})
  assert.deepEqual(loaded.errors, [])
  const catalog = buildCatalog(loaded.workflows)
  const results: ReloadResult[] = []
  using _watch = watchWorkflows({ dir, env: {}, catalog, golden: loaded.golden, store: createStateStore(redis), logger: silentLogger, settleMs: 50 }, r => { results.push(r) })
  const tasks = (): string[] => catalog.workflows.flatMap(w => w.tasks.map(t => t.name))
  assert.deepEqual(tasks(), ['reco'])

  // the link is swapped atomically to the other release, as a deployment does
  symlinkSync('release-2', join(root, 'next'))
  renameSync(join(root, 'next'), dir)
  await until('the swapped release loaded', async () => tasks().includes('calib'), 10_000)

  // the link is replaced by a real directory, removed and made again
  rmSync(dir)
  mkdirSync(dir)
  writeFileSync(join(dir, 'swap.yaml'), workflow('merge'))
  await until('the new directory loaded', async () => tasks().includes('merge'), 10_000)
  rmSync(dir, { recursive: true })
  await until('the missing directory refused', async () => results.some(r => r.kind === 'refused'), 10_000)
  mkdirSync(dir)
  writeFileSync(join(dir, 'swap.yaml'), workflow('export'))
  await until('the directory made again loaded', async () => tasks().includes('export'), 10_000)
})
