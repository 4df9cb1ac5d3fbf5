// bin/autocal works from a fresh shell: no Node 24 on PATH, not in the
// repository folder, no sourced toolchain — it finds Node 24 itself.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const repoRoot = new URL('../..', import.meta.url).pathname
const freshShell = { HOME: process.env.HOME ?? '/root', PATH: '/usr/local/bin:/usr/bin:/bin' }

test('bin/autocal runs the CLI with Node 24 from a fresh shell in another folder', () => {
  const out = spawnSync('bash', ['-c', `${join(repoRoot, 'bin/autocal')} --help`], { cwd: tmpdir(), env: freshShell, encoding: 'utf8' })
  assert.equal(out.status, 0, out.stderr)
  assert.match(out.stdout, /^usage: autocal <command>/)
})

test('bin/autocal on PATH through a symlink (as a user links it) is the same CLI, and its errors still say what was wrong', () => {
  const dir = mkdtempSync(join(tmpdir(), 'autocal-bin-'))
  symlinkSync(join(repoRoot, 'bin/autocal'), join(dir, 'autocal'))
  const out = spawnSync('bash', ['-c', 'autocal no-such-command'], { cwd: dir, env: { ...freshShell, PATH: `${dir}:${freshShell.PATH}` }, encoding: 'utf8' })
  assert.notEqual(out.status, 0)
  assert.match(out.stderr, /no-such-command/)
})
