// A positive fact for tests that must show "nothing more happened": a
// consumer group has committed past every message its topic holds now, so
// each of them was handled (commit-after-success), the last one included.
// Waiting for this, then asserting, replaces a fixed sleep.
import type { Admin } from 'kafkajs'

/**
 * True when `groupId` has committed, on every partition of `topic` that holds
 * messages, an offset at or past the partition's end as it is now. Offsets
 * read with admin.fetchTopicOffsets / admin.fetchOffsets (names as on the broker, prefix included).
 */
export async function handledEverything (admin: Admin, groupId: string, topic: string): Promise<boolean> {
  const ends = await admin.fetchTopicOffsets(topic)
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
  const at = new Map((committed?.partitions ?? []).map(p => [p.partition, BigInt(p.offset)]))
  return ends.every(e => BigInt(e.high) === BigInt(e.low) || (at.get(e.partition) ?? -1n) >= BigInt(e.high))
}
