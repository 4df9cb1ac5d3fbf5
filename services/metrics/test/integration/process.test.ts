// The service as its own process, the way the system starts it: it becomes
// ready, serves the dashboard and stops cleanly (exit 0) on SIGTERM.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { cleanUp, quietLogger, testConfig, until } from './fixtures.ts'

test('node src/index.ts becomes ready, serves the dashboard and exits 0 on SIGTERM', async t => {
  const config = testConfig()
  const child = spawn(process.execPath, ['src/index.ts'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: {
      ...process.env,
      AUTOCAL_KAFKA_TOPIC_PREFIX: config.AUTOCAL_KAFKA_TOPIC_PREFIX,
      AUTOCAL_REDIS_KEY_PREFIX: config.AUTOCAL_REDIS_KEY_PREFIX,
      AUTOCAL_HTTP_PORT: '0',
      AUTOCAL_LOG_LEVEL: 'info'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  let url: string | undefined
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  let pending = ''
  child.stdout.on('data', (c: Buffer) => {
    pending += c.toString()
    const lines = pending.split('\n')
    pending = lines.pop() ?? ''
    for (const line of lines) {
      const entry = JSON.parse(line) as { msg?: string, url?: string }
      if (entry.msg === 'metrics service listening') url = entry.url
    }
  })
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    await cleanUp(config, quietLogger())
  })
  await until('listening', () => url !== undefined, 60_000)
  const base = url as string
  await until('ready', async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200, 60_000)
  const page = await fetch(`${base}/`)
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8')
  assert.match(await page.text(), /new EventSource\('\/api\/v1\/events'\)/)
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const [code] = await exited
  assert.equal(code, 0, stderr)
})
