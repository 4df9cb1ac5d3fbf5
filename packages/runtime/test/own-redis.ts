// A Redis server of the test's own (own port, own state directory), started
// and stopped through deploy/local/servers.sh: outage tests stop it, never the
// shared one.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from '../../../test/helpers/free-port.ts'

const servers = new URL('../../../deploy/local/servers.sh', import.meta.url).pathname
const run = promisify(execFile)

export interface OwnRedis extends AsyncDisposable {
  url: string
  /**
   * Config keys that point a client at this server: its URL, and the Redis
   * security keys of the test run's environment emptied (empty = unset): this
   * server is plaintext without AUTH, whatever the suite's shared servers are.
   */
  config: Record<string, string>
  port: number
  start: () => Promise<void>
  stop: () => Promise<void>
}

/** Starts a Redis of the test's own; `stop`/`start` toggle it (started empty: no persistence). */
export async function startOwnRedis (): Promise<OwnRedis> {
  const port = await freePort()
  const state = mkdtempSync(join(tmpdir(), 'autocal-redis-'))
  // plaintext whatever the suite runs on (test/run.sh exports AUTOCAL_SECURE=1 for its shared servers)
  const env = { ...process.env, AUTOCAL_SECURE: '0', AUTOCAL_STATE_DIR: state, AUTOCAL_REDIS_PORT: String(port) }
  const start = async (): Promise<void> => { await run('bash', [servers, 'start', 'redis'], { env }) }
  const stop = async (): Promise<void> => { await run('bash', [servers, 'stop', 'redis'], { env }) }
  await start()
  const url = `redis://127.0.0.1:${port}`
  return {
    url,
    config: {
      AUTOCAL_REDIS_URL: url,
      AUTOCAL_REDIS_USERNAME: '',
      AUTOCAL_REDIS_PASSWORD: '',
      AUTOCAL_REDIS_PASSWORD_FILE: '',
      AUTOCAL_REDIS_TLS_CA_FILE: '',
      AUTOCAL_REDIS_TLS_CERT_FILE: '',
      AUTOCAL_REDIS_TLS_KEY_FILE: ''
    },
    port,
    start,
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop()
      rmSync(state, { recursive: true, force: true })
    }
  }
}
