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

/** A consumer group and the topics it consumes, both named as on the broker (prefix included). */
export interface GroupTopics { group: string, topics: string[] }

/**
 * A probe for "the system is at rest", the positive fact that replaces a
 * sleep before asserting that nothing more happens: each call resolves true
 * when every group has handled every message of its topics (handledEverything)
 * and no topic's end offsets moved since the previous call, so nothing was
 * produced in between. The first call is always false (nothing to compare
 * with): poll it with until(), with a period longer than the services' own
 * reaction time (e.g. 500 ms).
 */
export function restProbe (admin: Admin, groups: GroupTopics[]): () => Promise<boolean> {
  const topicNames = [...new Set(groups.flatMap(g => g.topics))].sort()
  let previous = ''
  return async () => {
    const ends = JSON.stringify(await Promise.all(topicNames.map(async t => (await admin.fetchTopicOffsets(t)).map(e => [e.partition, e.high]))))
    const moved = ends !== previous
    previous = ends
    if (moved) return false
    for (const g of groups) {
      for (const t of g.topics) if (!await handledEverything(admin, g.group, t)) return false
    }
    return true
  }
}
