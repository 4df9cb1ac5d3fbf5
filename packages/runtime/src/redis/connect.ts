// The Redis connection of a service. Redis holds only what can be rebuilt
// from Kafka (locks, leases, timers, dedup keys, read models).
import { Redis } from 'ioredis'
import type { Logger } from '../logger.ts'
import type { Check } from '../http.ts'

export interface RedisConfig {
  AUTOCAL_REDIS_URL: string
  AUTOCAL_REDIS_KEY_PREFIX: string
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
