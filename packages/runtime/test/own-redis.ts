// A Redis server of the test's own (own port, own state directory), started
// and stopped through deploy/local/servers.sh: outage tests stop it, never the
// shared one.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const servers = new URL('../../../deploy/local/servers.sh', import.meta.url).pathname
const run = promisify(execFile)

/** A free TCP port on 127.0.0.1 (bound once and released). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

export interface OwnRedis extends AsyncDisposable {
  url: string
  port: number
  start: () => Promise<void>
  stop: () => Promise<void>
}

/** Starts a Redis of the test's own; `stop`/`start` toggle it (started empty: no persistence). */
export async function startOwnRedis (): Promise<OwnRedis> {
  const port = await freePort()
  const state = mkdtempSync(join(tmpdir(), 'autocal-redis-'))
  const env = { ...process.env, AUTOCAL_STATE_DIR: state, AUTOCAL_REDIS_PORT: String(port) }
  const start = async (): Promise<void> => { await run('bash', [servers, 'start', 'redis'], { env }) }
  const stop = async (): Promise<void> => { await run('bash', [servers, 'stop', 'redis'], { env }) }
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop()
      rmSync(state, { recursive: true, force: true })
    }
  }
}
