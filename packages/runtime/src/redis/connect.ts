// The Redis connection of a service. Redis holds only what can be rebuilt
// from Kafka (locks, leases, timers, dedup keys, read models).
import { readFileSync } from 'node:fs'
import { Redis, type RedisOptions } from 'ioredis'
import { secretOf } from '../config.ts'
import type { Logger } from '../logger.ts'
import type { Check } from '../http.ts'

export interface RedisConfig {
  AUTOCAL_REDIS_URL: string
  AUTOCAL_REDIS_KEY_PREFIX: string
  AUTOCAL_REDIS_USERNAME?: string | undefined
  AUTOCAL_REDIS_PASSWORD?: string | undefined
  AUTOCAL_REDIS_PASSWORD_FILE?: string | undefined
  AUTOCAL_REDIS_TLS_CA_FILE?: string | undefined
  AUTOCAL_REDIS_TLS_CERT_FILE?: string | undefined
  AUTOCAL_REDIS_TLS_KEY_FILE?: string | undefined
}

/**
 * The ioredis options for AUTH (ACL user + password, or the default user's
 * password) and TLS (a rediss:// URL; CA and client certificate from files).
 * loadConfig has checked that the keys hold together.
 */
export function redisSecurity (config: RedisConfig): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const out: Pick<RedisOptions, 'username' | 'password' | 'tls'> = {}
  const password = secretOf(config.AUTOCAL_REDIS_PASSWORD, config.AUTOCAL_REDIS_PASSWORD_FILE)
  if (config.AUTOCAL_REDIS_USERNAME !== undefined) out.username = config.AUTOCAL_REDIS_USERNAME
  if (password !== undefined) out.password = password
  if (config.AUTOCAL_REDIS_URL.startsWith('rediss://')) {
    const { AUTOCAL_REDIS_TLS_CA_FILE: ca, AUTOCAL_REDIS_TLS_CERT_FILE: cert, AUTOCAL_REDIS_TLS_KEY_FILE: key } = config
    out.tls = {
      rejectUnauthorized: true,
      ...(ca === undefined ? {} : { ca: [readFileSync(ca, 'utf8')] }),
      ...(cert === undefined || key === undefined ? {} : { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') })
    }
  }
  return out
}

export interface RedisHandle extends AsyncDisposable {
  client: Redis
  /** A key under this deployment's prefix: key('lease', 'job', id) → "autocal:lease:job:<id>". */
  key: (...parts: Array<string | number>) => string
  check: Check
}

export async function connectRedis (options: { config: RedisConfig, logger: Logger }): Promise<RedisHandle> {
  const { config, logger } = options
  const log = logger.child({ component: 'redis' })
  const client = new Redis(config.AUTOCAL_REDIS_URL, {
    ...redisSecurity(config),
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    // commands issued in the same tick go out in one write: with many tasks
    // in flight this cuts the socket writes, the dominant cost on small hosts
    enableAutoPipelining: true,
    retryStrategy: times => Math.min(times * 200, 2000)
  })
  let lastError: string | undefined
  client.on('error', (err: Error) => {
    if (lastError !== err.message) log.warn({ err }, 'redis connection error')
    lastError = err.message
  })
  client.on('ready', () => { lastError = undefined })
  await client.connect()
  const prefix = config.AUTOCAL_REDIS_KEY_PREFIX
  return {
    client,
    key: (...parts) => prefix + parts.join(':'),
    check: {
      name: 'redis',
      check: async () => {
        const pong = await client.ping()
        if (pong !== 'PONG') throw new Error(`redis answered ${pong}`)
      }
    },
    [Symbol.asyncDispose]: async () => {
      await client.quit().catch(() => client.disconnect())
    }
  }
}
