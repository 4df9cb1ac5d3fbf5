/* eslint-disable no-template-curly-in-string -- workflow files use ${VAR} expansion */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { loadWorkflows, readWorkflowSources } from '../../src/adapters/workflow-files.ts'

const repo = resolve(import.meta.dirname, '../../../..')
const realdataDir = resolve(process.env.AUTOCAL_REALDATA_DIR ?? join(repo, '../shared/realdata'))

test('the example workflows load with their golden JSON', () => {
  const r = loadWorkflows(join(repo, 'deploy/workflows'), { AUTOCAL_REALDATA_DIR: realdataDir })
  assert.deepEqual(r.errors, [])
  assert.deepEqual(r.workflows.map(w => `${w.subsystem}/${w.workflow}${w.branch === '' ? '' : `@${w.branch}`}`), ['ECAL/pedestals', 'ECAL/phisym', 'ECAL/pi0', 'ECAL/timing@dev', 'ECAL/timing', 'EGM/photon-scale', 'PPS/timing'])
  assert.equal([...r.golden.values()][0]?.size, 360)
})

test('a missing golden JSON is an error naming the file and line that refer to it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  writeFileSync(join(dir, 'w.yaml'), 'subsystem: ECAL\nworkflow: w\ntasks:\n  - name: a\n    run: [x]\n    filter: { golden: missing.json }\n')
  const r = loadWorkflows(dir, {})
  assert.equal(r.errors.length, 1)
  assert.match(r.errors[0] ?? '', new RegExp(`^w\\.yaml:6:23 tasks\\.0\\.filter\\.golden: cannot read golden JSON ${dir}/missing\\.json \\(ENOENT\\)$`))
})

test('an empty directory is an error', () => {
  assert.match(loadWorkflows(mkdtempSync(join(tmpdir(), 'autocal-wf-')), {}).errors[0] ?? '', /no workflow files/)
})

const workflowWith = (filter: string): string => `subsystem: ECAL\nworkflow: w\ntasks:\n  - name: a\n    run: [x]\n    filter: ${filter}\n`

test('a golden file that is not certification JSON is reported without its content', () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  writeFileSync(join(dir, 'notjson.txt'), 'root:x:0:0:root:/root:/bin/bash\n')
  writeFileSync(join(dir, 'keys.json'), '{"s3cret-key": [[1, 2]]}')
  writeFileSync(join(dir, 'a.yaml'), workflowWith('{ golden: notjson.txt }'))
  writeFileSync(join(dir, 'b.yaml'), workflowWith('{ golden: keys.json }').replace('workflow: w', 'workflow: w2').replace('name: a', 'name: b'))
  const r = loadWorkflows(dir, {})
  assert.deepEqual(r.errors, [
    `a.yaml:6:23 tasks.0.filter.golden: golden JSON ${dir}/notjson.txt is not valid JSON`,
    `b.yaml:6:23 tasks.0.filter.golden: golden JSON ${dir}/keys.json is not a certification file (expected {"<run>": [[first_ls, last_ls], ...]})`
  ])
})

test('a golden file outside the workflow and real-data directories is refused before it is read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  writeFileSync(join(dir, 'a.yaml'), workflowWith('{ golden: /etc/passwd }'))
  const errors = loadWorkflows(dir, { AUTOCAL_REALDATA_DIR: realdataDir }).errors
  assert.deepEqual(errors, ['a.yaml:6:23 tasks.0.filter.golden: the golden JSON must lie in the workflow directory or the real-data directory (AUTOCAL_REALDATA_DIR)'])
})

test('a symbolic link inside the workflow directory to a file or directory outside it is refused as golden, with file:line, echoing nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  symlinkSync('/etc/passwd', join(dir, 'golden.json'))
  symlinkSync('/etc', join(dir, 'certs'))
  mkdirSync(join(dir, 'own'))
  writeFileSync(join(dir, 'own', 'golden.json'), '{"355100": [[1, 10]]}')
  symlinkSync(join(dir, 'own', 'golden.json'), join(dir, 'inside.json'))
  writeFileSync(join(dir, 'a.yaml'), workflowWith('{ golden: golden.json }'))
  writeFileSync(join(dir, 'b.yaml'), workflowWith('{ golden: certs/passwd }').replace('workflow: w', 'workflow: w2').replace('name: a', 'name: b'))
  writeFileSync(join(dir, 'c.yaml'), workflowWith('{ golden: inside.json }').replace('workflow: w', 'workflow: w3').replace('name: a', 'name: c'))
  const r = loadWorkflows(dir, { AUTOCAL_REALDATA_DIR: realdataDir })
  assert.deepEqual(r.errors, [
    'a.yaml:6:23 tasks.0.filter.golden: the golden JSON must lie in the workflow directory or the real-data directory (AUTOCAL_REALDATA_DIR)',
    'b.yaml:6:23 tasks.0.filter.golden: the golden JSON must lie in the workflow directory or the real-data directory (AUTOCAL_REALDATA_DIR)'
  ])
  assert.doesNotMatch(r.errors.join('\n'), /root:/)
  assert.deepEqual([...r.golden.keys()], [join(dir, 'inside.json')], 'a link that stays inside is followed')
})

