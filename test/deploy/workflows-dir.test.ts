// The run command (`pnpm start`, `bash deploy/run.sh`, deploy/local/system.ts)
// loads the workflows of AUTOCAL_WORKFLOWS_DIR. Before, the launcher gave
// every service its own AUTOCAL_WORKFLOWS_DIR (the example folder) over the
// environment's, so a new workflow had to be copied into deploy/workflows.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { exampleWorkflowsDir, repoRoot, runCommandOptions, startSystem, workflowsDirOf } from '../../deploy/local/system.ts'

const workflow = `subsystem: HCAL
workflow: gains
campaigns: [prompt]
tasks:
  - name: gains-reco
    block: run
    run: [python3, "-c", "print('gains')"]
`

function userDir (): string {
  const home = mkdtempSync(join(tmpdir(), 'autocal-user-'))
  mkdirSync(join(home, 'my-workflows'))
  writeFileSync(join(home, 'my-workflows', 'hcal-gains.yaml'), workflow)
  return home
}

test('the workflow directory: the variable (relative to where the command ran) or the examples; a bad one is named at start', () => {
  const home = userDir()
  mkdirSync(join(home, 'empty'))
  writeFileSync(join(home, 'file.yaml'), workflow)
  assert.equal(workflowsDirOf({}, home), exampleWorkflowsDir)
  assert.equal(workflowsDirOf({ AUTOCAL_WORKFLOWS_DIR: '' }, home), exampleWorkflowsDir)
  assert.equal(workflowsDirOf({ AUTOCAL_WORKFLOWS_DIR: 'my-workflows' }, home), join(home, 'my-workflows'))
  assert.equal(workflowsDirOf({ AUTOCAL_WORKFLOWS_DIR: join(home, 'my-workflows') }, '/'), join(home, 'my-workflows'))
  assert.throws(() => workflowsDirOf({ AUTOCAL_WORKFLOWS_DIR: 'missing' }, home), { message: `AUTOCAL_WORKFLOWS_DIR=missing: cannot read ${join(home, 'missing')} (ENOENT)` })
  assert.throws(() => workflowsDirOf({ AUTOCAL_WORKFLOWS_DIR: 'empty' }, home), { message: `AUTOCAL_WORKFLOWS_DIR=empty: ${join(home, 'empty')} holds no workflow file (*.yaml, *.yml)` })
  assert.throws(() => workflowsDirOf({ AUTOCAL_WORKFLOWS_DIR: 'file.yaml' }, home), { message: `AUTOCAL_WORKFLOWS_DIR=file.yaml: ${join(home, 'file.yaml')} is not a directory` })
})

test('a new workflow in AUTOCAL_WORKFLOWS_DIR is run by the dispatcher the run command starts, without copying it into the examples', { timeout: 120_000 }, async t => {
  const home = userDir()
  const prefix = `t-wf-${randomUUID().slice(0, 8)}`
  const basePort = 30000 + Math.floor(Math.random() * 20000)
  // the run command's own options (as `pnpm start` run from `home` builds them), under a test prefix, the dispatcher only
  const options = runCommandOptions({ AUTOCAL_WORKFLOWS_DIR: 'my-workflows', AUTOCAL_CONTROL_TOKENS: JSON.stringify({ 'wf-admin-token': { principal: 'dev', subsystems: '*' } }) }, home, { env: {}, realdataDir: home })
  const system = await startSystem({ ...options, prefix, basePort, dataDir: join(home, 'data'), services: ['task-dispatcher'] })
  t.after(async () => { await system.stop() })
  const listed = await new Promise<{ code: number | null, stdout: string, stderr: string }>(resolve => {
    execFile(process.execPath, [join(repoRoot, 'packages/cli/src/main.ts'), 'workflows', 'list', '--json'], {
      env: { ...process.env, AUTOCAL_CONTROL_URL: `127.0.0.1:${system.ports.dispatcherGrpc}`, AUTOCAL_TOKEN: 'wf-admin-token' }
    }, (err, stdout, stderr) => { resolve({ code: err === null ? 0 : 1, stdout, stderr }) })
  })
  assert.equal(listed.code, 0, listed.stderr)
  const workflows = JSON.parse(listed.stdout) as Array<{ subsystem: string, workflow: string, file: string }>
  assert.deepEqual(workflows.map(w => `${w.subsystem}/${w.workflow}`), ['HCAL/gains'], 'the directory\'s workflow, and only it')
  assert.match(workflows[0]!.file, /hcal-gains\.yaml$/)
})
