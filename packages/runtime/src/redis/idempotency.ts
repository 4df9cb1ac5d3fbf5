// Idempotency: remember that an event (or any effect id) was handled, so a
// redelivery does nothing twice.
import type { RedisHandle } from './connect.ts'

/**
 * Marks `id` as seen and tells whether it had been seen before. Atomic (SET NX),
 * so of two consumers racing on the same id exactly one gets false.
 */
export async function seenBefore (redis: RedisHandle, id: string, ttlSeconds = 7 * 24 * 3600): Promise<boolean> {
  const ok = await redis.client.set(redis.key('seen', id), '1', 'EX', ttlSeconds, 'NX')
  return ok !== 'OK'
}

/** Forgets `id`, e.g. when the effect it guarded failed and must be retried. */
export async function forget (redis: RedisHandle, id: string): Promise<void> {
  await redis.client.del(redis.key('seen', id))
}
