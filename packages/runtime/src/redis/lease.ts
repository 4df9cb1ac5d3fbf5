// A lease: exclusive ownership of a name for a limited time. Acquired with
// SET NX PX and a random token; extended and released only by the holder
// (Lua compare-and-extend / compare-and-delete), so an expired holder can
// never release or extend a lease that someone else took over.
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { RedisHandle } from './connect.ts'

const extendScript = 'if redis.call(\'get\', KEYS[1]) == ARGV[1] then return redis.call(\'pexpire\', KEYS[1], ARGV[2]) else return 0 end'
const releaseScript = 'if redis.call(\'get\', KEYS[1]) == ARGV[1] then return redis.call(\'del\', KEYS[1]) else return 0 end'

export class Lease {
  readonly key: string
  readonly token: string
  readonly #client: Redis

  constructor (client: Redis, key: string, token: string) {
    this.#client = client
    this.key = key
    this.token = token
  }

  /** Extends the lease; false when it was lost (expired and maybe taken by another holder). */
  async extend (ttlMs: number): Promise<boolean> {
    return (await this.#client.eval(extendScript, 1, this.key, this.token, String(ttlMs))) === 1
  }

  /** Releases the lease; false when it was no longer ours. */
  async release (): Promise<boolean> {
    return (await this.#client.eval(releaseScript, 1, this.key, this.token)) === 1
  }

  async held (): Promise<boolean> {
    return (await this.#client.get(this.key)) === this.token
  }
}

/** Takes the lease on `name` for ttlMs, or returns null when someone else holds it. */
export async function acquireLease (redis: RedisHandle, name: string, ttlMs: number, token: string = randomUUID()): Promise<Lease | null> {
  const key = redis.key('lease', name)
  const ok = await redis.client.set(key, token, 'PX', ttlMs, 'NX')
  return ok === 'OK' ? new Lease(redis.client, key, token) : null
}

/** The holder's token of a lease, or null when free. */
export async function leaseHolder (redis: RedisHandle, name: string): Promise<string | null> {
  return await redis.client.get(redis.key('lease', name))
}
