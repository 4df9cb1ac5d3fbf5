// A secure Kafka + Redis pair of the test's own (deploy/local/servers.sh
// --secure on spare ports, state in a temporary directory), for the tests
// that need the servers' authentication and ACLs whatever servers the rest of
// the suite runs on. Stopped and removed by its dispose.
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseEnv, promisify } from 'node:util'
import { freePort } from '../../../test/helpers/free-port.ts'

const run = promisify(execFile)
const servers = new URL('../../../deploy/local/servers.sh', import.meta.url).pathname

export interface SecureServers extends AsyncDisposable {
  /** The admin principal's connection keys (the servers' client.env). */
  env: Record<string, string>
  /** The connection keys of a service principal (its own SCRAM and Redis users). */
  envOf: (principal: string) => Record<string, string>
}

export async function startSecureServers (): Promise<SecureServers> {
  const state = mkdtempSync(join(tmpdir(), 'autocal-secure-'))
  const env = {
    ...process.env,
    AUTOCAL_STATE_DIR: state,
    AUTOCAL_KAFKA_PORT: String(await freePort()),
    AUTOCAL_KAFKA_CONTROLLER_PORT: String(await freePort()),
    AUTOCAL_REDIS_PORT: String(await freePort()),
    AUTOCAL_SECURE: '1',
    // servers.sh applies the ACLs with this Node
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`
  }
  const stop = async (): Promise<void> => {
    await run('bash', [servers, 'stop'], { env }).catch(() => undefined)
    rmSync(state, { recursive: true, force: true })
  }
  try {
    await run('bash', [servers, 'start'], { env, timeout: 240_000 })
  } catch (err) {
    await stop()
    throw err
  }
  const client = parseEnv(readFileSync(join(state, 'client.env'), 'utf8')) as Record<string, string>
  const secrets = join(state, 'secure', 'secrets')
  return {
    env: client,
    envOf: principal => ({
      ...client,
      AUTOCAL_KAFKA_USERNAME: principal,
      AUTOCAL_KAFKA_PASSWORD_FILE: join(secrets, `kafka-${principal}`),
      AUTOCAL_REDIS_USERNAME: principal,
      AUTOCAL_REDIS_PASSWORD_FILE: join(secrets, `redis-${principal}`)
    }),
    [Symbol.asyncDispose]: stop
  }
}
