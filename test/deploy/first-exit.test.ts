// The launcher (deploy/local/system.ts) stops the system when one service
// exits. A service that died while the next ones were starting (its 'exit'
// already emitted) was never noticed: the system printed "autocal is up" and
// ran on without it (seen: the task-dispatcher crashed at start, the four
// others ran on).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { firstExit } from '../../deploy/local/system.ts'

test('a service that exited before the launcher watches is reported at once; a later exit is reported too', async (t) => {
  const dead = spawn(process.execPath, ['-e', 'process.exit(3)'])
  await once(dead, 'exit')
  const alive = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
  t.after(() => { alive.kill('SIGKILL') })
  assert.equal(await firstExit([{ name: 'metrics', process: alive }, { name: 'task-dispatcher', process: dead }]), 'task-dispatcher exited with code 3')
  const watching = firstExit([{ name: 'metrics', process: alive }])
  alive.kill('SIGKILL')
  assert.equal(await watching, 'metrics exited with code SIGKILL')
})