// `autocal workflows validate DIR` offline: the command an operator runs, with a secret in its environment.
function validateOffline (dir: string): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise(resolve => {
    execFile(process.execPath, [join(repo, 'packages/cli/src/main.ts'), 'workflows', 'validate', dir], { env: { ...process.env, AUTOCAL_CONTROL_TOKENS: '{"s3cret-admin":{"principal":"root"}}' } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

test('autocal workflows validate (offline) refuses /etc/passwd as golden and an alias bomb with file:line, echoing nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  writeFileSync(join(dir, 'golden.yaml'), workflowWith('{ golden: /etc/passwd }').replace('run: [x]', 'run: [x]\n    when: { http: "${AUTOCAL_CONTROL_TOKENS}" }'))
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]']
  for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g', 'h'].entries()) bomb.push(`${name}: &${name} [${Array(9).fill(`*${'abcdefg'[i] as string}`).join(', ')}]`)
  writeFileSync(join(dir, 'bomb.yaml'), bomb.join('\n') + '\n')
  const r = await validateOffline(dir)
  assert.equal(r.code, 1)
  assert.doesNotMatch(r.stdout + r.stderr, /s3cret|root:x|\n\s+at /)
  assert.match(r.stderr, /bomb\.yaml:2:8 \(yaml\): too many alias expansions \(more than 100\)/)
  assert.match(r.stderr, /golden\.yaml:7:23 tasks\.0\.filter\.golden: the golden JSON must lie in the workflow directory/)
  assert.match(r.stderr, /golden\.yaml:6:\d+ tasks\.0\.when\.http: environment variable AUTOCAL_CONTROL_TOKENS may not be used in a workflow/)
})

test('a workflow directory that does not exist is an error naming it', () => {
  const missing = join(tmpdir(), 'autocal-no-such-workflows')
  assert.throws(() => loadWorkflows(missing, {}), { message: `${missing}: no such workflow file or directory` })
})

test('a script under {workflowDir} is looked for in the workflow directory; a missing one is an error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-'))
  mkdirSync(join(dir, 'scripts'))
  writeFileSync(join(dir, 'scripts', 'reco.py'), '')
  mkdirSync(join(dir, 'scripts', 'calib.py')) // a directory is not a script
  writeFileSync(join(dir, 'w.yaml'), 'subsystem: ECAL\nworkflow: w\ntasks:\n  - name: a\n    run: [python3, "{workflowDir}/scripts/reco.py"]\n  - name: b\n    run: [python3, "{workflowDir}/scripts/calib.py"]\n')
  const r = loadWorkflows(dir, {})
  assert.deepEqual(r.errors, ['w.yaml:7:20 tasks.1.run.1: {workflowDir}/scripts/calib.py: no file scripts/calib.py in the workflow directory'])
})

test('a workflow directory\'s *.yaml entries that are no regular file inside it are refused, each named, without reading them', () => {
  // a named pipe would block the reading process for ever (a reviewer froze the dispatcher's hot reload with one)
  const dir = mkdtempSync(join(tmpdir(), 'autocal-wf-entries-'))
  writeFileSync(join(dir, 'good.yaml'), 'subsystem: ECAL\nworkflow: good\ntasks:\n  - name: a\n    run: [x]\n')
  execFileSync('mkfifo', [join(dir, 'pipe.yaml')])
  mkdirSync(join(dir, 'folder.yaml'))
  symlinkSync(join(dir, 'gone'), join(dir, 'dangling.yaml'))
  symlinkSync('/etc/hostname', join(dir, 'outside.yaml'))
  symlinkSync(join(dir, 'good.yaml'), join(dir, 'inside.yaml'))
  assert.throws(() => readWorkflowSources(dir), (err: Error) => {
    assert.deepEqual(err.message.split('\n'), [
      'dangling.yaml: a symbolic link to nothing: not a workflow file',
      'folder.yaml: not a regular file (a directory named .yaml is not read)',
      'outside.yaml: a symbolic link out of the workflow directory is not read',
      'pipe.yaml: not a regular file (a named pipe named .yaml is not read)'
    ])
    return true
  })
  const clean = mkdtempSync(join(tmpdir(), 'autocal-wf-entries-'))
  writeFileSync(join(clean, 'good.yaml'), 'subsystem: ECAL\nworkflow: good\ntasks:\n  - name: a\n    run: [x]\n')
  symlinkSync(join(clean, 'good.yaml'), join(clean, 'inside.yaml'))
  assert.deepEqual(readWorkflowSources(clean).map(s => s.name.slice(clean.length + 1)), ['good.yaml', 'inside.yaml'], 'a link inside the directory is read')
})
