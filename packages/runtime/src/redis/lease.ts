// A lease: exclusive ownership of a name for a limited time. Acquired with
// SET NX PX and a random token; extended and released only by the holder
// (Lua compare-and-extend / compare-and-delete), so an expired holder can
// never release or extend a lease that someone else took over. keepLease
// extends one while work is in flight.
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { AutocalError } from '../errors.ts'
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

/** A lease kept alive while work is in flight (keepLease). */
export interface LeaseKeeper extends AsyncDisposable {
  /** Aborted, with an AUTOCAL_LEASE_LOST error as its reason, once the lease is lost. */
  readonly signal: AbortSignal
  /** Throws AUTOCAL_LEASE_LOST (retryable) when the lease was lost: call it before each effect the lease guards. */
  check: () => void
  /** Stops extending (the lease itself is neither released nor checked). */
  stop: () => Promise<void>
}

/**
 * Extends `lease` to `ttlMs` every `ttlMs / 3` until stopped, so that work
 * slower than the lease's TTL keeps it. The lease is lost when an extension
 * finds another holder (or none), or when no extension succeeded for
 * `ttlMs` (e.g. Redis unreachable: the key may have expired meanwhile);
 * then `signal` aborts and `check()` throws AUTOCAL_LEASE_LOST (retryable).
 * The holder still checks the lease where it writes (a fenced write: Lua
 * compare on the token, as `Lease.extend` does), since a process paused
 * longer than the TTL cannot extend in time.
 */
export function keepLease (lease: Lease, ttlMs: number, now: () => number = Date.now): LeaseKeeper {
  const controller = new AbortController()
  const lose = (why: string): void => {
    if (!controller.signal.aborted) controller.abort(new AutocalError('AUTOCAL_LEASE_LOST', `lease ${lease.key} lost: ${why}`, { retryable: true }))
  }
  let lastOk = now()
  let timer: NodeJS.Timeout | undefined
  let inFlight: Promise<void> = Promise.resolve()
  let stopped = false
  const everyMs = Math.max(1, Math.floor(ttlMs / 3))
  const tick = (): void => {
    inFlight = lease.extend(ttlMs).then(
      ok => { if (ok) lastOk = now(); else lose('held by another holder or expired') },
      (err: unknown) => { if (now() - lastOk >= ttlMs) lose(`not extended for ${ttlMs} ms (${(err as Error).message})`) }
    ).finally(() => {
      if (!stopped && !controller.signal.aborted) timer = setTimeout(tick, everyMs).unref()
    })
  }
  timer = setTimeout(tick, everyMs).unref()
  const stop = async (): Promise<void> => {
    stopped = true
    clearTimeout(timer)
    await inFlight
  }
  return {
    signal: controller.signal,
    check: () => { if (controller.signal.aborted) throw controller.signal.reason },
    stop,
    [Symbol.asyncDispose]: stop
  }
}
