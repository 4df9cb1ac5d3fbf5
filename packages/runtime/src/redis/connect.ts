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
  AUTOCAL_REDIS_SENTINELS?: string | undefined
  AUTOCAL_REDIS_SENTINEL_NAME?: string | undefined
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

/**
 * Where the client connects: AUTOCAL_REDIS_URL's host, or, with
 * AUTOCAL_REDIS_SENTINELS and AUTOCAL_REDIS_SENTINEL_NAME, the primary the
 * Sentinels name (ioredis asks them at each (re)connection and checks the
 * role of the server it reaches). TLS (rediss://) then also applies to the
 * Sentinels. Returns the ioredis options (without AUTH/TLS: redisSecurity).
 * Throws on a Sentinel list without a name (loadConfig refuses it first).
 */
export function redisTarget (config: RedisConfig): RedisOptions {
  const url = new URL(config.AUTOCAL_REDIS_URL)
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0
  if (config.AUTOCAL_REDIS_SENTINELS === undefined) {
    return { host: url.hostname, port: url.port === '' ? 6379 : Number(url.port), db, ...credentialsOf(url) }
  }
  const name = config.AUTOCAL_REDIS_SENTINEL_NAME
  if (name === undefined) throw new Error('AUTOCAL_REDIS_SENTINELS is set without AUTOCAL_REDIS_SENTINEL_NAME')
  const sentinels = config.AUTOCAL_REDIS_SENTINELS.split(',').map(hostPort => {
    const at = hostPort.lastIndexOf(':')
    return { host: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) }
  })
  const tls = url.protocol === 'rediss:'
  // failoverDetector: reconnect on the Sentinels' +switch-master at once, not
  // only when the old primary drops the connection or answers READONLY
  return { sentinels, name, db, failoverDetector: true, ...credentialsOf(url), ...(tls ? { enableTLSForSentinelMode: true } : {}) }
}

// user:password in the URL (redis://user:pass@host), as ioredis reads them
function credentialsOf (url: URL): Pick<RedisOptions, 'username' | 'password'> {
  return {
    ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
    ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) })
  }
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
  const security = redisSecurity(config)
  const client = new Redis({
    ...redisTarget(config),
    ...security,
    // TLS to the Sentinels too, with the same CA and client certificate
    ...(config.AUTOCAL_REDIS_SENTINELS !== undefined && security.tls !== undefined ? { sentinelTLS: security.tls } : {}),
    // after a failover the old primary answers writes with READONLY until the
    // client reconnects (to the new primary, through the Sentinels): reconnect
    // and send the command again instead of failing it
    reconnectOnError: err => err.message.startsWith('READONLY') ? 2 : false,
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
      // QUIT only on a live connection: on a lost one it would wait in the
      // offline queue for a reconnection that may never come
      if (client.status !== 'ready') { client.disconnect(); return }
      await client.quit().catch(() => undefined)
      // and the connector's own connections (the Sentinels' failover detector)
      client.disconnect()
    }
  }
}
